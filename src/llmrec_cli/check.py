"""`llmrec check`: validate finished artifact folders against the contracts in :mod:`llmrec_cli.artifacts`.

A folder is whatever one stage wrote: a prepared dataset (``data/<ds>``), a profiles folder, an embeddings folder
or a run (``runs/<id>``). Its ``manifest.json`` says which stage wrote it and which files it holds; every file the
manifest lists, or the stage always writes, must exist, and every Parquet file must match its schema. Vectors must
be finite and densely indexed, split ids must fall inside the users/items tables, and ``metrics.json`` must hold a
``metrics`` dict of finite numbers. The first problem of a folder ends that folder's check; every folder given is
checked, and all the failures are listed at the end (exit 2): one line for one failure, a count and a line each for
several.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from llmrec_cli.errors import LLMRecError
from llmrec_cli.provenance import refuse_a_changed_split, refuse_stale
from llmrec_cli.workdir import LAYOUT, Workdir

if TYPE_CHECKING:
    import polars as pl

    from llmrec_cli.artifacts import Schema

# Every `llmrec` invocation imports this module to register the command, so polars, numpy and
# llmrec_cli.artifacts (which loads polars, ~0.4 s) are imported inside the functions that use them.
MANIFEST = "manifest.json"  # = artifacts.MANIFEST

RUN_STAGES = ("train-rlmrec", "train-cllm4rec", "train-baseline")
# where each kind of folder sits under the workdir, for --all: (top folder, depth below it)


def _failures_schema() -> Schema:
    from llmrec_cli import artifacts
    from llmrec_cli.profile.runner import FAILURE_COLUMNS  # the profile stage owns this table's columns

    return artifacts.Schema("profile failures", tuple(artifacts.Column(n, t) for n, t in FAILURE_COLUMNS.items()))


def _known_files(stage: str) -> dict[str, Schema]:
    """Parquet files a stage may write, with their schemas."""
    from llmrec_cli import artifacts

    vectors = {"users.parquet": artifacts.vectors_schema("user"), "items.parquet": artifacts.vectors_schema("item")}
    if stage == "prepare":
        splits = {f"{s}.parquet": artifacts.SPLIT for s in ("train", "valid", "test")}
        return {
            **splits,
            "users.parquet": artifacts.USERS,
            "items.parquet": artifacts.ITEMS,
            "reviews.parquet": artifacts.REVIEWS,
        }
    if stage == "profile":
        return {
            "items.parquet": artifacts.profiles_schema("item"),
            "users.parquet": artifacts.profiles_schema("user"),
            "failures.parquet": _failures_schema(),
        }
    if stage == "embed":
        return vectors
    if stage in RUN_STAGES:
        return {**vectors, "history.parquet": artifacts.HISTORY}
    return {}


# files a stage always writes, whatever its manifest says (a manifest with a short list is itself a problem)
REQUIRED = {
    "prepare": ("train.parquet", "valid.parquet", "test.parquet", "users.parquet", "items.parquet"),
    "profile": ("items.parquet", "users.parquet", "failures.parquet"),
    "embed": ("items.parquet", "users.parquet"),
    **{stage: ("metrics.json",) for stage in RUN_STAGES},
}


@dataclass
class FolderReport:
    folder: Path
    stage: str
    counts: dict[str, int] = field(default_factory=dict)  # file -> rows (Parquet) or metric count (metrics.json)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{name.removesuffix('.parquet')} {n:,}" for name, n in self.counts.items()]
        tail = "; ".join(self.notes)
        return f"ok {self.folder} ({self.stage}): {', '.join(parts) or 'no files'}" + (f" [{tail}]" if tail else "")


# ------------------------------------------------------------------------------------------------ manifest
def read_manifest(folder: Path) -> dict:
    from llmrec_cli import artifacts

    path = folder / MANIFEST
    if not path.is_file():
        raise LLMRecError(
            f"{path}: missing; the stage that writes {folder} did not finish (rerun it, or --resume a "
            "training run) or this is not an artifact folder"
        )
    manifest = artifacts.read_json(path)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stage"), str):
        raise LLMRecError(f"{path}: no 'stage' field; rerun the stage that wrote {folder} with --force")
    outputs = manifest.get("outputs", [])
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise LLMRecError(f"{path}: 'outputs' must be a list of file names; rerun the stage with --force")
    version = manifest.get("schema_version")
    if version != artifacts.SCHEMA_VERSION:
        raise LLMRecError(
            f"{path}: schema version {version}, this llmrec reads version {artifacts.SCHEMA_VERSION}; "
            "rerun the stage with --force"
        )
    return manifest


def expected_files(folder: Path, manifest: dict) -> list[str]:
    """The manifest's outputs, the stage's required files, and every known Parquet file that is present."""
    stage = manifest["stage"]
    present = [name for name in _known_files(stage) if (folder / name).is_file()]
    evaluated = sorted(p.name for p in folder.glob("per_user_*.parquet"))
    return list(dict.fromkeys([*REQUIRED.get(stage, ()), *manifest.get("outputs", []), *present, *evaluated]))


# ------------------------------------------------------------------------------------------------ file checks
def check_vectors(df: pl.DataFrame, path: Path, id_col: str) -> None:
    """Vectors must be finite, of one width, and cover ids 0..n-1 exactly once (evaluate indexes them by row)."""
    import numpy as np
    import polars as pl

    ids = df[id_col]
    if ids.n_unique() != df.height or (df.height and (ids.min() != 0 or ids.max() != df.height - 1)):
        raise LLMRecError(
            f"{path}: column '{id_col}' must hold each id 0..{df.height - 1} once; rerun the stage with --force"
        )
    vec = df["vector"]
    widths = vec.arr.len() if isinstance(vec.dtype, pl.Array) else vec.list.len()
    if widths.n_unique() > 1:
        raise LLMRecError(
            f"{path}: column 'vector' mixes widths {sorted(widths.unique().to_list())}; rerun the stage with --force"
        )
    if not np.isfinite(vec.explode().to_numpy()).all():
        raise LLMRecError(
            f"{path}: column 'vector' holds NaN or infinite values; rerun the stage (a diverged training "
            "run needs a lower learning rate)"
        )


def check_per_user(path: Path) -> int:
    """`evaluate`'s per-user table: user_id, n_truth and one numeric column per metric@k."""
    import numpy as np

    from llmrec_cli import artifacts

    df = artifacts.read_parquet(path)
    for name in ("user_id", "n_truth"):
        if name not in df.columns or not df.schema[name].is_integer():
            raise LLMRecError(f"{path}: needs an integer column '{name}'; rerun `llmrec evaluate` on the run")
    metric_cols = [c for c in df.columns if "@" in c]
    if not metric_cols:
        raise LLMRecError(f"{path}: no metric@k columns; rerun `llmrec evaluate` on the run")
    for name in metric_cols:
        if not df.schema[name].is_numeric() or not np.isfinite(df[name].to_numpy()).all():
            raise LLMRecError(f"{path}: column '{name}' must hold finite numbers; rerun `llmrec evaluate` on the run")
    return df.height


def check_metrics(path: Path) -> int:
    """metrics.json: a non-empty `metrics` dict (and `valid_metrics`, `splits.<split>.metrics` when present) of
    finite numbers."""
    try:
        doc = json.loads(path.read_text(), parse_constant=lambda name: float(name))  # keeps NaN/Infinity to report them
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise LLMRecError(f"{path}: not valid JSON ({reason}); rerun `llmrec evaluate` on the run") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict) or not doc["metrics"]:
        raise LLMRecError(f"{path}: no 'metrics' dict; rerun `llmrec evaluate` on the run")
    for key, table in _metric_tables(doc).items():
        if table is not None and not isinstance(table, dict):
            raise LLMRecError(f"{path}: {key} is not a dict of metrics; rerun `llmrec evaluate` on the run")
        for name, value in (table or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise LLMRecError(
                    f"{path}: {key}['{name}'] is {value!r}, not a finite number; rerun the run or `llmrec evaluate`"
                )
    return len(doc["metrics"])


def _metric_tables(doc: dict) -> dict:
    """{where: metrics dict} of a metrics.json: test, training's validation, and each split `evaluate` recorded."""
    splits = doc.get("splits") if isinstance(doc.get("splits"), dict) else {}
    return {
        "metrics": doc["metrics"],
        "valid_metrics": doc.get("valid_metrics"),
        **{f"splits.{s}.metrics": e.get("metrics") if isinstance(e, dict) else e for s, e in splits.items()},
    }


def check_file(folder: Path, name: str, stage: str) -> int | None:
    """Validate one listed file; returns its row (or metric) count, None for opaque files (checkpoints, models)."""
    from llmrec_cli import artifacts

    path = folder / name
    if not path.is_file():
        raise LLMRecError(f"{path}: missing, though the {stage} stage writes it; rerun the stage with --force")
    schema = _known_files(stage).get(name)
    if schema is not None:
        df = artifacts.read_parquet(path, schema)
        if "vector" in df.columns:
            check_vectors(df, path, schema.columns[0].name)
        return df.height
    if name.startswith("per_user_") and name.endswith(".parquet"):
        return check_per_user(path)
    if name == "metrics.json":
        return check_metrics(path)
    if name.endswith(".parquet"):
        return artifacts.read_parquet(path).height  # unknown table: it must at least be readable
    if path.stat().st_size == 0:
        raise LLMRecError(f"{path}: file is empty (0 bytes); rerun the stage with --force")
    return None


# ------------------------------------------------------------------------------------------------ cross-file checks
def check_split_ids(folder: Path) -> None:
    """Every split's ids must index into users.parquet / items.parquet (dense ids 0..n-1)."""
    import polars as pl

    n_users = pl.scan_parquet(folder / "users.parquet").select(pl.len()).collect().item()
    n_items = pl.scan_parquet(folder / "items.parquet").select(pl.len()).collect().item()
    for split in ("train", "valid", "test"):
        path = folder / f"{split}.parquet"
        top = pl.read_parquet(path, columns=["user_id", "item_id"]).select(
            pl.all().min().name.suffix("_min"), pl.all().max().name.suffix("_max")
        )
        if top.height and top["user_id_min"][0] is not None:
            if top["user_id_min"][0] < 0 or top["user_id_max"][0] >= n_users:
                raise LLMRecError(
                    f"{path}: user_id outside 0..{n_users - 1} (users.parquet); rerun `llmrec prepare --force`"
                )
            if top["item_id_min"][0] < 0 or top["item_id_max"][0] >= n_items:
                raise LLMRecError(
                    f"{path}: item_id outside 0..{n_items - 1} (items.parquet); rerun `llmrec prepare --force`"
                )


def check_counts(folder: Path, manifest: dict, rows: dict[str, int]) -> None:
    """Row counts must match what the manifest recorded (catches a file swapped in from another run)."""
    counts = manifest.get("counts") or {}
    wanted = {}
    if manifest["stage"] == "prepare":
        wanted = {
            "users.parquet": counts.get("users"),
            "items.parquet": counts.get("items"),
            **{f"{s}.parquet": counts.get(f"{s}_interactions") for s in ("train", "valid", "test")},
        }
    elif manifest["stage"] == "embed":
        wanted = {f"{e}.parquet": (counts.get(e) or {}).get("vectors") for e in ("users", "items")}
    elif manifest["stage"] in RUN_STAGES:
        wanted = {"users.parquet": counts.get("users"), "items.parquet": counts.get("items")}
    for name, expected in wanted.items():
        if isinstance(expected, int) and name in rows and rows[name] != expected:
            raise LLMRecError(
                f"{folder / name}: {rows[name]:,} rows but the manifest recorded {expected:,}; "
                "the file was replaced, rerun the stage with --force"
            )


# ------------------------------------------------------------------------------------------------ folders
def check_folder(folder: Path) -> FolderReport:
    folder = Path(folder)
    manifest = read_manifest(folder)
    stage = manifest["stage"]
    report = FolderReport(folder, stage)
    for name in expected_files(folder, manifest):
        n = check_file(folder, name, stage)
        if n is not None:
            report.counts["metrics" if name == "metrics.json" else name] = n
    check_counts(folder, manifest, report.counts)
    if stage == "prepare":
        check_split_ids(folder)
    data_folder = folder.parent.parent / "data" / str(manifest.get("config", {}).get("dataset"))
    if stage in RUN_STAGES and folder.parent.name == "runs" and data_folder.is_dir():
        refuse_a_changed_split(folder, manifest, data_folder)
    made = "trained" if stage in RUN_STAGES else "made"
    refuse_stale(folder, made, f"rerun `llmrec {stage}` for it with --force, or restore that input")
    if stage not in REQUIRED:
        report.notes.append(f"stage '{stage}' has no known contract: files only checked to be readable")
    return report


def resolve(path: Path, workdir: Path) -> Path:
    """A folder as given, else relative to the workdir, else a run id under <workdir>/runs."""
    if (workdir / path).is_dir() and not path.is_dir():
        return workdir / path
    try:
        return Workdir.of(workdir).find(path, "runs")
    except LLMRecError:
        raise LLMRecError(
            f"{path}: no such folder (nor under {workdir}); give an artifact folder such as "
            f"{workdir / 'data' / 'NAME'} or a run id"
        ) from None


def discover(workdir: Path) -> list[Path]:
    """Every artifact folder under the workdir (hidden temporary folders of running stages are skipped)."""
    found = []
    for top, depth in LAYOUT:
        pattern = "/".join(["[!.]*"] * depth)
        found += sorted(p for p in (workdir / top).glob(pattern) if p.is_dir())
    if not found:
        raise LLMRecError(f"--all: no artifact folders under {workdir}; check --workdir")
    return found


def run(
    paths: list[Path],
    workdir: Path,
    every: bool = False,
    on_ok: Callable[[FolderReport], None] = lambda r: None,
    on_failures: Callable[[list[str]], None] = lambda f: None,
) -> list[FolderReport]:
    """Check every folder given (and with ``every`` all under the workdir), calling ``on_ok`` for each good one; a
    bad folder does not stop the others. At the end, one failure is raised as it is; several go to ``on_failures``
    (one message each) and are raised as their count."""
    if not paths and not every:
        raise LLMRecError("llmrec check: give artifact folders (data/NAME, runs/ID, ...) or --all")
    failures: list[str] = []
    folders = [folder for p in paths if (folder := _attempt(failures, resolve, Path(p), workdir))]
    folders += (_attempt(failures, discover, workdir) or []) if every else []
    reports = []
    for folder in dict.fromkeys(folders):
        report = _attempt(failures, check_folder, folder)
        if report is not None:
            reports.append(report)
            on_ok(report)
    if len(failures) > 1:
        on_failures(failures)
        raise LLMRecError(f"{len(failures)} of {len(failures) + len(reports)} checks failed (each listed above)")
    if failures:
        raise LLMRecError(failures[0])
    return reports


def _attempt(failures: list[str], step: Callable, *args):
    """``step(*args)``, or None with its error appended to ``failures``."""
    try:
        return step(*args)
    except LLMRecError as exc:
        failures.append(str(exc))
        return None
