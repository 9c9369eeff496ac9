"""PNG figures for the report (matplotlib, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from llmrec_cli.errors import LLMRecError


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: never needs a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise LLMRecError("llmrec report needs matplotlib for its plots: pip install -e '.[report]'") from None
    return plt


def noise(frame: pl.DataFrame, path: Path, dataset: str) -> Path:
    """R@20 and its relative drop against the injected-noise level, one line per backbone + variant."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for (model, variant), group in frame.sort("noise").group_by(["model", "variant"], maintain_order=True):
        x = (group["noise"] * 100).to_list()
        label = f"{model} {variant}"
        left.plot(x, group["recall@20"].to_list(), marker="o", label=label)
        right.plot(x, (group["relative_drop"] * 100).to_list(), marker="o", label=label)
    left.set(xlabel="fake interactions added to train (%)", ylabel="Recall@20 (test)", title=f"{dataset}: Recall@20")
    right.set(
        xlabel="fake interactions added to train (%)", ylabel="drop vs clean (%)", title=f"{dataset}: relative drop"
    )
    for ax in (left, right):
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
