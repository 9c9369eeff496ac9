"""Training progress: a live bar on a terminal, one plain line per validation anywhere else."""

import io

from rich.console import Console

from llmrec_cli.commands.progress import EpochBar, ValidationLines, epoch_progress
from llmrec_cli.commands.ui import short_metric


def rows():
    yield {
        "epoch": 0,
        "loss_bpr": 0.5,
        "loss_reg": 0.01,
        "seconds": 1.0,
        "valid_recall@20": 0.2,
        "valid_ndcg@20": 0.1,
        "best_valid": 0.2,
        "best_epoch": 0,
    }
    yield {"epoch": 1, "loss_bpr": 0.4, "loss_reg": 0.01, "seconds": 2.0, "best_valid": 0.2, "best_epoch": 0}
    yield {
        "epoch": 2,
        "loss_bpr": 0.3,
        "loss_reg": 0.01,
        "seconds": 4.0,
        "valid_recall@20": 0.3,
        "valid_ndcg@20": 0.15,
        "best_valid": 0.3,
        "best_epoch": 2,
    }


def test_a_log_gets_one_line_per_validation():
    out = io.StringIO()
    console = Console(file=out, width=200)
    with epoch_progress(console, 10) as on_epoch:
        assert isinstance(on_epoch, ValidationLines)
        for row in rows():
            on_epoch(row)
    lines = out.getvalue().splitlines()
    assert lines == [
        "epoch 0/10  bpr=0.5000 reg=0.0100  valid R@20=0.2000 N@20=0.1000  best R@20=0.2000 (epoch 0)  1.00 s/epoch",
        "epoch 2/10  bpr=0.3000 reg=0.0100  valid R@20=0.3000 N@20=0.1500  best R@20=0.3000 (epoch 2)  3.00 s/epoch",
    ]


def test_a_terminal_gets_a_live_bar():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    with epoch_progress(console, 10) as on_epoch:
        assert isinstance(on_epoch, EpochBar)
        for row in rows():
            on_epoch(row)
        assert on_epoch.last_valid == "valid R@20=0.3000 N@20=0.1500"
    assert "epoch" in out.getvalue()


def test_short_metric_names():
    assert (
        short_metric("recall@20") == "R@20" and short_metric("ndcg@100") == "N@100" and short_metric("loss") == "loss"
    )
