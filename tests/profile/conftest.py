"""Fixtures for the profile tests: a tiny prepared dataset with titles and reviews, and a loopback LLM server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # loopback.py, shared with tests/embed and the benchmark

from loopback import LoopbackLLM  # noqa: E402
from tiny_data import make_tiny_dataset  # noqa: E402


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A workdir holding the prepared dataset 'tiny' (30 users, 20 items, reviews)."""
    workdir = tmp_path / "work"
    make_tiny_dataset(tmp_path / "raw", workdir)
    return workdir


@pytest.fixture
def loopback():
    with LoopbackLLM() as server:
        yield server
