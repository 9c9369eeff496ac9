from pathlib import Path

import pytest

from llmrec_cli.errors import LLMRecError
from llmrec_cli.workdir import Workdir


def test_every_artifact_kind_has_its_folder(tmp_path):
    wd = Workdir(tmp_path)
    assert wd.data("demo") == tmp_path / "data" / "demo"
    assert wd.profiles("demo", "rlmrec-gpt35") == tmp_path / "profiles" / "demo" / "rlmrec-gpt35"
    assert wd.embeddings("demo") == tmp_path / "embeddings" / "demo"
    assert wd.run("demo-lightgcn-none-s1") == tmp_path / "runs" / "demo-lightgcn-none-s1"
    assert Workdir.of(wd) is wd and Workdir.of(str(tmp_path)) == wd


@pytest.mark.parametrize("name", ["../x", "/etc", "a/b", "", ".."])
def test_a_name_never_leaves_its_folder(tmp_path, name):
    with pytest.raises(LLMRecError, match="--run-id"):
        Workdir(tmp_path).run(name)


def test_find_takes_a_folder_as_given_before_a_name(tmp_path):
    wd = Workdir(tmp_path / "work")
    (tmp_path / "work" / "embeddings" / "demo" / "minilm").mkdir(parents=True)
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    assert wd.find(str(elsewhere), "embeddings", "demo") == elsewhere
    assert wd.find("minilm", "embeddings", "demo") == tmp_path / "work" / "embeddings" / "demo" / "minilm"


def test_find_names_what_is_missing_and_the_fix(tmp_path):
    wd = Workdir(tmp_path)
    with pytest.raises(
        LLMRecError, match=r"--embeddings nope: no such embeddings folder nor .*embeddings/demo/nope; run"
    ):
        wd.find("nope", "embeddings", "demo", "--embeddings", "run `llmrec embed`")
    with pytest.raises(LLMRecError, match=r"^/no/such/run: no such run folder$"):
        wd.find("/no/such/run", "runs")


def test_containing_finds_the_root_of_a_layout_folder_and_none_elsewhere(tmp_path):
    root = tmp_path / "work"
    assert Workdir.containing(root / "embeddings" / "demo" / "minilm") == Workdir(root)
    assert Workdir.containing(root / "profiles" / "demo" / "demo@1") == Workdir(root)
    assert Workdir.containing(root / "data" / "demo") == Workdir(root)
    assert Workdir.containing(root / "runs" / "demo-lightgcn-none-s1") == Workdir(root)
    assert Workdir.containing(tmp_path / "datasets" / "demo" / "embeddings" / "minilm") is None  # shipped layout


def test_relocate_maps_a_recorded_layout_file_into_this_workdir(tmp_path):
    wd = Workdir(tmp_path / "copy")
    assert wd.relocate("/old/work/profiles/demo/demo@1/items.parquet") == wd.root / "profiles/demo/demo@1/items.parquet"
    assert wd.relocate("/old/work/data/demo/train.parquet") == wd.root / "data/demo/train.parquet"
    assert wd.relocate("/old/work/runs/r1/users.parquet") == wd.root / "runs/r1/users.parquet"
    assert wd.relocate("/raw/steam/games.json") == Path("/raw/steam/games.json")  # outside any layout: as recorded
