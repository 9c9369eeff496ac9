"""pipelines/common.sh, sourced by every pipeline script: the settings it chooses for the user."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

COMMON = Path(__file__).resolve().parents[1] / "pipelines" / "common.sh"


def after_sourcing(command: str, tmp_path: Path, **env: str) -> str:
    """What ``command`` prints after sourcing common.sh with ``env`` on top of a clean environment."""
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "SEEDS", "QUICK", "SHIPPED_PROFILES")}
    out = subprocess.run(
        ["bash", "-c", f'source "{COMMON}"; {command}'],
        env={**base, "WORKDIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_one_thread_per_process_unless_the_user_chose(tmp_path):
    assert after_sourcing('printf %s "$OMP_NUM_THREADS"', tmp_path) == "1"
    assert after_sourcing('printf %s "$OMP_NUM_THREADS"', tmp_path, OMP_NUM_THREADS="2") == "2"


def test_shipped_profiles_are_used_unless_switched_off(tmp_path):
    assert after_sourcing("profiles_dir demo", tmp_path) == "datasets/demo/profiles/demo@1"
    assert after_sourcing("profiles_dir demo", tmp_path, SHIPPED_PROFILES="0") == f"{tmp_path}/profiles/demo/demo@1"
