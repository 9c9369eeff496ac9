"""The `llmrec` command line: the global options and the entry point; the commands live in llmrec_cli/commands/,
one thin module per stage over ``llmrec_cli.<stage>.run``."""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from llmrec_cli import __version__
from llmrec_cli.cli_help import PipelineGroup
from llmrec_cli.commands import (
    check,
    cllm4rec,
    data,
    embed,
    evaluate,
    profile,
    report,
    rlmrec,
)
from llmrec_cli.commands.ui import console, err_console
from llmrec_cli.errors import LLMRecError
from llmrec_cli.paths import safe_name
from llmrec_cli.runtime import DEFAULT_WORKDIR, Globals, apply_threads, check_device_name, choose_threads

app = typer.Typer(
    name="llmrec",
    help="Reproduce and run LLM-enhanced recommenders (RLMRec, CLLM4Rec). "
    "Stages pass Parquet artifacts under --workdir.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=PipelineGroup,  # commands in pipeline order, switches without <bool> (llmrec_cli/cli_help.py)
)


def _version(value: bool) -> None:
    if value:
        console.print(f"llmrec {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    workdir: Path = typer.Option(
        DEFAULT_WORKDIR, "--workdir", envvar="LLMREC_WORKDIR", help="Folder that holds every stage's artifacts."
    ),
    seed: Optional[int] = typer.Option(
        None,
        "--seed",
        min=0,
        max=2**32 - 1,  # numpy's global seed takes no more
        help="Random seed for sampling, splitting and training (default: the recipe's, else 2023).",
    ),
    device: str = typer.Option("auto", "--device", help="auto (GPU when present), cpu, cuda or cuda:N."),
    threads: Optional[int] = typer.Option(
        None,
        "--threads",
        envvar="LLMREC_THREADS",
        min=1,
        help="CPU threads for torch (default: $OMP_NUM_THREADS, else the CPUs this process may use, at most 8). "
        "On a machine shared with other jobs, 1 per process is usually fastest.",
    ),
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        help="Repeatable: -v logs info, -vv debug and shows tracebacks.",
    ),
    experiment: Optional[str] = typer.Option(
        None,
        "--experiment",
        envvar="LLMREC_EXPERIMENT",
        help="An experiment name: training adds its run to <workdir>/experiments/NAME.json; evaluate, check and report "
        "then cover that experiment's runs only (default: no experiment, every run).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    check_device_name(device)  # a typo fails here, not after the data has loaded
    if experiment is not None:
        safe_name(experiment, "--experiment")
    n_threads = choose_threads(threads)
    apply_threads(n_threads)
    ctx.obj = Globals(
        workdir=workdir, seed=seed, device=device, threads=n_threads, verbose=verbose, experiment=experiment
    )


for _module in (data, profile, embed, rlmrec, cllm4rec, evaluate, report, check):
    _module.register(app)  # each command module adds its commands; PipelineGroup lists them in pipeline order


# ----------------------------------------------------------------------------------------------- entry point
def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _verbosity(argv: list[str]) -> int:
    """How many -v the command line gives (-vv, -v -v, --verbose --verbose), for the error handler: it runs outside
    the typer context that holds the parsed count."""
    return sum(len(a) - 1 for a in argv if a.startswith("-v") and set(a[1:]) == {"v"}) + argv.count("--verbose")


def main() -> None:
    """Console-script entry: bad input is one line on stderr and exit code 2, never a traceback."""
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill`, CI timeouts: unwind like Ctrl-C so stages save what they have
    try:
        # also under `python -m llmrec_cli.cli`, as the Makefile and pipelines call it; not standalone, so that a
        # usage error reaches the handlers below instead of printing click's multi-line box
        code = app(prog_name="llmrec", standalone_mode=False)
    except LLMRecError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _interrupted()
    except OSError as exc:  # read-only or full disk, permissions, a file where a folder belongs, a link loop
        from llmrec_cli.errors import os_error_message

        _fail(LLMRecError(os_error_message(exc)))
    except Exception as exc:
        _fail_on_exception(exc)
    if isinstance(code, int) and code != 0:  # typer.Exit(code) from a command
        sys.exit(code)


def _is_click(exc: BaseException, name: str) -> bool:
    """One of click's exception classes, from click itself or from the copy that newer typers vendor."""
    return any(k.__name__ == name for k in type(exc).__mro__)


def _fail_on_exception(exc: Exception) -> None:
    """Click's usage errors and aborts, then SQLite, polars and pyarrow errors no stage turned into a message, as
    one line each; anything else is a bug and keeps its traceback."""
    if _is_click(exc, "Abort"):  # Ctrl-C or SIGTERM inside a command
        _interrupted()
    if _is_click(exc, "UsageError") and len(sys.argv) == 1 and getattr(exc, "ctx", None):  # `llmrec` alone
        console.print(exc.ctx.get_help())
        sys.exit(0)
    if _is_click(exc, "ClickException"):  # an unknown command or option, a value out of range, a missing option
        _fail(LLMRecError(_usage_message(exc)))
    from llmrec_cli.errors import escaped_error_message

    message = escaped_error_message(exc)
    if message is None:
        raise exc
    _fail(LLMRecError(message))


def _interrupted() -> None:
    err_console.print("interrupted; rerun the same command to resume or redo the stage")
    sys.exit(130)


def _usage_message(exc: Exception) -> str:
    """Click's message and where the options are explained: ``llmrec evaluate: Invalid value for '--k': ...``.
    An option of ``llmrec`` itself given after the command (``llmrec train-rlmrec --device cuda``) says where it
    goes instead."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx else "llmrec"
    option = getattr(exc, "option_name", None)
    if ctx is not None and ctx.parent is not None and option in _root_options(ctx):
        root = ctx.find_root().command_path
        command = path.removeprefix(root).strip()
        return (
            f"{path}: {option} is an option of {root} itself: put it before the command "
            f"(`{root} {option} ... {command} ...`; `{root} --help` lists these options)"
        )
    return f"{path}: {exc.format_message()} (`{path} --help` lists the options)"


def _root_options(ctx) -> set[str]:
    """Every spelling of the options of the root command (``--device``, ``-v``, ...)."""
    return {opt for param in ctx.find_root().command.params for opt in (*param.opts, *param.secondary_opts)}


def _fail(error: LLMRecError) -> None:
    """One line on stderr and exit 2; with -vv the traceback of the exception being handled follows."""
    err_console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
    if _verbosity(sys.argv) >= 2:
        raise
    sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
