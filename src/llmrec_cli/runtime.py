"""Process-wide settings chosen on the command line (workdir, seed, device), passed explicitly to stages."""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from llmrec_cli.errors import LLMRecError

DEFAULT_WORKDIR = "llmrec-work"
DEFAULT_SEED = 2023  # RLMRec's seed; stages with their own recipe seed use it unless --seed is given


@dataclass
class Globals:
    workdir: Path = Path(DEFAULT_WORKDIR)
    seed: int | None = None
    device: str = "auto"
    threads: int = 1
    verbose: int = 0
    experiment: str | None = None

    def record_run(self, run_dir: Path) -> None:
        """Add a finished (or up-to-date) run to --experiment's list, when one was given."""
        if self.experiment is not None:
            from llmrec_cli import experiments

            experiments.add(self.workdir, self.experiment, Path(run_dir).name)

    def seed_or(self, default: int = DEFAULT_SEED) -> int:
        return default if self.seed is None else self.seed

    def run_options(self, run_id: str | None, resume: bool, force: bool) -> dict:
        """The RunOptions fields of a training request: the global seed and device, the command's run options."""
        return {"seed": self.seed_or(), "device": self.device, "run_id": run_id, "resume": resume, "force": force}


def check_device_name(name: str) -> str:
    """auto, cpu, cuda or cuda:N, checked when the options are read (before any data loads; no torch import)."""
    low = name.lower()
    if low not in ("auto", "cpu", "cuda") and not (low.startswith("cuda:") and low[5:].isdigit()):
        raise LLMRecError(f"--device {name}: expected auto, cpu, cuda or cuda:N")
    return low


MAX_DEFAULT_THREADS = 8  # our ops are many small sparse/dense products: more threads mostly add contention


def choose_threads(requested: int | None) -> int:
    """Torch's CPU threads for this process: --threads, else $OMP_NUM_THREADS, else the CPUs this process may run
    on (its affinity mask, not the machine's count), at most 8. On a machine shared with other jobs, 1 per process
    is faster (docs/results.md): the pipelines set it."""
    if requested is not None:
        return requested
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, MAX_DEFAULT_THREADS))


def apply_threads(n: int) -> None:
    """Set the thread count before torch loads (OpenMP and MKL read the environment then), or on torch when a
    caller already loaded it."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def resolve_device(name: str = "auto") -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'. 'cuda' without a GPU is an error, not a silent fallback."""
    import torch

    name = name.lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise LLMRecError("--device cuda: no CUDA device is visible to torch; use --device auto or --device cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise LLMRecError(f"--device {name}: expected auto, cpu, cuda or cuda:N")
    return name


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """Whether the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); None where /proc/cpuinfo is not there.
    Without them a bf16 product runs several times slower than fp32 (5x measured here, docs/results.md)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), None)
    return None if flags is None else any(flag in flags for flag in BF16_CPU_FLAGS)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) so that a rerun with the same seed gives the same numbers."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
