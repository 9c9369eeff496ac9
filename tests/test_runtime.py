"""Process-wide settings: the thread count (--threads, $OMP_NUM_THREADS, the CPUs this process may use)."""

import pytest
import torch

from llmrec_cli import runtime


@pytest.fixture
def restore_threads(monkeypatch):
    before = torch.get_num_threads()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    yield
    torch.set_num_threads(before)


def test_threads_come_from_the_option_then_the_environment_then_the_affinity_mask(monkeypatch, restore_threads):
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert runtime.choose_threads(None) == 3  # the CPUs this process may run on
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert runtime.choose_threads(None) == runtime.MAX_DEFAULT_THREADS  # capped
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runtime.choose_threads(None) == 2
    assert runtime.choose_threads(5) == 5  # --threads wins
    monkeypatch.setenv("OMP_NUM_THREADS", "not-a-number")
    assert runtime.choose_threads(None) == runtime.MAX_DEFAULT_THREADS


def test_apply_sets_the_environment_and_a_loaded_torch(restore_threads):
    runtime.apply_threads(1)
    assert torch.get_num_threads() == 1
    import os

    assert os.environ["OMP_NUM_THREADS"] == os.environ["MKL_NUM_THREADS"] == "1"


def test_cli_threads_reach_the_run_manifest_and_zero_is_refused(cli, restore_threads, tmp_path):
    import json

    assert cli("--threads", "0", "prepare", "--dataset", "demo").code == 2
    assert cli("prepare", "--dataset", "demo").code == 0
    trained = cli("--threads", "1", "train-rlmrec", "-d", "demo", "--epochs", "1", "--run-id", "t1")
    assert trained.code == 0, trained.err
    manifest = json.loads((tmp_path / "work" / "runs" / "t1" / "manifest.json").read_text())
    assert manifest["threads"] == 1


@pytest.mark.parametrize(
    "flags, native",
    [("fpu avx512f avx512_vnni", False), ("fpu avx512f avx512_bf16", True), ("fpu amx_bf16 amx_tile", True)],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert runtime.cpu_has_native_bf16(cpuinfo) is native
    assert runtime.cpu_has_native_bf16(tmp_path / "missing") is None


@pytest.mark.parametrize("native, warned", [(False, True), (True, False), (None, False)])
def test_bf16_on_a_cpu_without_it_is_warned_before_training(cli, monkeypatch, native, warned):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    res = cli("--device", "cpu", "train-rlmrec", "--dataset", "absent", "--align", "con", "--align-precision", "bf16")
    assert res.code != 0  # no such dataset: the warning comes first, then the one-line error
    assert ("without AVX512-BF16 or AMX" in res.err) is warned
