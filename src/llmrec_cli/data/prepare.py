"""The `prepare` stage: raw files or a published split -> dense-id train/valid/test Parquet with item text.

``run(config, workdir, force)`` is what ``llmrec prepare`` calls; a notebook or a test can call it the same way.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from llmrec_cli import artifacts
from llmrec_cli.data import filters, recipes, split
from llmrec_cli.data.sources.base import SPLITS, PresplitSource, RawSource
from llmrec_cli.errors import LLMRecError
from llmrec_cli.workdir import Workdir

STAGE = "prepare"
FORMATS = {
    "split": "llmrec_cli.data.sources.splits",
    "table": "llmrec_cli.data.sources.table",
    "amazon": "llmrec_cli.data.sources.amazon",
    "yelp": "llmrec_cli.data.sources.yelp",
    "steam": "llmrec_cli.data.sources.steam",
}


@dataclass
class PrepareConfig:
    dataset: str
    format: str
    source: str | None
    source_options: dict = field(default_factory=dict)
    dedupe: bool = True
    min_rating: float | None = None
    start: str | None = None
    end: str | None = None
    pre_kcore: int = 0  # k-core on the full data before user sampling (steam-text)
    user_sample: float | None = None
    user_k: int = 0
    item_k: int = 0
    split: str = "ratio"
    ratios: list[float] = field(default_factory=lambda: [0.6, 0.2, 0.2])
    min_eval: int = 0
    noise: float = 0.0
    seed: int = 2023
    item_columns: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)
    # the recipe the dataset came from (`--name` renames the output): recorded beside the config, not in it, so that
    # later stages pick the recipe's hyperparameters for a renamed or noised copy
    recipe: str | None = None


@dataclass
class PrepareResult:
    folder: Path
    up_to_date: bool
    stats: dict


def config_from_recipe(name: str | None, recipe_path: Path | None, overrides: dict) -> PrepareConfig:
    """Recipe values, then every override that is not None (command-line options win)."""
    if name is None and recipe_path is None and overrides.get("source") is not None:
        name = "custom"  # a bare --source is read as a generic CSV/Parquet table
    recipe, folder = recipes.load(name, recipe_path)
    src, flt, spl = recipe["source"], recipe.get("filters", {}), recipe.get("split", {})
    source = src.get("path")
    if source:
        source = str((folder / source).resolve())
    kcore = flt.get("kcore", 0)
    cfg = PrepareConfig(
        dataset=recipe.get("name", name or Path(folder).name),
        recipe=recipe.get("name", name or Path(folder).name),
        format=src["format"],
        source=source,
        source_options=dict(src.get("options", {})),
        dedupe=flt.get("dedupe", True),
        min_rating=flt.get("min_rating"),
        start=flt.get("start"),
        end=flt.get("end"),
        pre_kcore=flt.get("pre_kcore", 0),
        user_sample=flt.get("user_sample"),
        user_k=flt.get("user_k", kcore),
        item_k=flt.get("item_k", kcore),
        split=spl.get("method", "ratio"),
        ratios=list(spl.get("ratios", [0.6, 0.2, 0.2])),
        min_eval=spl.get("min_eval", 0),
        seed=spl.get("seed", 2023),
        item_columns=dict(recipe.get("items", {}).get("columns", {})),
        expect=dict(recipe.get("expect", {})),
    )
    cfg.source_options.setdefault("missing_hint", src.get("missing_hint"))
    hint = src.get("hint", "")
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "kcore":
            cfg.user_k = cfg.item_k = value
        elif key in (
            "user_col",
            "item_col",
            "rating_col",
            "time_col",
            "review_col",
            "items_path",
            "items_key",
            "meta_path",
        ):
            cfg.source_options[key] = value
        elif key == "source":
            cfg.source = str(Path(value).resolve())
        else:
            setattr(cfg, key, value)
    if cfg.source is None:
        raise LLMRecError(f"--dataset {cfg.dataset}: needs --source PATH. {hint}".strip())
    if cfg.format not in FORMATS:
        raise LLMRecError(f"--format {cfg.format!r}: unknown; choose one of {', '.join(FORMATS)}")
    if not 0 <= cfg.noise < 1:
        raise LLMRecError(f"--noise {cfg.noise}: expected a fraction of the training set in [0, 1)")
    if cfg.user_sample is not None and not _valid_sample(cfg.user_sample):
        raise LLMRecError(f"--user-sample {cfg.user_sample}: expected a fraction in (0, 1) or a whole user count >= 1")
    split.parse_ratios(cfg.ratios)
    return cfg


def _valid_sample(size: float) -> bool:
    return 0 < size < 1 or (size >= 1 and float(size).is_integer())


def _reader(fmt: str):
    return importlib.import_module(FORMATS[fmt])


def output_folder(workdir: Path, dataset: str) -> Path:
    """``<workdir>/data/<dataset>``: the output name (``--name``, else the recipe's) must be one safe folder name."""
    return Workdir.of(workdir).data(dataset, "--name")


def run(cfg: PrepareConfig, workdir: Path, force: bool = False) -> PrepareResult:
    folder = output_folder(workdir, cfg.dataset)
    reader = _reader(cfg.format)
    source = Path(cfg.source)
    if not source.exists():
        raise LLMRecError(f"--source {source}: no such file or folder")
    config = _config_dict(cfg)
    input_files = reader.files(source, cfg.source_options)
    if not force and artifacts.up_to_date(folder, STAGE, config, input_files):
        return PrepareResult(folder, True, (artifacts.read_manifest(folder) or {}).get("counts", {}))
    clock = artifacts.Stopwatch()
    data = reader.read(source, cfg.source_options)
    if isinstance(data, PresplitSource):
        tables, log = _from_presplit(data, cfg)
    else:
        tables, log = _from_raw(data, cfg)
    if cfg.noise:
        tables["train"] = add_fake_interactions(tables, cfg.noise, cfg.seed)
    stats = _stats(tables, log, cfg)
    manifest = artifacts.Manifest(
        stage=STAGE,
        config=config,
        inputs=artifacts.describe_inputs(data.files),
        outputs=[f"{name}.parquet" for name in tables],
        counts=stats,
        extra={"recipe": cfg.recipe or cfg.dataset, "notes": getattr(data, "notes", [])},
    )
    with artifacts.staged_dir(folder) as tmp:
        schemas = {"users": artifacts.USERS, "items": artifacts.ITEMS, "reviews": artifacts.REVIEWS}
        for name, df in tables.items():
            artifacts.write_parquet(df, tmp / f"{name}.parquet", schemas.get(name, artifacts.SPLIT))
        manifest.wall_seconds = clock.seconds
        stats["wall_seconds"] = round(clock.seconds, 3)
        artifacts.write_json(manifest.to_dict(), tmp / artifacts.MANIFEST)
    return PrepareResult(folder, False, stats)


def _config_dict(cfg: PrepareConfig) -> dict:
    d = asdict(cfg)
    d.pop("recipe")
    d["source_options"] = {k: v for k, v in d["source_options"].items() if v is not None and k != "missing_hint"}
    return d


# ------------------------------------------------------------------------------------------- raw interactions
def _from_raw(data: RawSource, cfg: PrepareConfig) -> tuple[dict[str, pl.DataFrame], list[dict]]:
    df = data.interactions
    where = f"--source {cfg.source}"
    if df.height == 0:
        raise LLMRecError(f"{where}: the source has no interactions; check the file")
    # every raw source's rows pass here, before ids become codes: one check for ids and ratings serves them all
    filters.check_interactions(df, where, data.columns)
    df, vocab = _encode_ids(df)
    log = filters.FilterLog()
    log.steps.append(
        {
            "filter": "read",
            "rows_removed": 0,
            "rows": df.height,
            "users": vocab["user"].len(),
            "items": vocab["item"].len(),
        }
    )
    if cfg.dedupe:
        df = log.record("dedupe (user, item)", df, filters.dedupe(df))
    if cfg.min_rating is not None:
        df = log.record(f"rating >= {cfg.min_rating:g}", df, filters.min_rating(df, cfg.min_rating))
    if cfg.start is not None or cfg.end is not None:
        df = log.record(f"time window [{cfg.start}, {cfg.end})", df, filters.time_window(df, cfg.start, cfg.end))
    if cfg.pre_kcore > 1:
        df = log.record(f"k-core {cfg.pre_kcore} before sampling", df, filters.k_core(df, cfg.pre_kcore, cfg.pre_kcore))
    if cfg.user_sample:
        df = log.record(f"user sample {cfg.user_sample:g}", df, filters.sample_users(df, cfg.user_sample, cfg.seed))
    if cfg.user_k > 1 or cfg.item_k > 1:
        before = df.height
        df = log.record(
            f"k-core (users {cfg.user_k}, items {cfg.item_k})", df, filters.k_core(df, cfg.user_k, cfg.item_k)
        )
        if df.height == 0:
            raise LLMRecError(
                f"--kcore: the {cfg.user_k}/{cfg.item_k}-core of {before} interactions is empty; lower --kcore "
                "or prepare more data"
            )
    if df.height == 0:
        raise LLMRecError(
            f"{where}: no interactions left after filtering; loosen --min-rating, --start/--end or --user-sample"
        )
    parts = split.split(df, cfg.split, cfg.ratios, cfg.seed, cfg.min_eval)
    return _densify(parts, data, cfg, vocab), log.steps


def _encode_ids(df: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, pl.Series]]:
    """Raw string ids -> integer codes in raw-id sort order (filters.id_codes), plus the sorted ids to decode them.

    Every filter and splitter then sorts, samples and groups integers, with the same results as on the strings.
    """
    vocab = {}
    for column in ("user", "item"):
        codes, vocab[column] = filters.id_codes(df[column])
        df = df.with_columns(codes)
    return df, vocab


def _densify(
    parts: dict[str, pl.DataFrame], data: RawSource, cfg: PrepareConfig, vocab: dict[str, pl.Series]
) -> dict[str, pl.DataFrame]:
    """Id codes -> dense 0..n-1 ids (sorted by raw id), keeping the raw ids and text in users/items tables."""
    everything = pl.concat([parts[s] for s in SPLITS])
    users, user_ids = _dense_ids(everything["user"], vocab["user"], "user")
    items, item_ids = _dense_ids(everything["item"], vocab["item"], "item")

    def relabel(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(
            user_id=pl.Series(user_ids[df["user"].to_numpy()]), item_id=pl.Series(item_ids[df["item"].to_numpy()])
        )

    tables: dict[str, pl.DataFrame] = {}
    keep = [c for c in ("rating", "timestamp") if c in everything.columns]
    for name in SPLITS:
        tables[name] = relabel(parts[name]).select("user_id", "item_id", *keep).sort(["user_id", "item_id"])
    tables["users"] = _entity_table(users, data.users, "user", {})
    tables["items"] = _entity_table(items, data.items, "item", cfg.item_columns)
    if "review" in everything.columns:
        reviews = relabel(
            everything.filter(pl.col("review").is_not_null() & (pl.col("review").str.strip_chars() != ""))
        )
        tables["reviews"] = reviews.select("user_id", "item_id", pl.col("review").alias("text"), *keep).sort(
            ["user_id", "item_id"]
        )
    return tables


def _dense_ids(codes: pl.Series, vocab: pl.Series, entity: str) -> tuple[pl.DataFrame, np.ndarray]:
    """The kept ids as a (``<entity>_id``, raw id) table, and the code -> dense id lookup array."""
    present = np.zeros(vocab.len(), dtype=bool)
    present[codes.to_numpy()] = True
    dense = (np.cumsum(present) - 1).astype(np.int32)
    table = pl.DataFrame(
        {f"{entity}_id": np.arange(int(present.sum()), dtype=np.int32), entity: vocab.filter(pl.Series(present))}
    )
    return table, dense


def _entity_table(ids: pl.DataFrame, text: pl.DataFrame | None, entity: str, columns: dict) -> pl.DataFrame:
    id_col = f"{entity}_id"
    table = ids.select(id_col, pl.col(entity).alias("raw_id"))
    if text is None:
        return table
    text = text.unique(entity, keep="first", maintain_order=True)
    text = _select_columns(text, columns, entity)
    return table.join(text, left_on="raw_id", right_on=entity, how="left").sort(id_col)


def _select_columns(text: pl.DataFrame, columns: dict, key: str) -> pl.DataFrame:
    """Apply a recipe's ``[items.columns]`` mapping {output name: source column}; keep everything when empty."""
    if not columns:
        return text.drop([c for c in ("raw_id", "item_id", "user_id") if c in text.columns and c != key])
    missing = [src for src in columns.values() if src not in text.columns]
    if missing:
        raise LLMRecError(
            f"item text: columns {missing} named in the recipe's [items.columns] are not in the source ({text.columns})"
        )
    return text.select(key, *[pl.col(src).alias(out) for out, src in columns.items()])


# ------------------------------------------------------------------------------------------- published splits
def _from_presplit(data: PresplitSource, cfg: PrepareConfig) -> tuple[dict[str, pl.DataFrame], list[dict]]:
    tagged = pl.concat([data.splits[s].with_columns(pl.lit(s).alias("_split")) for s in SPLITS])
    dup = tagged.filter(pl.struct("user_id", "item_id").is_duplicated())
    if dup.height:
        row = dup.row(0, named=True)
        where = sorted(
            set(dup.filter((pl.col("user_id") == row["user_id"]) & (pl.col("item_id") == row["item_id"]))["_split"])
        )
        raise LLMRecError(
            f"--source {cfg.source}: the pair (user {row['user_id']}, item {row['item_id']}) is in both {where[0]} and "
            f"{where[1]} ({dup.height // 2} pairs overlap); each pair must be in one split only, fix the split files"
        )
    tables = {s: data.splits[s] for s in SPLITS}
    ids_u = pl.DataFrame({"user_id": np.arange(data.n_users, dtype=np.int32)})
    ids_i = pl.DataFrame({"item_id": np.arange(data.n_items, dtype=np.int32)})
    tables["users"] = _presplit_entities(ids_u, data.users, "user_id", {})
    tables["items"] = _presplit_entities(ids_i, data.items, "item_id", cfg.item_columns)
    steps = [
        {
            "filter": "published split (no filtering)",
            "rows_removed": 0,
            "rows": tagged.height,
            "users": data.n_users,
            "items": data.n_items,
        }
    ]
    return tables, steps


def _presplit_entities(ids: pl.DataFrame, table: pl.DataFrame | None, id_col: str, columns: dict) -> pl.DataFrame:
    if table is None:
        return ids.with_columns(pl.col(id_col).cast(pl.String).alias("raw_id"))
    if columns:
        table = table.select(id_col, "raw_id", *[pl.col(src).alias(out) for out, src in columns.items()])
    out = ids.join(table, on=id_col, how="left")
    return out.with_columns(pl.col("raw_id").fill_null(pl.col(id_col).cast(pl.String)))


# ------------------------------------------------------------------------------------------- noise, stats
def add_fake_interactions(tables: dict[str, pl.DataFrame], ratio: float, seed: int) -> pl.DataFrame:
    """Add ratio * |train| uniformly drawn (user, item) pairs that occur in no split (RLMRec RQ3 noise)."""
    train = tables["train"]
    n_users, n_items = tables["users"].height, tables["items"].height
    need = int(round(ratio * train.height))
    existing = pl.concat([tables[s].select("user_id", "item_id") for s in SPLITS])
    rng = np.random.default_rng(seed + 7919)
    fake = pl.DataFrame(schema={"user_id": pl.Int32, "item_id": pl.Int32})
    while fake.height < need:
        k = int((need - fake.height) * 1.2) + 16
        cand = pl.DataFrame(
            {
                "user_id": rng.integers(0, n_users, k, dtype=np.int32),
                "item_id": rng.integers(0, n_items, k, dtype=np.int32),
            }
        )
        cand = cand.unique(maintain_order=True).join(existing, on=["user_id", "item_id"], how="anti")
        fake = pl.concat([fake, cand]).unique(maintain_order=True)
    fake = fake.head(need)
    fill = [pl.lit(None, dtype=train.schema[c]).alias(c) for c in train.columns if c not in ("user_id", "item_id")]
    return pl.concat([train, fake.with_columns(fill).select(train.columns)]).sort(["user_id", "item_id"])


def _stats(tables: dict[str, pl.DataFrame], steps: list[dict], cfg: PrepareConfig) -> dict:
    n_users, n_items = tables["users"].height, tables["items"].height
    stats = {
        "users": n_users,
        "items": n_items,
        **{f"{s}_interactions": tables[s].height for s in SPLITS},
        **{f"{s}_users": tables[s]["user_id"].n_unique() for s in SPLITS},
        "train_density": tables["train"].height / max(1, n_users * n_items),
        "reviews": tables["reviews"].height if "reviews" in tables else 0,
        "item_text_columns": [c for c in tables["items"].columns if c not in ("item_id", "raw_id")],
        "filters": steps,
    }
    if cfg.noise:
        stats["fake_train_interactions"] = int(round(cfg.noise * (tables["train"].height / (1 + cfg.noise))))
    if cfg.expect:
        got = {
            "users": n_users,
            "items": n_items,
            "train": tables["train"].height,
            "valid": tables["valid"].height,
            "test": tables["test"].height,
        }
        stats["expected"] = {
            k: {"expected": v, "got": got.get(k), "ok": got.get(k) == v} for k, v in cfg.expect.items()
        }
    return stats
