"""How `llmrec --help` reads: commands in pipeline order, switches without a value type, usage lines like RUNS...

typer builds click objects that print every option's type in angle brackets (`--force <bool>`, `-v <int>` for a
flag given as -vv) and a required argument as `{runs}...` in the usage line. :class:`PipelineGroup`, the app's
group class, adjusts each command's parameters as click fetches the command, so commands registered anywhere
(profile, embed, check, ...) read the same.
"""

from __future__ import annotations

import typer.core

PIPELINE_ORDER = (
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


class PlainArgument(typer.core.TyperArgument):
    """An argument shown in the usage line as RUNS... (required) or [PATHS]... (optional)."""

    def get_usage_pieces(self, ctx) -> list[str]:
        if self.metavar is not None:
            return [self.metavar]
        name = self.name.upper() if self.required else f"[{self.name.upper()}]"
        return [name + ("..." if self.nargs != 1 else "")]


def tidy(param):
    """A switch (a boolean flag, or a counted one like -v/-vv) shows no value type; an argument's usage is plain."""
    if param is None:
        return param
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""  # typer prints the metavar, when set, in place of `<bool>` / `<int>`
    elif type(param) is typer.core.TyperArgument:
        param.__class__ = PlainArgument  # same fields, one method changed
    return param


def pipeline_rank(name: str) -> int:
    return PIPELINE_ORDER.index(name) if name in PIPELINE_ORDER else len(PIPELINE_ORDER)


class PipelineGroup(typer.core.TyperGroup):
    """The `llmrec` group: subcommands listed in the order a pipeline runs them, their parameters tidied."""

    def list_commands(self, ctx) -> list[str]:
        return sorted(super().list_commands(ctx), key=pipeline_rank)

    def get_params(self, ctx) -> list:
        return [tidy(param) for param in super().get_params(ctx)]

    def get_command(self, ctx, cmd_name: str):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            for param in [*command.params, command.get_help_option(ctx)]:
                tidy(param)
        return command
