"""Per backbone x alignment x dataset hyperparameters, read from configs/rlmrec/*.toml (never from code)."""

from __future__ import annotations

import difflib
import math
import tomllib
from pathlib import Path

from llmrec_cli.errors import LLMRecError
from llmrec_cli.rlmrec import registry
from llmrec_cli.rlmrec.registry import configs_dir
from llmrec_cli.settings import flat as _flat
from llmrec_cli.settings import load_toml

# Settings the trainer reads that no shipped TOML sets, with their defaults (min_epochs: rlmrec/train.py); each
# alignment adds its own (Alignment.defaults: align_precision, Con's use_negatives).
EXTRA_KEYS = {"min_epochs": 0}
POSITIVE = frozenset({"batch_size", "eval_batch_size", "max_epochs", "eval_every", "patience", "embedding_dim", "ks"})
# The semantic-only baseline records common.toml's [train] values. Its configs have always held the [train.steam-text]
# table too (a per-recipe training setting it does not use): kept so that its finished runs' config hashes do not
# move; later per-recipe tables ([train.demo], ...) are left out of it.
SEMANTIC_RECORDED_TABLES = ("steam-text",)


def parse_set(items: list[str]) -> dict:
    """--set key=value pairs, values parsed as TOML (numbers, booleans, lists) or kept as strings."""
    out = {}
    for item in items:
        if "=" not in item:
            raise LLMRecError(f"--set {item!r}: expected key=value, e.g. --set layers=2")
        key, value = (s.strip() for s in item.split("=", 1))
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except (tomllib.TOMLDecodeError, RecursionError):  # kept as typed: the type check names it
            out[key] = value
    return out


def resolve(
    backbone: str, align: str, dataset: str, config_file: Path | None = None, overrides: dict | None = None
) -> dict:
    """common [train] < its [train.<dataset>] table < backbone variant section < its per-family table < --config file
    < --set overrides. ``dataset`` is the recipe's name (a noised copy passes the recipe it was prepared from)."""
    if backbone == registry.SEMANTIC:  # the no-training baseline has only evaluation settings
        common = load_toml(configs_dir() / "common.toml")
        check_overrides(overrides or {}, known_keys(common), "--backbone semantic")
        train = {
            k: v for k, v in common.get("train", {}).items() if not isinstance(v, dict) or k in SEMANTIC_RECORDED_TABLES
        }
        return {**train, **(overrides or {}), "backbone": "semantic", "align": "none", "config_family": dataset}
    spec = registry.backbone(backbone)
    strategy = registry.alignment(align)
    section = registry.section_of(align)
    if align not in spec.variants:
        raise LLMRecError(
            f"--align {align}: configs/rlmrec/{backbone}.toml has no [{section}] section; {align} is "
            f"not defined for {backbone} (it has: {', '.join(spec.variants)})"
        )
    folder = configs_dir()
    common = load_toml(folder / "common.toml")
    family = common.get("family", {}).get(dataset, dataset)
    variant = load_toml(folder / f"{backbone}.toml")[section]
    known = {**known_keys(common, variant), **strategy.defaults}
    check_overrides(overrides or {}, known, f"--backbone {backbone} --align {align}")
    train = common.get("train", {})
    hp = {**_flat(train), **_flat(train.get(dataset, {})), **_flat(variant), **_flat(variant.get(family, {}))}
    if config_file is not None:
        extra = load_toml(Path(config_file))
        hp.update(_flat(extra))
        hp.update(_flat(extra.get(section, {})))
    hp.update(overrides or {})
    hp["backbone"], hp["align"], hp["config_family"] = backbone, align, family
    return hp


def changed(hp: dict, defaults: dict) -> dict:
    """The settings of ``hp`` that differ from ``defaults`` (the same variant resolved without --config/--set)."""
    return {k: v for k, v in hp.items() if k not in defaults or defaults[k] != v}


# ------------------------------------------------------------------------------------------------ --set checks
def known_keys(common: dict, variant: dict | None = None) -> dict:
    """Every setting of common.toml's [train] and of the backbone's section (their per-dataset tables included),
    plus EXTRA_KEYS, each with a default that gives its type."""
    known = dict(EXTRA_KEYS)
    for section in (common.get("train", {}), variant or {}):
        for table in (section, *(v for v in section.values() if isinstance(v, dict))):
            known.update(_flat(table))
    return known


def check_overrides(overrides: dict, known: dict, where: str) -> None:
    """Unknown keys, values of the wrong type and values out of range are one-line errors."""
    for key, value in overrides.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(known))}"
            raise LLMRecError(f"--set {key}: not a setting of {where}; {hint}")
        check_value(key, value, known[key])


def check_value(key: str, value, default) -> None:
    if not _same_kind(value, default):
        raise LLMRecError(f"--set {key}={value!r}: expected {_kind(default)} like the default {key}={default!r}")
    for number in value if isinstance(value, list) else [value]:
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            _check_range(key, number)


def _same_kind(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, list):
        return isinstance(value, list) and bool(value) and all(_same_kind(v, default[0]) for v in value)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _kind(default) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, list):
        return "a non-empty list"
    return {int: "a whole number", float: "a number", str: "a text"}.get(type(default), type(default).__name__)


def _check_range(key: str, number: float) -> None:
    if not math.isfinite(number) or number < 0:
        raise LLMRecError(f"--set {key}={number}: must be a finite number >= 0")
    if number == 0 and (key in POSITIVE or key.endswith("_temperature")):
        raise LLMRecError(f"--set {key}=0: must be greater than 0")
    if number > 1 and key.endswith(("_rate", "_ratio")):
        raise LLMRecError(f"--set {key}={number}: is a fraction, at most 1")
