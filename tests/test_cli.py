"""The evaluate table: a few runs side by side, many runs one per row, never squeezed to '…' in a log."""

from __future__ import annotations

import io

from rich.console import Console

from llmrec_cli.commands.ui import metrics_table, print_table, short_metric


def _render(table) -> str:
    log = Console(width=80, file=io.StringIO())  # not a terminal: as in a CI log
    print_table(table, log)
    return log.file.getvalue()


def test_two_runs_are_columns_and_many_runs_are_rows():
    few = metrics_table({"a": {"recall@20": 0.1}, "b": {"recall@20": 0.2}})
    assert [c.header for c in few.columns] == ["metric", "a", "b"]
    names = [f"{m}@{k}" for m in ("recall", "ndcg", "precision", "hit_rate", "mrr") for k in (5, 10, 20)]
    runs = {f"cli-run-{i}": {name: 0.01 * i for name in names} for i in range(18)}
    many = metrics_table(runs)
    assert [c.header for c in many.columns][:5] == ["run", "R@5", "R@10", "R@20", "N@5"]
    assert [c.header for c in many.columns][-4:] == ["HR@20", "MRR@5", "MRR@10", "MRR@20"]
    text = _render(many)
    assert "cli-run-17" in text and "0.1700" in text and "…" not in text


def test_short_metric_names():
    assert short_metric("recall@20") == "R@20" and short_metric("hit@5") == "HR@5" and short_metric("loss") == "loss"


def test_evaluate_cut_offs_below_one_are_refused(cli):
    for k in ("0", "-3"):
        result = cli("evaluate", "some-run", "--k", k)
        assert result.code == 2 and "--k" in result.err


# ------------------------------------------------------------------------------------------------ help and output
COMMANDS = (
    "prepare",
    "profile",
    "embed",
    "train-rlmrec",
    "train-cllm4rec",
    "train-baseline",
    "evaluate",
    "report",
    "check",
    "datasets",
    "backbones",
)


def flat(text: str) -> str:
    """Help text without rich's box and line breaks."""
    return " ".join(text.replace("│", " ").split())


def test_help_lists_commands_in_pipeline_order_and_switches_without_a_type(cli):
    top = cli("--help")
    assert top.code == 0
    # a command's own row starts right after the box edge; a wrapped help line starts further in
    lines = [
        line.split()[1]
        for line in top.out.splitlines()
        if line.startswith("│ ") and line[2] != " " and line.split()[1] in COMMANDS
    ]
    assert lines == list(COMMANDS)
    for args in [(), *((command,) for command in COMMANDS)]:
        out = cli(*args, "--help").out
        assert "<bool>" not in out, args
    assert "--verbose -v Repeatable: -v logs info, -vv debug" in flat(top.out)  # no <int>, no [default: 0]
    assert "--force Retrain even when" in flat(cli("train-rlmrec", "--help").out)


def test_usage_lines_name_arguments_plainly(cli):
    assert "Usage: llmrec evaluate [OPTIONS] [RUNS]..." in flat(cli("evaluate", "--help").out)
    assert "Usage: llmrec check [OPTIONS] [PATHS]..." in flat(cli("check", "--help").out)


def test_vv_counts_to_verbosity_two(cli, monkeypatch):
    from llmrec_cli import cli as cli_module

    seen = []
    monkeypatch.setattr(cli_module, "Globals", lambda **kw: seen.append(kw["verbose"]))
    for flags, level in ((), 0), (("-v",), 1), (("-vv",), 2), (("-v", "--verbose"), 2):
        assert cli(*flags, "datasets").code == 0
        assert seen[-1] == level, flags


def test_messages_in_a_log_are_not_wrapped_at_80_columns(cli, tmp_path):
    workdir = tmp_path / ("long-folder-name-" * 6)
    result = cli("prepare", "--dataset", "demo", workdir=workdir)
    assert result.code == 0, result.err
    assert f"wrote {workdir / 'data' / 'demo'}\n" in result.out


def test_a_bad_device_fails_before_any_work(cli):
    result = cli("--device", "gpu", "prepare", "--dataset", "demo")
    assert result.code == 2 and "--device gpu: expected auto, cpu, cuda or cuda:N" in result.err


def test_tracebacks_follow_any_spelling_of_two_v():
    from llmrec_cli.cli import _verbosity

    assert [
        _verbosity(a)
        for a in (
            ["llmrec"],
            ["llmrec", "-v"],
            ["llmrec", "-vv"],
            ["llmrec", "-v", "-v"],
            ["llmrec", "--verbose", "-v"],
            ["llmrec", "prepare", "--dataset", "v"],
        )
    ] == [0, 1, 2, 2, 2, 0]
