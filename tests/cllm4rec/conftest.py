"""Fixtures of the CLLM4Rec tests: the toy datasets and the tiny random GPT-2 backbone (real GPT-2 BPE)."""

from __future__ import annotations

import pytest
from cllm4rec_toy import write_toy_dataset


@pytest.fixture(autouse=True, scope="module")
def _tiny_models_on_one_thread(one_thread):
    """The tiny model's ops are too small to gain from threads, and on a busy 2-core machine threads cost 5x."""


@pytest.fixture(scope="session")
def toy_workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("cllm4rec")
    write_toy_dataset(work, "toy", reviews=True)
    write_toy_dataset(work, "toy-noreviews", reviews=False)
    return work


@pytest.fixture(scope="session")
def tiny_backbone():
    from llmrec_cli.cllm4rec import backbone

    return backbone.load("tiny-gpt2:2:32")
