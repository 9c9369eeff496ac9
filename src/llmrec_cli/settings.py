"""Reading hyperparameter files: TOML with one-line errors, a table's own values, the recipe a dataset was made from.

Shared by rlmrec/config.py and cllm4rec/config.py, which layer these files (defaults < per-recipe table < --config <
--set) and validate --set keys.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.workdir import Workdir


def load_toml(path: Path) -> dict:
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise LLMRecError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise LLMRecError(f"{path}: not valid TOML ({exc})") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else "not UTF-8 text"
        raise LLMRecError(f"{path}: not valid TOML ({reason}); give a TOML text file") from None


def flat(table: dict) -> dict:
    """A table's own values; its nested tables are per-dataset (or per-recipe) overrides."""
    return {k: v for k, v in table.items() if not isinstance(v, dict)}


def recipe_of(workdir: Path | str | Workdir, dataset: str) -> str:
    """The recipe a prepared dataset was made from (a renamed or noised copy names it), else the dataset's name:
    such a copy takes its recipe's hyperparameters."""
    return (artifacts.read_manifest(Workdir.of(workdir).data(dataset)) or {}).get("recipe") or dataset
