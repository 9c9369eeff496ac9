"""pipelines/common.sh, sourced by every pipeline script: the settings it chooses for the user."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

COMMON = Path(__file__).resolve().parents[1] / "pipelines" / "common.sh"


def sourced(variable: str, tmp_path: Path, **env: str) -> str:
    """The value of ``variable`` after sourcing common.sh with ``env`` on top of a clean environment."""
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "SEEDS", "QUICK")}
    script = f'source "{COMMON}"; printf %s "${variable}"'
    out = subprocess.run(["bash", "-c", script], env={**base, "WORKDIR": str(tmp_path), **env}, capture_output=True,
                         text=True, check=True)
    return out.stdout


def test_one_thread_per_process_unless_the_user_chose(tmp_path):
    assert sourced("OMP_NUM_THREADS", tmp_path) == "1"
    assert sourced("OMP_NUM_THREADS", tmp_path, OMP_NUM_THREADS="2") == "2"
