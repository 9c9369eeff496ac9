"""Per backbone x alignment x dataset hyperparameters, read from configs/rlmrec/*.toml (never from code)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from llmrec_cli.errors import LLMRecError

BACKBONES = ("gccf", "lightgcn", "sgl", "simgcl", "dccf", "autocf")
ALIGNMENTS = ("none", "con", "gen", "kar")
_SECTION = {"none": "base", "con": "con", "gen": "gen", "kar": "kar"}


def configs_dir() -> Path:
    env = os.environ.get("LLMREC_CONFIGS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "configs" / "rlmrec"


def _load(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise LLMRecError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise LLMRecError(f"{path}: not valid TOML ({exc})") from None


def _flat(section: dict) -> dict:
    """Top-level scalar/list values of a section (nested tables are per-dataset overrides)."""
    return {k: v for k, v in section.items() if not isinstance(v, dict)}


def parse_set(items: list[str]) -> dict:
    """--set key=value pairs, values parsed as TOML (numbers, booleans, lists) or kept as strings."""
    out = {}
    for item in items:
        if "=" not in item:
            raise LLMRecError(f"--set {item!r}: expected key=value, e.g. --set layers=2")
        key, value = (s.strip() for s in item.split("=", 1))
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value
    return out


def resolve(backbone: str, align: str, dataset: str, config_file: Path | None = None, overrides: dict | None = None) -> dict:
    """common [train] < its [train.<dataset>] table < backbone variant section < its per-family table < --config file
    < --set overrides. ``dataset`` is the recipe's name (a noised copy passes the recipe it was prepared from)."""
    if backbone == "semantic":  # the no-training baseline has only evaluation settings
        common = _load(configs_dir() / "common.toml")
        return {**common.get("train", {}), **(overrides or {}), "backbone": "semantic", "align": "none", "config_family": dataset}
    if backbone not in BACKBONES:
        raise LLMRecError(f"--backbone {backbone!r}: unknown; choose one of {', '.join(BACKBONES)}")
    if align not in ALIGNMENTS:
        raise LLMRecError(f"--align {align!r}: unknown; choose one of {', '.join(ALIGNMENTS)}")
    folder = configs_dir()
    common = _load(folder / "common.toml")
    family = common.get("family", {}).get(dataset, dataset)
    sections = _load(folder / f"{backbone}.toml")
    if _SECTION[align] not in sections:
        raise LLMRecError(f"--align {align}: configs/rlmrec/{backbone}.toml has no [{_SECTION[align]}] section; {align} is not defined for {backbone}")
    variant = sections[_SECTION[align]]
    train = common.get("train", {})
    hp = {**_flat(train), **_flat(train.get(dataset, {})), **_flat(variant), **_flat(variant.get(family, {}))}
    if config_file is not None:
        extra = _load(Path(config_file))
        hp.update(_flat(extra))
        hp.update(_flat(extra.get(_SECTION[align], {})))
    hp.update(overrides or {})
    hp["backbone"], hp["align"], hp["config_family"] = backbone, align, family
    return hp
