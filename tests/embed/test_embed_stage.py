"""`llmrec embed`: shapes and contract, determinism, --shuffle, missing profiles, the HTTP encoder, and the fit with
the RLMRec trainer. The local encoder is the real packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pytest

from llmrec_cli import artifacts
from llmrec_cli.embed import stage


def _vectors(folder, entity):
    df = artifacts.read_parquet(folder / f"{entity}s.parquet", artifacts.vectors_schema(entity))
    return df[artifacts.entity_id(entity)].to_numpy(), np.stack(df["vector"].to_numpy())


@pytest.fixture(scope="module")
def encoder():
    from llmrec_cli.embed.local import LocalEncoder

    return LocalEncoder()  # loaded once for the module: the slow part


def test_local_vectors_follow_the_contract_and_embed_the_summarization(profiled, encoder):
    result = stage.run(stage.EmbedRequest("tiny"), profiled, encoder=encoder)
    folder = profiled / "embeddings" / "tiny" / "all-minilm-l6-v2"
    assert result.folder == folder and not result.up_to_date
    ids, items = _vectors(folder, "item")
    uids, users = _vectors(folder, "user")
    assert items.shape == (20, 384) and users.shape == (30, 384) and items.dtype == np.float32
    assert ids.tolist() == list(range(20)) and uids.tolist() == list(range(30))
    assert pl.read_parquet(folder / "items.parquet").schema["vector"] == pl.Array(pl.Float32, 384)
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1.0, atol=1e-5)
    summaries = pl.read_parquet(profiled / "profiles" / "tiny" / "t@1" / "users.parquet")["summarization"].to_list()
    direct = encoder.encode([summaries[7]])[0]
    np.testing.assert_allclose(users[7], direct, atol=1e-5)  # row 7 is user 7's summarization, after length sorting
    np.testing.assert_allclose(items[5], encoder.encode(["None"])[0], atol=1e-5)  # the failed item: RLMRec's "None"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["dimension"] == 384 and manifest["embedded_text"] == "summarization"
    assert manifest["counts"]["items"] == {"vectors": 20, "missing_profiles": 1} and manifest["shuffle"] is None


def test_embedding_is_deterministic_and_up_to_date_on_rerun(profiled, encoder):
    first = stage.run(stage.EmbedRequest("tiny"), profiled, encoder=encoder)
    _, a = _vectors(first.folder, "user")
    assert stage.run(stage.EmbedRequest("tiny"), profiled, encoder=encoder).up_to_date
    stage.run(stage.EmbedRequest("tiny", force=True, batch_size=7), profiled, encoder=encoder)
    _, b = _vectors(first.folder, "user")
    np.testing.assert_allclose(a, b, atol=1e-5)  # other batch boundaries, same vectors


def test_shuffle_permutes_vectors_within_each_entity_type_seeded(profiled, encoder):
    plain = stage.run(stage.EmbedRequest("tiny"), profiled, encoder=encoder).folder
    shuffled = stage.run(stage.EmbedRequest("tiny", shuffle=True, seed=5), profiled, encoder=encoder).folder
    assert shuffled.name == "all-minilm-l6-v2-shuffled"
    for entity, n in (("item", 20), ("user", 30)):
        _, p = _vectors(plain, entity)
        _, s = _vectors(shuffled, entity)
        perm = np.random.default_rng([5, 1 if entity == "item" else 2]).permutation(n)
        np.testing.assert_array_equal(s, p[perm])  # same vectors, reassigned
        assert (perm != np.arange(n)).sum() > n // 2
    note = json.loads((shuffled / "manifest.json").read_text())["shuffle"]
    assert note["seed"] == 5 and note["users_moved"] > 15
    again = stage.run(stage.EmbedRequest("tiny", shuffle=True, seed=5, name="again"), profiled, encoder=encoder).folder
    np.testing.assert_array_equal(_vectors(again, "user")[1], _vectors(shuffled, "user")[1])


def test_shuffle_of_earlier_vectors_permutes_them_without_encoding(profiled, encoder, cli, tmp_path):
    plain = stage.run(stage.EmbedRequest("tiny"), profiled, encoder=encoder).folder
    shipped = tmp_path / "shipped" / "all-minilm-l6-v2"  # an embed output kept outside the workdir, as datasets/ ships
    shutil.copytree(plain, shipped)
    result = cli(
        "embed", "--dataset", "tiny", "--shuffle", "--vectors", str(shipped), "--encoder", "no-such", workdir=profiled
    )
    assert result.code != 0 and "--encoder" in result.err  # options are still checked
    result = cli("embed", "--dataset", "tiny", "--shuffle", "--vectors", str(shipped), workdir=profiled)
    assert result.code == 0, result.err
    shuffled = profiled / "embeddings" / "tiny" / "all-minilm-l6-v2-shuffled"
    direct = stage.run(stage.EmbedRequest("tiny", shuffle=True, name="direct"), profiled, encoder=encoder).folder
    for entity in ("item", "user"):
        np.testing.assert_array_equal(
            _vectors(shuffled, entity)[1], _vectors(direct, entity)[1]
        )  # same seed, same rows
    manifest = json.loads((shuffled / "manifest.json").read_text())
    assert manifest["permuted_from"] == str(shipped) and manifest["counts"]["items"]["missing_profiles"] == 1
    assert manifest["encoder"] == json.loads((plain / "manifest.json").read_text())["encoder"]
    again = cli("embed", "--dataset", "tiny", "--shuffle", "--vectors", str(shipped), workdir=profiled)
    assert again.code == 0 and "up to date" in again.out


def test_vectors_needs_shuffle_and_an_embed_output(profiled, cli):
    result = cli("embed", "--dataset", "tiny", "--vectors", "all-minilm-l6-v2", workdir=profiled)
    assert result.code != 0 and "--shuffle" in result.err and "Traceback" not in result.err
    result = cli("embed", "--dataset", "tiny", "--shuffle", "--vectors", "nowhere", workdir=profiled)
    assert result.code != 0 and "--vectors nowhere" in result.err and "llmrec embed --dataset tiny" in result.err


def test_embed_cli_and_a_con_training_read_the_same_layout(profiled, cli):
    result = cli("embed", "--dataset", "tiny", workdir=profiled)
    assert result.code == 0, result.err
    trained = cli(
        "train-rlmrec",
        "--dataset",
        "tiny",
        "--backbone",
        "lightgcn",
        "--align",
        "con",
        "--embeddings",
        "all-minilm-l6-v2",
        "--epochs",
        "1",
        workdir=profiled,
    )
    assert trained.code == 0, trained.err
    config = json.loads(next((profiled / "runs").glob("*/manifest.json")).read_text())["config"]
    assert config["embeddings"].endswith("embeddings/tiny/all-minilm-l6-v2")


def test_missing_profiles_can_be_refused(profiled, cli):
    result = cli("embed", "--dataset", "tiny", "--missing", "error", workdir=profiled)
    assert result.code == 2 and "1 of 20 items have no profile" in result.err and "--retry-failures" in result.err


def test_profiles_from_another_preparation_are_refused(profiled, cli, tmp_path, profiles_writer):
    profiles_writer(tmp_path / "big", 25, 30)
    result = cli("embed", "--dataset", "tiny", "--profiles", str(tmp_path / "big"), workdir=profiled)
    assert result.code == 2 and "ids outside 0..19" in result.err


def test_openai_encoder_batches_concurrently_and_keeps_the_order(profiled, loopback):
    req = stage.EmbedRequest(
        "tiny",
        encoder="openai",
        base_url=loopback.url,
        model="text-embedding-3-small",
        batch_size=8,
        api_key_env="NO_SUCH_KEY_VAR",
    )
    loopback.faults.extend(["500", "429"])
    result = stage.run(req, profiled)
    assert result.folder.name == "text-embedding-3-small"
    _, users = _vectors(result.folder, "user")
    assert users.shape == (30, 12)
    texts = pl.read_parquet(profiled / "profiles" / "tiny" / "t@1" / "users.parquet")["summarization"].to_list()
    expected = loopback.embeddings({"input": [texts[3]]})["data"][0]["embedding"]
    np.testing.assert_allclose(users[3], expected, atol=1e-6)
    posts = [r for r in loopback.requests if r["path"].endswith("/embeddings")]
    assert len(posts) == 2 + 3 + 4  # two retried faults, then ceil(20/8) item and ceil(30/8) user batches
    assert all(len(r["body"]["input"]) <= 8 and r["body"]["model"] == "text-embedding-3-small" for r in posts)


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "a/b", ".."])
def test_output_names_outside_the_embeddings_folder_are_refused(profiled, cli, name):
    before = sorted(profiled.parent.rglob("*"))
    result = cli("embed", "--dataset", "tiny", "--name", name, "--force", workdir=profiled)
    assert result.code == 2 and "--name" in result.err and len(result.err.strip().splitlines()) == 1, result
    assert sorted(profiled.parent.rglob("*")) == before


class NoEncoding:
    def encode(self, texts):
        raise AssertionError("--reuse of a fitting folder must not encode")


def test_reuse_copies_vectors_that_embedded_these_profiles_and_encodes_otherwise(profiled, encoder, profiles_writer):
    first = stage.run(stage.EmbedRequest("tiny"), profiled, encoder=encoder).folder
    copied = stage.run(stage.EmbedRequest("tiny", name="copied", reuse=str(first)), profiled, encoder=NoEncoding())
    assert copied.reused_from == first and copied.folder.name == "copied"
    np.testing.assert_array_equal(_vectors(copied.folder, "user")[1], _vectors(first, "user")[1])
    manifest = json.loads((copied.folder / "manifest.json").read_text())
    assert manifest["reused_from"] == str(first) and "reuse" not in manifest["config"]
    assert manifest["counts"]["items"] == {"vectors": 20, "missing_profiles": 1}
    other_model = stage.EmbedRequest("tiny", name="other", model="elsewhere", reuse=str(first))
    assert stage.run(other_model, profiled, encoder=encoder).reused_from is None  # another encoder: encoded
    profiles_writer(profiled / "profiles" / "tiny" / "t@1", 20, 30)  # item 5 now has a profile: other bytes
    again = stage.run(stage.EmbedRequest("tiny", name="again", reuse=str(first)), profiled, encoder=encoder)
    assert again.reused_from is None and not again.up_to_date


def test_reuse_is_refused_with_shuffle_or_without_an_embed_output(profiled, cli, tmp_path):
    result = cli("embed", "--dataset", "tiny", "--shuffle", "--reuse", str(tmp_path), workdir=profiled)
    assert result.code == 2 and "--shuffle --vectors" in result.err
    result = cli("embed", "--dataset", "tiny", "--reuse", str(tmp_path), workdir=profiled)
    assert result.code == 2 and "no embed output there" in result.err
