"""Gather every finished run of a workdir into one table: what was trained on what, and its test metrics.

Everything is read from the artifacts' manifests (run, dataset, embeddings), never from run names, so a run is
reported the same way whichever pipeline or person made it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.workdir import Workdir

RUN_STAGES = ("train-rlmrec", "train-cllm4rec", "train-baseline")
# config keys that may differ between runs that are still "the same experiment": repeated seeds, the noised copy of
# a dataset, the real or shuffled vectors of one encoder (the variant column tells those apart)
NOT_EXPERIMENT_KEYS = ("seed", "dataset", "embeddings")


@dataclass(frozen=True)
class Embeddings:
    """What a run aligned with: the encoder folder's name, whether rows were shuffled,
    whether the vectors are random."""

    name: str | None = None
    shuffled: bool = False
    random: bool = False


def read_runs(workdir: Path, only: list[str] | None = None) -> pl.DataFrame:
    """One row per run folder under ``<workdir>/runs`` (or of the ``only`` run ids) with test metrics; metric
    columns are named like recall@20."""
    rows = []
    origins = dataset_origins(Path(workdir))
    for folder in sorted(Workdir.of(workdir).runs.glob("*/")):
        if only is not None and folder.name not in only:
            continue
        row = _run_row(folder, Path(workdir), origins)
        if row is not None:
            rows.append(row)
    if not rows:
        return pl.DataFrame(schema=_BASE_SCHEMA)
    return pl.DataFrame(rows, schema_overrides=_BASE_SCHEMA, infer_schema_length=None)


_BASE_SCHEMA = {
    "run": pl.String,
    "stage": pl.String,
    "config_key": pl.String,
    "dataset": pl.String,
    "base_dataset": pl.String,
    "noise": pl.Float64,
    "model": pl.String,
    "variant": pl.String,
    "embeddings": pl.String,
    "shuffled": pl.Boolean,
    "random_vectors": pl.Boolean,
    "seed": pl.Int64,
    "epochs_run": pl.Int64,
    "best_epoch": pl.Int64,
    "seconds_per_epoch": pl.Float64,
    "wall_seconds": pl.Float64,
    "recall_denominator": pl.String,
}


def _run_row(folder: Path, workdir: Path, origins: dict[str, tuple[str, float]]) -> dict | None:
    manifest = artifacts.read_manifest(folder)
    metrics = _read_metrics(folder / "metrics.json")
    if manifest is None or manifest.get("stage") not in RUN_STAGES or metrics is None:
        return None  # unfinished, foreign or not evaluated on test: nothing to report
    config = manifest.get("config", {})
    dataset = str(config.get("dataset"))
    base_dataset, noise = origins.get(dataset, (dataset, 0.0))
    emb = _embeddings(config.get("embeddings"), workdir)
    counts = manifest.get("counts", {})
    row = {
        "run": folder.name,
        "stage": manifest["stage"],
        "config_key": experiment_key(config),
        "dataset": dataset,
        "base_dataset": base_dataset,
        "noise": noise,
        "model": _model_name(manifest, config),
        "variant": _variant(config, emb, workdir),
        "embeddings": emb.name,
        "shuffled": emb.shuffled,
        "random_vectors": emb.random,
        "seed": config.get("seed"),
        "epochs_run": counts.get("epochs_run"),
        "best_epoch": counts.get("best_epoch"),
        "seconds_per_epoch": manifest.get("seconds_per_epoch"),
        "wall_seconds": manifest.get("wall_seconds"),
        "recall_denominator": metrics.get("recall_denominator"),
    }
    row.update({k: float(v) for k, v in metrics["metrics"].items()})
    return row


def experiment_key(config: dict) -> str:
    """A short hash of the run's configuration without the keys that repeated seeds or noise levels change."""
    return artifacts.config_hash({k: v for k, v in config.items() if k not in NOT_EXPERIMENT_KEYS})[:10]


def _read_metrics(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("split") != "test" or not isinstance(data.get("metrics"), dict):
        return None
    return data


def _model_name(manifest: dict, config: dict) -> str:
    if manifest["stage"] == "train-rlmrec":
        return str(config.get("backbone"))
    if manifest["stage"] == "train-cllm4rec":
        return "cllm4rec"
    return str(config.get("model"))


def _weight_key(align: str) -> str | None:
    """The setting that weighs the alignment's term (rlmrec/registry.py): at 0 a run has the variant's settings but
    no alignment. None for the base variant, KAR, or an alignment this version does not have."""
    from llmrec_cli.rlmrec import registry

    try:
        return registry.alignment(align).weight_key
    except LLMRecError:
        return None


def _variant(config: dict, emb: Embeddings, workdir: Path) -> str:
    """base / con / gen / kar for RLMRec runs, with +shuffled or +random when the vectors are not the real ones, +w0
    when the alignment weight is 0 (whatever the vectors: they then play no part), and +key=value,... when other
    settings differ from the configs' (+custom when that list is long; such a run is not the paper's row: Table 1
    leaves it out)."""
    align = config.get("align")
    if align is None:
        return "-"
    variant = "base" if align == "none" else str(align)
    if config.get("backbone") == "semantic":
        variant = "semantic-only"
    weight = _weight_key(str(align))
    if weight is not None and config.get(weight) == 0:
        return variant + "+w0"
    custom = custom_settings(config, workdir) if variant != "semantic-only" else {}
    if custom:
        variant += "+" + settings_label(custom)
    if emb.shuffled:
        variant += "+shuffled"
    elif emb.random:
        variant += "+random"
    return variant


MAX_SETTINGS_LABEL = 40


def settings_label(custom: dict) -> str:
    """kd_temperature=0.5 (sorted, comma-separated), or "custom" past MAX_SETTINGS_LABEL characters."""
    label = ",".join(f"{key}={value}" for key, value in sorted(custom.items()))
    return label if len(label) <= MAX_SETTINGS_LABEL else "custom"


RUN_KEYS = frozenset({"dataset", "seed", "embeddings"})  # what a run records besides its hyperparameters


def custom_settings(config: dict, workdir: Path) -> dict:
    """The recorded settings of an RLMRec run that differ from what the configs give its backbone, variant and recipe
    today (--set, --config, --epochs ...); settings the configs gained since the run are not counted."""
    from llmrec_cli.rlmrec import config as rl_config
    from llmrec_cli.settings import recipe_of

    try:
        official = rl_config.resolve(
            str(config["backbone"]), str(config["align"]), recipe_of(workdir, config["dataset"])
        )
    except (KeyError, LLMRecError):
        return {}
    return rl_config.changed({k: v for k, v in config.items() if k not in RUN_KEYS}, official)


def _embeddings(spec: str | None, workdir: Path) -> Embeddings:
    if not spec:
        return Embeddings()
    if str(spec).startswith("random:"):
        return Embeddings(name=str(spec), random=True)
    folder = Path(spec)
    if not folder.is_absolute() and not folder.is_dir():
        folder = workdir / folder
    manifest = artifacts.read_manifest(folder) or {}
    shuffled = bool(manifest.get("config", {}).get("shuffle", False))
    return Embeddings(name=folder.name, shuffled=shuffled)


def dataset_origins(workdir: Path) -> dict[str, tuple[str, float]]:
    """{prepared dataset: (the clean dataset it is a noised copy of, or itself; its injected-noise fraction)}.

    `prepare --name X --noise F` records X as the dataset, so the clean twin is found by its configuration: the
    same recipe, source, filters, split and seed, without noise.
    """
    configs = {}
    for manifest_path in sorted(Path(workdir).glob("data/*/manifest.json")):
        manifest = artifacts.read_manifest(manifest_path.parent) or {}
        configs[manifest_path.parent.name] = manifest.get("config", {})

    def recipe(config: dict) -> str:
        return artifacts.config_hash({k: v for k, v in config.items() if k not in ("dataset", "noise")})

    clean = {recipe(c): name for name, c in configs.items() if not c.get("noise")}
    origins = {}
    for name, config in configs.items():
        noise = float(config.get("noise") or 0.0)
        origins[name] = (clean.get(recipe(config), name) if noise else name, noise)
    return origins
