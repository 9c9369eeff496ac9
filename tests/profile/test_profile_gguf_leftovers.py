"""gguf.assemble removes a killed assembly's partial copy (`.NAME.tmp-PID`, PID gone) and nothing else (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys

from llmrec_cli.profile.backends import gguf


def test_a_killed_assemblys_partial_copy_is_removed_when_the_model_is_next_assembled(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / f"fake_gguf_leftover_{os.getpid()}_1"
    (pkg / "data").mkdir(parents=True)
    (pkg / "data" / "part.bin").write_bytes(b"GGUF" + b"x" * 100)
    (pkg / "__init__.py").write_text(
        "import os\ndef get_part_path():\n"
        "    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part.bin')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    partial = models / f".fake.gguf.tmp-{done.pid}"
    partial.write_bytes(b"GGUF partial")
    mine = models / f".fake.gguf.tmp-{os.getpid()}-7"  # a live writer (this process): kept
    other = models / f".other.gguf.tmp-{done.pid}"  # another model's: not ours to judge here
    for path in (mine, other):
        path.write_bytes(b"keep")
    spec = gguf.PackagedModel("fake", "fake.gguf", pip="pip install fake", parts=(pkg.name,), size=104)
    try:
        assert gguf.assemble(spec, tmp_path / "cache").read_bytes() == b"GGUF" + b"x" * 100
    finally:
        sys.modules.pop(pkg.name, None)
    assert not partial.exists() and mine.read_bytes() == b"keep" and other.read_bytes() == b"keep"
