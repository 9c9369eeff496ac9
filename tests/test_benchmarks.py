"""Every benchmark script still imports against the package (a renamed module or constant breaks it silently
otherwise: the benchmarks run by hand, not in CI)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_imports_and_has_an_entry_point(path, monkeypatch):
    monkeypatch.syspath_prepend(str(path.parent))  # as `python benchmarks/NAME.py` sees its folder
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    assert callable(getattr(module, "main", None))
