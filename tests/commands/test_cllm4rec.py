"""The train-cllm4rec console lines: one per finished pass in a log, losses named once (loss=, not loss_loss=)."""

import io

from rich.console import Console
from rich.progress import Progress

from llmrec_cli.commands import cllm4rec as commands


def test_a_finished_pass_names_each_loss_once():
    out = io.StringIO()
    progress = Progress(console=Console(file=out, force_terminal=False))
    row = {
        "part": "train",
        "loss_loss": 1.5,
        "loss_lm": 0.25,
        "loss_mr": 1.25,
        "valid_recall@20": 0.125,
        "seconds": 2.0,
    }
    commands._report_pass(progress, {"pass": 0, "passes": 3, "label": "pretrain", "done": row})
    line = out.getvalue().strip()
    assert line == "[1/3] pretrain: loss=1.5000 lm=0.2500 mr=1.2500 valid_recall@20=0.1250 (2.0 s)"
