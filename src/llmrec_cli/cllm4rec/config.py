"""CLLM4Rec's and Multi-VAE's hyperparameters, read from configs/cllm4rec/<model>.toml (never from code).

Layering, as RLMRec's (rlmrec/config.py): the file's [train] < its [train.<recipe>] table < a --config file (its
top-level keys, then its [train] table) < --set overrides; the commands put an explicit option (--batch-size ...)
above all of them. --config and --set keys are checked with rlmrec.config's rules: unknown keys, values of the wrong
type and values out of range are one-line errors. A whole number given for a float setting (``--set lambda_v=1``) is
recorded as a float, as the typed option (``--lambda 1``) records it, so both give the same run.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmrec_cli.errors import LLMRecError
from llmrec_cli.rlmrec.config import check_overrides
from llmrec_cli.settings import flat, load_toml

MODELS = ("cllm4rec", "multivae")
# Zero is refused for these besides rlmrec.config.POSITIVE's (batch_size, eval_batch_size, ...): the commands' typed
# options have min=1 for them.
POSITIVE = frozenset({"max_len", "epochs", "total_anneal_steps", "hidden", "latent"})


def configs_dir() -> Path:
    env = os.environ.get("LLMREC_CLLM4REC_CONFIGS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "configs" / "cllm4rec"


def _file(model: str) -> dict:
    if model not in MODELS:
        raise LLMRecError(f"{model!r}: no configs/cllm4rec file; models with settings: {', '.join(MODELS)}")
    return load_toml(configs_dir() / f"{model}.toml")


def defaults(model: str, recipe: str | None = None) -> dict:
    """The file's [train] values with its [train.<recipe>] table over them."""
    train = _file(model).get("train", {})
    return {**flat(train), **(flat(train.get(recipe, {})) if recipe else {})}


def known_keys(model: str) -> dict:
    """Every setting of the model's file ([train] and its per-recipe tables), each with a value that gives its type."""
    train = _file(model).get("train", {})
    known = {}
    for table in (train, *(v for v in train.values() if isinstance(v, dict))):
        known.update(flat(table))
    return known


def resolve(
    model: str, recipe: str | None = None, config_file: Path | str | None = None, overrides: dict | None = None
) -> dict:
    """[train] < [train.<recipe>] < ``config_file`` < ``overrides`` (--set), both checked against the known settings."""
    known = known_keys(model)
    where = "train-cllm4rec" if model == "cllm4rec" else f"train-baseline --model {model}"
    hp = defaults(model, recipe)
    if config_file is not None:
        extra = load_toml(Path(config_file))
        values = {**flat(extra), **flat(extra.get("train", {}))}
        try:
            _check(values, known, where)
        except LLMRecError as exc:
            raise LLMRecError(f"{config_file}: {str(exc).removeprefix('--set ')}") from None
        hp.update(_as_known_types(values, known))
    _check(overrides or {}, known, where)
    hp.update(_as_known_types(overrides or {}, known))
    return hp


def _check(values: dict, known: dict, where: str) -> None:
    check_overrides(values, known, where)
    for key, value in values.items():
        if key in POSITIVE and value == 0:
            raise LLMRecError(f"--set {key}=0: must be greater than 0")


def _as_known_types(values: dict, known: dict) -> dict:
    """Whole numbers for float settings become floats (the typed options give floats)."""
    return {
        k: float(v) if isinstance(known[k], float) and isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in values.items()
    }
