"""What the training stages share (train-rlmrec, train-cllm4rec, train-baseline): the options every request ends
with, the result every run returns, the run folder's life cycle, the resumable checkpoint and the run outputs.

A run lives in ``<workdir>/runs/<run-id>/``. While it trains, ``checkpoint.pt`` holds the trainer's state, the hash
of the config that produced it and every RNG state, written atomically after each epoch (or pass); ``--resume``
loads it back. A finished run has a manifest and no checkpoint. Run ids are single folder names (paths.safe_name),
``--force`` removes only a folder that a training stage made, and a finished run is never replaced without it.
Checkpoints and model files are read with ``torch.load(weights_only=True)``: tensors and plain data only.
"""

from __future__ import annotations

import contextlib
import pickle
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.paths import safe_name
from llmrec_cli.provenance import SPLIT_FILES
from llmrec_cli.workdir import Workdir

CHECKPOINT = "checkpoint.pt"
RUN_STAGES = ("train-rlmrec", "train-cllm4rec", "train-baseline")  # the stages whose manifests mark a run folder


# ------------------------------------------------------------------------------------------------ requests / results
@dataclass(kw_only=True)
class RunOptions:
    """The options every training request has (keyword arguments only, like the requests built on it)."""

    seed: int = 2023
    device: str = "auto"
    run_id: str | None = None
    resume: bool = False
    force: bool = False

    def __post_init__(self) -> None:
        if self.run_id is not None:
            safe_name(self.run_id, "--run-id")

    def run_dir(self, workdir: Path, default_id: str) -> Path:
        """``<workdir>/runs/<run_id or default_id>``."""
        return run_folder(workdir, default_id if self.run_id is None else self.run_id)


def run_folder(workdir: Path | str, run_id: str) -> Path:
    """``<workdir>/runs/<run_id>``; a run id that is not a single safe folder name is an error."""
    return Workdir.of(workdir).run(run_id)


@dataclass
class RunResult:
    run_dir: Path
    up_to_date: bool
    metrics: dict = field(default_factory=dict)  # test metrics of the selected state
    best_epoch: int = -1
    seconds: float = 0.0  # wall time of the training (0 when up to date)


# ------------------------------------------------------------------------------------------------ the run folder
def prepare_run_dir(run_dir: Path, config: dict, options: RunOptions) -> None:
    """Make ``run_dir`` ready to train into: ``--force`` clears a run folder (and nothing else); an unfinished run
    (a checkpoint) needs ``--resume`` and the same config; a finished run is kept unless ``--force`` replaces it."""
    if options.force:
        remove_run(run_dir)
    elif (run_dir / CHECKPOINT).exists():
        _check_resumable(run_dir, config, options.resume)
    elif (run_dir / artifacts.MANIFEST).exists():
        raise LLMRecError(
            f"{run_dir}: a finished run with other options or inputs is there; pass --force to replace "
            "it, or another --run-id to keep it"
        )
    run_dir.mkdir(parents=True, exist_ok=True)


def remove_run(run_dir: Path) -> None:
    """Remove ``run_dir`` when a training stage made it; any other folder (or a link) is an error, left untouched."""
    if not (run_dir.exists() or run_dir.is_symlink()):
        return
    if run_dir.is_symlink() or not run_dir.is_dir() or not is_run_folder(run_dir):
        raise LLMRecError(
            f"{run_dir}: not a run folder (no manifest.json of a training stage, no {CHECKPOINT}); "
            "--force removes only runs: choose another --run-id or move it away yourself"
        )
    shutil.rmtree(run_dir)


def is_run_folder(folder: Path) -> bool:
    """A folder a training stage made: its manifest names one, it holds a checkpoint, or it holds nothing but the
    temporary files of a run that stopped before its first checkpoint."""
    manifest = artifacts.read_manifest(folder) or {}
    if manifest.get("stage") in RUN_STAGES or (folder / CHECKPOINT).is_file():
        return True
    return all(p.name.startswith(".") and ".tmp-" in p.name for p in folder.iterdir())


def _check_resumable(run_dir: Path, config: dict, resume: bool) -> None:
    checkpoint = run_dir / CHECKPOINT
    if not resume:
        raise LLMRecError(
            f"{run_dir}: an unfinished run is there ({CHECKPOINT}); "
            "pass --resume to continue it or --force to start over"
        )
    saved = load_torch(checkpoint)
    if saved.get("config_sha256") != artifacts.config_hash(config):
        raise LLMRecError(
            f"{checkpoint}: was written with a different config; rerun with the same options or use --force"
        )
    then, now = saved.get("splits_sha256") or {}, split_hashes(run_dir, config)
    changed = [name for name in then if then[name] != now.get(name)]
    if changed:  # the rest of the training would learn from another split than the epochs already run
        raise LLMRecError(
            f"{checkpoint}: was written while {changed[0]} of dataset '{config.get('dataset')}' held another split "
            "(the dataset was prepared again since); start over on the new split with --force"
        )


def split_hashes(run_dir: Path, config: dict) -> dict:
    """sha256 of the split files of the dataset a run trains on (``config['dataset']`` under the run's workdir), which
    a checkpoint records so that ``--resume`` never continues on a split prepared again since."""
    name = config.get("dataset")
    folder = Workdir(Path(run_dir).parent.parent).data(name) if isinstance(name, str) else None
    if folder is None or not all((folder / f).is_file() for f in SPLIT_FILES):
        return {}
    return {f: artifacts.sha256_file(folder / f) for f in SPLIT_FILES}


# ------------------------------------------------------------------------------------------------ safe loading
@contextlib.contextmanager
def weights_of(path: Path | str):
    """Around a ``load_state_dict`` of weights read from ``path``: weights of another shape or naming (a model file
    copied from another run, ``--pretrained`` of another dataset) are a one-line error naming the file."""
    try:
        yield
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        if not lines or "state_dict" not in lines[0]:
            raise
        detail = lines[1] if len(lines) > 1 else lines[0]
        raise LLMRecError(
            f"{path}: its weights do not fit this model ({detail[:200]}); it comes from another run or dataset: "
            "use the file of a run of this dataset and settings, or retrain with --force"
        ) from None


def load_torch(path: Path | str, map_location: str | torch.device = "cpu", needs: tuple[str, ...] = ()) -> dict:
    """``torch.load(weights_only=True)``: tensors and plain data, plus the numpy RNG state that checkpoints written
    before it was stored as a list hold. Anything else (a crafted file) is refused before any of it runs, and so is
    a file without the keys in ``needs`` (another tool's, or a damaged one)."""
    try:
        with _numpy_rng_globals(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's note on a plain pickle's protocol
            saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a refused object, or an empty, truncated or foreign file
        raise _load_error(path, exc) from None
    if not isinstance(saved, dict):
        raise LLMRecError(f"{path}: not a checkpoint of this tool (holds a {type(saved).__name__}); rerun with --force")
    missing = [key for key in needs if key not in saved]
    if missing:
        raise LLMRecError(
            f"{path}: not a checkpoint of this tool (no '{missing[0]}'); delete it, or rerun with --force"
        )
    return saved


def _numpy_rng_globals():
    """Exactly what ``np.random.get_state()`` pickles to: an ndarray of uint32 (numpy 1.x and 2.x)."""
    if not hasattr(torch.serialization, "safe_globals"):  # torch < 2.5: such old checkpoints cannot be read there
        return contextlib.nullcontext()
    reconstruct = np.ndarray((0,)).__reduce__()[0]
    return torch.serialization.safe_globals([np.ndarray, np.dtype, type(np.dtype(np.uint32)), reconstruct])


def _load_error(path: Path | str, exc: Exception) -> LLMRecError:
    lines = str(exc).splitlines() or [""]
    refused = [line.strip() for line in lines if "GLOBAL" in line or "but got" in line]
    if isinstance(exc, pickle.UnpicklingError) and refused:
        return LLMRecError(
            f"{path}: refused: it holds objects that a checkpoint never needs, nothing from it was run "
            f"({refused[0][:160]}); delete it, or rerun with --force"
        )
    return LLMRecError(
        f"{path}: not a readable checkpoint ({type(exc).__name__}: {lines[0][:120]}); delete it, or rerun with --force"
    )


# ------------------------------------------------------------------------------------------------ the checkpoint
class RunCheckpoint:
    """``checkpoint.pt`` of one run: the trainer's state plus the config hash and the RNG states (torch, CUDA on a
    CUDA device, numpy's global one and the trainer's own ``generator`` if it has one). ``fix`` ends the message of a
    refused state (how to train without NaNs: the trainer's learning-rate option)."""

    def __init__(
        self,
        run_dir: Path,
        config: dict,
        device: torch.device,
        generator: torch.Generator | None = None,
        fix: str = "lower the learning rate and start over with --force",
    ):
        self.path = Path(run_dir) / CHECKPOINT
        self.config_sha256 = artifacts.config_hash(config)
        self.splits_sha256 = split_hashes(run_dir, config)
        self.device, self.generator, self.fix = device, generator, fix

    def save(self, state: dict) -> None:
        """Write ``state`` (tensors, optimiser states, history, ...) atomically, with the config hash and RNG states.

        A state whose weights or optimiser moments hold NaN or inf is refused before anything is written, so the
        checkpoint on disk stays the last good one: the trainers check each loss, but an update can turn weights
        into NaN (an overflowing gradient) before any loss shows it. One check per save, not per step."""
        bad = non_finite(state)
        if bad is not None:
            raise LLMRecError(
                f"{self.path.parent}: the training state holds NaN or infinite values ({bad}); stopped before "
                f"saving it, {self.kept()}; {self.fix}"
            )
        payload = {
            **state,
            "config_sha256": self.config_sha256,
            "splits_sha256": self.splits_sha256,
            "rng": self._rng_states(),
        }
        with artifacts.atomic_path(self.path) as tmp:
            torch.save(payload, tmp)

    def load(self, map_location: str | torch.device = "cpu") -> dict | None:
        """The saved state with the RNG states restored, or None when there is no checkpoint."""
        if not self.path.exists():
            return None
        saved = load_torch(self.path, map_location)
        self._restore_rng(_saved_rng(saved))
        return saved

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def kept(self, at: str | None = None) -> str:
        """For a message that stops training: what the checkpoint on disk holds (``at``: where it was written)."""
        if not self.path.exists():
            return "nothing was saved yet"
        return f"{CHECKPOINT} keeps the last good state{f' ({at})' if at else ''} for --resume"

    def _rng_states(self) -> dict:
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            "numpy": _plain_numpy_state(np.random.get_state()),
            "generator": self.generator.get_state() if self.generator is not None else None,
        }

    def _restore_rng(self, rng: dict) -> None:
        torch.set_rng_state(rng["torch"].cpu())
        if rng.get("cuda") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        if rng.get("numpy") is not None:
            np.random.set_state(rng["numpy"])
        if rng.get("generator") is not None and self.generator is not None:
            self.generator.set_state(rng["generator"].cpu())


def non_finite(state) -> str | None:
    """The key path (``model.emb.weight``) of the first floating-point tensor in ``state`` (nested dicts, lists,
    tuples) that holds NaN or inf, or None. Plain floats are not looked at (a validation metric may be NaN). One
    device-to-host transfer per device, not one per tensor."""
    found: list[tuple[str, torch.Tensor]] = []

    def walk(value, path: str) -> None:
        if isinstance(value, torch.Tensor):
            if value.layout == torch.strided and (value.is_floating_point() or value.is_complex()):
                found.append((path, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    walk(state, "")
    finite = [True] * len(found)
    by_device: dict[torch.device, list[int]] = {}
    for i, (_, tensor) in enumerate(found):
        by_device.setdefault(tensor.device, []).append(i)
    for indices in by_device.values():
        flags = torch.stack([torch.isfinite(found[i][1]).all() for i in indices]).tolist()
        for i, flag in zip(indices, flags):
            finite[i] = flag
    return next((found[i][0] for i, ok in enumerate(finite) if not ok), None)


def _plain_numpy_state(state: tuple) -> tuple:
    """numpy's legacy RNG state with its key array as a list, so that a checkpoint holds no numpy object."""
    name, keys, pos, has_gauss, gauss = state
    return (name, keys.tolist(), int(pos), int(has_gauss), float(gauss))


def _saved_rng(saved: dict) -> dict:
    """The RNG states of a checkpoint; Multi-VAE checkpoints written before this module kept them at the top level."""
    if "rng" in saved:
        return saved["rng"]
    return {"torch": saved["torch_rng"], "cuda": saved.get("cuda_rng")}


# ------------------------------------------------------------------------------------------------ outputs
def write_vectors(run_dir: Path, users: torch.Tensor, items: torch.Tensor) -> None:
    """``users.parquet`` and ``items.parquet``: one float32 vector per entity, by dense id."""
    for entity, table in (("user", users), ("item", items)):
        arr = table.detach().float().cpu().numpy()
        df = pl.DataFrame(
            {artifacts.entity_id(entity): np.arange(arr.shape[0], dtype=np.int32), "vector": arr}
        ).with_columns(pl.col("vector").cast(pl.Array(pl.Float32, arr.shape[1])))
        artifacts.write_parquet(df, run_dir / f"{entity}s.parquet", artifacts.vectors_schema(entity))


def history_frame(rows: list[dict]) -> pl.DataFrame:
    """The per-epoch (or per-pass) history rows as the ``history.parquet`` frame (epoch Int32, seconds Float64)."""
    df = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame({"epoch": [], "seconds": []})
    casts = [pl.col("epoch").cast(pl.Int32), pl.col("seconds").cast(pl.Float64)]
    return df.with_columns(casts)


def write_history(run_dir: Path, rows: list[dict]) -> None:
    artifacts.write_parquet(history_frame(rows), run_dir / "history.parquet", artifacts.HISTORY)


@dataclass(kw_only=True)
class RunEnding:
    """What every finished run records: how it was scored and its metrics (metrics.json), and its manifest."""

    stage: str
    model: str  # the name metrics.json gives the model
    recall_denominator: str  # "all" (RLMRec) or "min_k" (CLLM4Rec), docs/methods/evaluation.md
    test: dict
    valid: dict
    config: dict
    inputs: list[Path]
    outputs: list[str]
    counts: dict
    wall_seconds: float
    extra: dict
    ks: list[int] | None = None  # recorded when the run's cut-offs are not its config's
    training: dict = field(default_factory=dict)  # best_epoch, epochs_run: after valid_metrics in metrics.json


def finish_run(folder: Path, dataset, ending: RunEnding) -> None:
    """Write ``metrics.json``, then the manifest: its presence marks the run finished, so it comes last."""
    doc = {
        "split": "test",
        "model": ending.model,
        "dataset": dataset.name,
        "dataset_manifest_sha256": dataset.manifest_sha256,
        "recall_denominator": ending.recall_denominator,
        **({"ks": list(ending.ks)} if ending.ks is not None else {}),
        "metrics": ending.test,
        "valid_metrics": ending.valid,
        **ending.training,
        "config": ending.config,
    }
    artifacts.write_json(doc, folder / "metrics.json")
    manifest = artifacts.Manifest(
        stage=ending.stage,
        config=ending.config,
        inputs=artifacts.describe_inputs(ending.inputs),
        outputs=ending.outputs,
        counts=ending.counts,
        wall_seconds=ending.wall_seconds,
        extra=ending.extra,
    )
    artifacts.write_json(manifest.to_dict(), folder / artifacts.MANIFEST)
