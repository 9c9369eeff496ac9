"""The evaluate stage: the global --device reaches it and is resolved like every other stage's."""

from pathlib import Path

import pytest

from llmrec_cli.errors import LLMRecError
from llmrec_cli.evaluate import stage


def test_cli_passes_the_global_device(cli, monkeypatch):
    seen = {}

    def fake_run_one(run, workdir, split, ks, denominator, device="cpu"):
        seen["device"] = device
        return stage.Evaluation(Path(str(run)), "m", "demo", split, {"recall@20": 0.5}, 1)

    monkeypatch.setattr(stage, "run_one", fake_run_one)
    result = cli("--device", "cpu", "evaluate", "some-run")
    assert result.code == 0, result.err
    assert seen["device"] == "cpu"
    assert cli("evaluate", "some-run").code == 0 and seen["device"] == "auto"


def test_an_unknown_device_is_a_clear_error(tmp_path):
    with pytest.raises(LLMRecError, match="--device"):
        stage.run_one(tmp_path / "no-run", tmp_path, device="tpu")


def test_auto_device_resolves_before_the_run_is_read(tmp_path):
    with pytest.raises(LLMRecError, match="no such run folder"):
        stage.run_one(tmp_path / "no-run", tmp_path, device="auto")
