"""Progress of an epoch-based training run on the console: a live bar on a terminal, plain lines in a log.

A rich progress bar draws nothing while stdout is not a terminal (CI logs, ``nohup``, a pipe), so a long run would
be silent until it ends. There, :func:`epoch_progress` prints one line per validation instead: the epoch, the loss
parts, the validation metrics, the best so far and the training seconds per epoch since the previous line.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from llmrec_cli.commands.ui import progress_bar, short_metric

OnEpoch = Callable[[dict], None]


def loss_text(row: dict) -> str:
    """``bpr=0.1234 reg=0.0010`` from the row's ``loss_<part>`` entries."""
    return " ".join(f"{k[5:]}={v:.4f}" for k, v in row.items() if k.startswith("loss_"))


def valid_text(row: dict, metrics: tuple[str, ...]) -> str:
    """``valid R@20=0.1234 N@20=0.0567`` from the row's ``valid_<metric>`` entries ('' without a validation)."""
    shown = [f"{short_metric(m)}={row[f'valid_{m}']:.4f}" for m in metrics if f"valid_{m}" in row]
    return "valid " + " ".join(shown) if shown else ""


def best_text(row: dict, metrics: tuple[str, ...]) -> str:
    """``best R@20=0.1300 (epoch 8)`` from the row's ``best_valid`` / ``best_epoch`` ('' when absent)."""
    if row.get("best_valid") is None:
        return ""
    return f"best {short_metric(metrics[0])}={row['best_valid']:.4f} (epoch {row['best_epoch']})"


class ValidationLines:
    """on_epoch callback printing one plain line per validated epoch, with the mean training seconds of the epochs
    since the previous line."""

    def __init__(self, console: Console, total_epochs: int, metrics: tuple[str, ...]):
        self.console, self.total, self.metrics = console, total_epochs, metrics
        self.seconds: list[float] = []

    def __call__(self, row: dict) -> None:
        self.seconds.append(float(row.get("seconds", 0.0)))
        if not any(f"valid_{m}" in row for m in self.metrics):
            return
        per_epoch = sum(self.seconds) / len(self.seconds)
        self.seconds = []
        parts = [
            f"epoch {row['epoch']}/{self.total}",
            loss_text(row),
            valid_text(row, self.metrics),
            best_text(row, self.metrics),
            f"{per_epoch:.2f} s/epoch",
        ]
        self.console.print("  ".join(p for p in parts if p), highlight=False, soft_wrap=True)


class EpochBar:
    """on_epoch callback moving a live bar: completed epochs, the losses and the last validation."""

    def __init__(self, progress: Progress, total_epochs: int, metrics: tuple[str, ...]):
        self.progress, self.metrics = progress, metrics
        self.task = progress.add_task("train", total=total_epochs, info="")
        self.last_valid = ""

    def __call__(self, row: dict) -> None:
        self.last_valid = valid_text(row, self.metrics) or self.last_valid
        info = f"{loss_text(row)} {self.last_valid} ({row['seconds']:.2f}s)"
        self.progress.update(self.task, completed=row["epoch"] + 1, info=info)


@contextmanager
def epoch_progress(
    console: Console, total_epochs: int, metrics: tuple[str, ...] = ("recall@20", "ndcg@20")
) -> Iterator[OnEpoch]:
    """The on_epoch callback for a training loop whose rows carry ``epoch``, ``seconds``, ``loss_*``, ``valid_*``
    and optionally ``best_valid`` / ``best_epoch`` (the selection metric is ``metrics[0]``): a live bar when
    ``console`` is a terminal, else :class:`ValidationLines`."""
    if not console.is_terminal:
        yield ValidationLines(console, total_epochs, metrics)
        return
    columns = [
        TextColumn("epoch {task.completed:>4.0f}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    ]
    with progress_bar(*columns, out=console) as progress:
        yield EpochBar(progress, total_epochs, metrics)
