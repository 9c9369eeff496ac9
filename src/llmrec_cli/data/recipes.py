"""Dataset recipes: one ``datasets/<name>/recipe.toml`` per dataset says how to read, filter and split it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from llmrec_cli.errors import LLMRecError


def datasets_dir() -> Path:
    """The repository's ``datasets/`` folder (override with LLMREC_DATASETS_DIR)."""
    env = os.environ.get("LLMREC_DATASETS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "datasets"


def known() -> list[str]:
    root = datasets_dir()
    return sorted(p.parent.name for p in root.glob("*/recipe.toml")) if root.is_dir() else []


def load(name: str | None = None, path: Path | None = None) -> tuple[dict, Path]:
    """The recipe dict and its folder, by dataset name or by an explicit recipe file."""
    if path is None:
        if name is None:
            raise LLMRecError("give --dataset NAME (or --recipe FILE)")
        path = datasets_dir() / name / "recipe.toml"
        if not path.is_file():
            names = ", ".join(known()) or "none found"
            raise LLMRecError(f"--dataset {name}: unknown dataset; known datasets: {names} (or pass --recipe FILE)")
    try:
        recipe = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise LLMRecError(f"--recipe {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise LLMRecError(f"{path}: not valid TOML ({exc})") from None
    if "source" not in recipe or "format" not in recipe["source"]:
        raise LLMRecError(f"{path}: a recipe needs a [source] table with a 'format' key")
    return recipe, Path(path).parent
