"""`profile --import`: profiles written elsewhere become the profile contract, keyed by the dataset's dense ids."""

from __future__ import annotations

import pickle

import polars as pl
import pytest

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile import importer


def _raw(tiny, entity: str) -> list[str]:
    return pl.read_parquet(tiny / "data" / "tiny" / f"{entity}s.parquet")["raw_id"].to_list()


def _write_dense(folder, n_users: int = 30, n_items: int = 20) -> None:
    folder.mkdir(exist_ok=True)
    pl.DataFrame(
        {
            "user_id": list(range(n_users)),
            "summarization": [f"user {u} likes RPGs" for u in range(n_users)],
            "reasoning": ["r"] * n_users,
        }
    ).write_parquet(folder / "users.parquet")
    pl.DataFrame(
        {"item_id": list(range(n_items)), "summarization": [f"item {i}" for i in range(n_items)]}
    ).write_parquet(folder / "items.parquet")


def _run(tiny, **kw) -> importer.ImportResult:
    return importer.run(importer.ImportRequest(dataset="tiny", model="gpt-3.5-turbo (test)", **kw), tiny)


def test_dense_ids_from_a_folder_give_the_profile_contract(tiny, tmp_path):
    _write_dense(tmp_path / "src")
    result = _run(tiny, source=tmp_path / "src")
    users = artifacts.read_parquet(result.folder / "users.parquet", artifacts.profiles_schema("user"))
    assert users["user_id"].to_list() == list(range(30))
    assert users["summarization"][7] == "user 7 likes RPGs" and users["model"][0] == "gpt-3.5-turbo (test)"
    items = artifacts.read_parquet(result.folder / "items.parquet", artifacts.profiles_schema("item"))
    assert items["reasoning"].to_list() == [""] * 20  # optional column
    manifest = artifacts.read_manifest(result.folder)
    assert manifest["model"] == "gpt-3.5-turbo (test)" and manifest["counts"]["users"]["coverage"] == 1.0
    assert any(p.endswith("src/users.parquet") and len(v["sha256"]) == 64 for p, v in manifest["inputs"].items())
    assert _run(tiny, source=tmp_path / "src").up_to_date  # same inputs: a no-op


def test_raw_ids_are_matched_through_the_dataset(tiny, tmp_path):
    raw_users, raw_items = _raw(tiny, "user"), _raw(tiny, "item")
    (tmp_path / "src").mkdir()
    # rows in reverse order, raw ids only: the import puts them on their dense ids
    pl.DataFrame({"raw_id": raw_users[::-1], "summarization": [f"about {r}" for r in raw_users[::-1]]}).write_csv(
        tmp_path / "src" / "users.csv"
    )
    pl.DataFrame({"original_id": raw_items, "profile": [f"about {r}" for r in raw_items]}).write_ndjson(
        tmp_path / "src" / "items.jsonl"
    )
    result = _run(tiny, source=tmp_path / "src")
    users = pl.read_parquet(result.folder / "users.parquet")
    assert users["summarization"].to_list() == [f"about {r}" for r in raw_users]
    items = pl.read_parquet(result.folder / "items.parquet")
    assert items["summarization"][3] == f"about {raw_items[3]}"


def test_csv_with_quoted_newlines(tiny, tmp_path):
    _write_dense(tmp_path / "src")
    (tmp_path / "src" / "users.parquet").unlink()
    lines = ["user_id,summarization"] + [f'{u},"line one of {u}\nline, two"' for u in range(30)]
    (tmp_path / "src" / "users.csv").write_text("\n".join(lines) + "\n")
    users = pl.read_parquet(_run(tiny, source=tmp_path / "src").folder / "users.parquet")
    assert users["summarization"][4] == "line one of 4\nline, two"


def test_plain_data_pickle_as_rlmrec_ships_it(tiny, tmp_path):
    users = {u: {"profile": f"user {u}", "reasoning": f"why {u}"} for u in range(30)}
    items = {i: {"profile": f"item {i}", "reasoning": ""} for i in range(20)}
    (tmp_path / "usr_prf.pkl").write_bytes(pickle.dumps(users))
    (tmp_path / "itm_prf.pkl").write_bytes(pickle.dumps(items))
    result = _run(tiny, users=tmp_path / "usr_prf.pkl", items=tmp_path / "itm_prf.pkl")
    table = pl.read_parquet(result.folder / "users.parquet")
    assert table["summarization"][29] == "user 29" and table["reasoning"][29] == "why 29"


class _Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickle_that_builds_an_object_is_refused_unrun(tiny, tmp_path, capsys):
    (tmp_path / "src").mkdir()
    _write_dense(tmp_path / "src")
    (tmp_path / "src" / "users.parquet").unlink()
    (tmp_path / "src" / "usr_prf.pkl").write_bytes(pickle.dumps({0: _Boom()}))
    with pytest.raises(LLMRecError, match=r"refused: this pickle would build builtins\.print"):
        _run(tiny, source=tmp_path / "src")
    assert "never run" not in capsys.readouterr().out


def test_missing_ids_are_an_error_with_count_and_examples_unless_partial(tiny, tmp_path):
    _write_dense(tmp_path / "src", n_users=25)
    with pytest.raises(
        LLMRecError, match=r"5 of 30 users have no profile \(e\.g\. user_id 25, 26, 27\).*--allow-partial"
    ):
        _run(tiny, source=tmp_path / "src")
    result = _run(tiny, source=tmp_path / "src", allow_partial=True)
    assert artifacts.read_manifest(result.folder)["counts"]["users"]["missing"] == 5


def test_missing_or_nan_raw_ids_are_refused_even_with_drop_unknown(tiny, tmp_path):
    """--drop-unknown drops ids of a larger catalogue; a row with no id at all is an error, not one more drop."""
    _write_dense(tmp_path / "src")
    raw = _raw(tiny, "item")
    pl.DataFrame({"raw_id": [*raw[:18], None, None], "summarization": [f"item {i}" for i in range(20)]}).write_parquet(
        tmp_path / "src" / "items.parquet"
    )
    with pytest.raises(
        LLMRecError, match=r"column 'raw_id': 2 of 20 rows have no id \(empty or NaN\) \(e\.g\. rows 18, 19"
    ):
        _run(tiny, source=tmp_path / "src", drop_unknown=True)


def test_dense_ids_that_are_not_whole_numbers_are_refused_not_truncated(tiny, tmp_path):
    _write_dense(tmp_path / "src")
    ids = [float(i) for i in range(20)]
    for bad, shown in ((2.5, "item_id 2.5"), (float("inf"), "item_id inf")):
        frame = pl.DataFrame({"item_id": [*ids[:2], bad, *ids[3:]], "summarization": ["x"] * 20})
        frame.write_parquet(tmp_path / "src" / "items.parquet")
        with pytest.raises(LLMRecError, match=rf"1 ids that are not whole numbers \(e\.g\. {shown}\)"):
            _run(tiny, source=tmp_path / "src")


def test_duplicate_ids_are_refused(tiny, tmp_path):
    _write_dense(tmp_path / "src")
    df = pl.read_parquet(tmp_path / "src" / "items.parquet")
    pl.concat([df, df.head(4)]).write_parquet(tmp_path / "src" / "items.parquet")
    with pytest.raises(LLMRecError, match=r"4 item_id values appear more than once \(e\.g\. 0, 1, 2\)"):
        _run(tiny, source=tmp_path / "src")


def test_ids_of_another_dataset_are_refused(tiny, tmp_path):
    _write_dense(tmp_path / "src", n_items=25)  # dense ids beyond this dataset's 20 items
    with pytest.raises(LLMRecError, match=r"5 ids outside 0\.\.19"):
        _run(tiny, source=tmp_path / "src")
    _write_dense(tmp_path / "src")
    pl.DataFrame({"raw_id": [f"B00{i}" for i in range(20)], "summarization": ["x"] * 20}).write_parquet(
        tmp_path / "src" / "items.parquet"
    )
    with pytest.raises(LLMRecError, match=r"20 raw ids not in the dataset \(e\.g\. raw_id 'B000', 'B001', 'B002'\)"):
        _run(tiny, source=tmp_path / "src")


def test_dense_and_raw_ids_must_agree(tiny, tmp_path):
    _write_dense(tmp_path / "src")
    raw = _raw(tiny, "item")
    pl.DataFrame(
        {"item_id": list(range(20)), "original_id": raw[1:] + raw[:1], "summarization": ["x"] * 20}
    ).write_parquet(tmp_path / "src" / "items.parquet")
    with pytest.raises(LLMRecError, match="disagrees with their raw id"):
        _run(tiny, source=tmp_path / "src")


def test_output_name_cannot_leave_the_workdir(tiny, tmp_path):
    _write_dense(tmp_path / "src")
    for bad in ("../x", "/tmp/x", "", "a/b"):
        with pytest.raises(LLMRecError, match="--name"):
            _run(tiny, source=tmp_path / "src", name=bad)


def test_cli_import_then_embed_takes_it(cli, tiny, tmp_path):
    _write_dense(tmp_path / "src")
    result = cli(
        "profile",
        "--dataset",
        "tiny",
        "--import",
        tmp_path / "src",
        "--model",
        "gpt-3.5-turbo (RLMRec)",
        "--name",
        "rlmrec",
        workdir=tiny,
    )
    assert result.code == 0, result.err
    assert "wrote" in result.out and "30" in result.out
    bad = cli("profile", "--dataset", "tiny", "--import", tmp_path / "nowhere", workdir=tiny)
    assert bad.code == 2 and "no such folder" in bad.err


def test_a_larger_catalogue_matched_by_raw_id_with_drop_unknown(tiny, tmp_path):
    _write_dense(tmp_path / "src")
    raw = _raw(tiny, "item")
    # another split's dense ids (shifted by 100) and 5 items this dataset does not have, as RLMRec's Steam items
    pl.DataFrame(
        {
            "item_id": [i + 100 for i in range(25)],
            "original_id": raw[::-1] + [f"x{i}" for i in range(5)],
            "summarization": [f"about {r}" for r in raw[::-1]] + ["foreign"] * 5,
        }
    ).write_parquet(tmp_path / "src" / "items.parquet")
    with pytest.raises(LLMRecError, match="outside 0..19"):
        _run(tiny, source=tmp_path / "src")
    with pytest.raises(LLMRecError, match=r"5 raw ids not in the dataset .*--drop-unknown"):
        _run(tiny, source=tmp_path / "src", match="raw")
    result = _run(tiny, source=tmp_path / "src", match="raw", drop_unknown=True)
    items = pl.read_parquet(result.folder / "items.parquet")
    assert items["summarization"].to_list() == [f"about {r}" for r in raw]
    assert artifacts.read_manifest(result.folder)["counts"]["items"]["dropped_unknown"] == 5


def test_raw_id_column_names_the_column_the_dataset_knows(tiny, tmp_path):
    _write_dense(tmp_path / "src")
    raw = _raw(tiny, "item")
    pl.DataFrame(
        {"item_id": raw + ["x1"], "original_id": ["p"] * 21, "summarization": [f"about {r}" for r in raw] + ["x"]}
    ).write_parquet(tmp_path / "src" / "items.parquet")
    result = _run(tiny, source=tmp_path / "src", raw_id_column="item_id", drop_unknown=True)
    assert pl.read_parquet(result.folder / "items.parquet")["summarization"][5] == f"about {raw[5]}"
    users = pl.read_parquet(result.folder / "users.parquet")  # a table without that column keeps its dense ids
    assert users["summarization"][5] == "user 5 likes RPGs"
