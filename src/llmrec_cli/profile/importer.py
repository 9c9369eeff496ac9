"""`llmrec profile --import`: profiles written elsewhere (another LLM, another tool, RLMRec's own release) as a
profile artifact of the same contract `profile` writes, so that `embed`, `train-rlmrec` and `report` take them.

Sources, one table per entity: Parquet, CSV (quoted newlines allowed), JSON lines, or RLMRec's ``usr_prf.pkl`` /
``itm_prf.pkl`` ({dense id: {"profile": text, "reasoning": text}}) read as plain data only (safe_pickle). Ids are
dense (``user_id`` / ``item_id``) or raw (``raw_id`` / ``original_id``, matched through the dataset's users/items
tables); when a table has both, they must agree with the dataset. The text is ``summarization`` (or RLMRec's
``profile``), with an optional ``reasoning``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from llmrec_cli import artifacts, paths, safe_pickle
from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile.runner import FAILURE_COLUMNS, STAGE
from llmrec_cli.workdir import Workdir

ENTITIES = ("item", "user")
SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson", ".json", ".pkl")
# file names looked for in an --import folder, per entity
FOLDER_NAMES = {"user": ("users", "usr_prf"), "item": ("items", "itm_prf")}
TEXT_COLUMNS = ("summarization", "profile")
RAW_ID_COLUMNS = ("raw_id", "original_id")
MATCHES = ("auto", "dense", "raw")


@dataclass(frozen=True, kw_only=True)
class ImportRequest:
    dataset: str
    source: Path | None = None  # a folder holding one users and one items table
    users: Path | None = None  # or one file per entity
    items: Path | None = None
    model: str = "unknown"  # the LLM that wrote the profiles, as declared by the user
    name: str = "imported"  # the output folder under profiles/<dataset>/
    allow_partial: bool = False
    match: str = (
        "auto"  # a table with both id kinds: auto (dense, checked against raw), dense or raw (the other ignored)
    )
    raw_id_column: str | None = None  # the column of raw ids, when not raw_id/original_id (then matched by it alone)
    drop_unknown: bool = False  # drop rows whose raw id is not in the dataset (a profile set of a larger catalogue)
    force: bool = False


@dataclass
class ImportResult:
    folder: Path
    up_to_date: bool = False
    counts: dict = field(default_factory=dict)


def run(req: ImportRequest, workdir: Path) -> ImportResult:
    name = paths.safe_name(req.name, "--name")
    paths.safe_name(req.dataset, "--dataset")
    sources = source_files(req)
    data_folder = Workdir.of(workdir).data(req.dataset)
    if not (data_folder / artifacts.MANIFEST).is_file():
        raise LLMRecError(
            f"{data_folder}: dataset '{req.dataset}' is not prepared; "
            f"run `llmrec prepare --dataset {req.dataset}` first"
        )
    folder = Workdir.of(workdir).profiles(req.dataset, name)
    if req.match not in MATCHES:
        raise LLMRecError(f"--match {req.match}: choose one of {', '.join(MATCHES)}")
    config = {
        "import": True,
        "dataset": req.dataset,
        "model": req.model,
        "name": name,
        "allow_partial": req.allow_partial,
        "match": req.match,
        "raw_id_column": req.raw_id_column,
        "drop_unknown": req.drop_unknown,
    }
    entity_tables = {e: data_folder / f"{e}s.parquet" for e in ENTITIES}
    inputs = [*sources.values(), *entity_tables.values()]
    if not req.force and artifacts.up_to_date(folder, STAGE, config, inputs):
        return ImportResult(folder, True, (artifacts.read_manifest(folder) or {}).get("counts", {}))
    clock = artifacts.Stopwatch()
    tables, counts = {}, {}
    for entity in ENTITIES:
        known = artifacts.read_parquet(entity_tables[entity], columns=[artifacts.entity_id(entity), "raw_id"])
        frame = with_raw_id_column(read_table(sources[entity], entity), req.raw_id_column)
        table, dropped = dense_profiles(frame, entity, known, sources[entity], req.match, req.drop_unknown)
        counts[f"{entity}s"] = coverage(table, entity, known.height, sources[entity], req.allow_partial) | {
            "dropped_unknown": dropped
        }
        tables[entity] = contract_table(table, entity, req.model, name)
    manifest = artifacts.Manifest(
        STAGE,
        config,
        artifacts.describe_inputs(inputs),
        ["items.parquet", "users.parquet", "failures.parquet"],
        counts,
        0.0,
        {"model": req.model, "imported_from": {e: str(Path(p).resolve()) for e, p in sources.items()}, "prompts": None},
    )
    with artifacts.staged_dir(folder) as tmp:
        for entity in ENTITIES:
            artifacts.write_parquet(tables[entity], tmp / f"{entity}s.parquet", artifacts.profiles_schema(entity))
        artifacts.write_parquet(pl.DataFrame(schema=FAILURE_COLUMNS), tmp / "failures.parquet")
        manifest.wall_seconds = clock.seconds
        artifacts.write_json(manifest.to_dict(), tmp / artifacts.MANIFEST)
    return ImportResult(folder, False, counts)


# ------------------------------------------------------------------------------------------------ finding the files
def source_files(req: ImportRequest) -> dict[str, Path]:
    """{entity: file}: --users/--items as given, or the users and items tables found in the --import folder."""
    given = {"user": req.users, "item": req.items}
    if req.source is None:
        if not all(given.values()):
            raise LLMRecError("profile --import: give a folder (--import FOLDER) or both --users FILE and --items FILE")
        found = given
    else:
        source = Path(req.source)
        if source.is_file():
            raise LLMRecError(
                f"--import {source}: a file; give the folder holding the users and items tables, or "
                "--users FILE --items FILE"
            )
        if not source.is_dir():
            raise LLMRecError(f"--import {source}: no such folder")
        found = {e: given[e] or _find_in_folder(source, e) for e in ENTITIES}
    for entity, path in found.items():
        if not Path(path).is_file():
            raise LLMRecError(f"--{entity}s {path}: no such file")
    return {e: Path(p) for e, p in found.items()}


def _find_in_folder(folder: Path, entity: str) -> Path:
    candidates = [folder / f"{stem}{suffix}" for stem in FOLDER_NAMES[entity] for suffix in SUFFIXES]
    present = [p for p in candidates if p.is_file()]
    if len(present) > 1:
        raise LLMRecError(
            f"--import {folder}: several {entity} tables ({', '.join(p.name for p in present)}); "
            f"choose one with --{entity}s FILE"
        )
    if not present:
        names = ", ".join(f"{stem}.parquet" for stem in FOLDER_NAMES[entity])
        raise LLMRecError(
            f"--import {folder}: no {entity} table ({names}, or .csv/.jsonl/.pkl); name it so or pass --{entity}s FILE"
        )
    return present[0]


# ------------------------------------------------------------------------------------------------ reading
def read_table(path: Path, entity: str) -> pl.DataFrame:
    """The file as a frame, whatever its format; a format error is one line naming the file."""
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        return _pickle_frame(path, entity)
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema=False)  # ids stay text: raw ids like 0001 keep their zeros
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pl.read_ndjson(path)
    except Exception as exc:
        raise LLMRecError(
            f"{path}: not a readable {suffix[1:]} table ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        ) from None
    raise LLMRecError(f"{path}: unknown format {suffix or '(no suffix)'}; use one of {', '.join(SUFFIXES)}")


def _pickle_frame(path: Path, entity: str) -> pl.DataFrame:
    """RLMRec's {dense id: {"profile", "reasoning"}} (or a list by id) as a frame; plain data only."""
    data = safe_pickle.load(path)
    rows = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else None
    if rows is None:
        raise LLMRecError(
            f"{path}: expected a dict {{id: {{'profile': text, 'reasoning': text}}}} or a list, "
            f"found {type(data).__name__}"
        )
    ids, texts, reasons = [], [], []
    for key, value in rows:
        if not isinstance(key, int) or isinstance(key, bool):
            raise LLMRecError(f"{path}: key {key!r} is not an integer {entity} id")
        if isinstance(value, str):
            value = {"profile": value}
        if not isinstance(value, dict):
            raise LLMRecError(
                f"{path}: the entry of {entity} {key} is a {type(value).__name__}, expected a dict with 'profile'"
            )
        text = value.get("profile", value.get("summarization"))
        ids.append(key)
        texts.append(None if text is None else str(text))
        reasons.append(str(value.get("reasoning") or ""))
    id_col = artifacts.entity_id(entity)
    return pl.DataFrame(
        {id_col: ids, "summarization": texts, "reasoning": reasons},
        schema={id_col: pl.Int64, "summarization": pl.String, "reasoning": pl.String},
    )


# ------------------------------------------------------------------------------------------------ checking
def with_raw_id_column(df: pl.DataFrame, column: str | None) -> pl.DataFrame:
    """--raw-id-column C: C (when the table has it) becomes the only id column, matched as raw ids."""
    if column is None or column not in df.columns:
        return df
    others = [c for c in df.columns if c != column and (c in RAW_ID_COLUMNS or c.endswith("_id"))]
    return df.drop(others).rename({column: "raw_id"})


def dense_profiles(
    df: pl.DataFrame, entity: str, known: pl.DataFrame, path: Path, match: str = "auto", drop_unknown: bool = False
) -> tuple[pl.DataFrame, int]:
    """(dense id, summarization, reasoning) from a table keyed by dense ids, raw ids, or both (then checked), and
    the number of rows dropped as unknown (``drop_unknown``: raw ids that are not in the dataset)."""
    id_col = artifacts.entity_id(entity)
    text_col = next((c for c in TEXT_COLUMNS if c in df.columns), None)
    raw_col = next((c for c in RAW_ID_COLUMNS if c in df.columns), None)
    if match == "raw" and raw_col is not None:
        df = df.drop(id_col, strict=False)  # another catalogue's dense ids: match by raw id only
    elif match == "dense" and id_col in df.columns:
        raw_col = None
    if text_col is None:
        raise LLMRecError(f"{path}: no 'summarization' (or 'profile') column; found {df.columns}")
    if id_col not in df.columns and raw_col is None:
        raise LLMRecError(
            f"{path}: no id column; add '{id_col}' (dense id of the prepared dataset) or 'raw_id' "
            f"(the source's id, matched through {entity}s.parquet); found {df.columns}"
        )
    for column in (c for c in (id_col, raw_col) if c in df.columns):
        _no_missing_ids(df, column, path)  # every format and match mode passes here, before ids are cast or matched
    reasoning = pl.col("reasoning").cast(pl.String).fill_null("") if "reasoning" in df.columns else pl.lit("")
    out = df.select(
        *([pl.col(id_col)] if id_col in df.columns else []),
        *([pl.col(raw_col).cast(pl.String).alias("raw_id")] if raw_col else []),
        pl.col(text_col).cast(pl.String).alias("summarization"),
        reasoning.alias("reasoning"),
    )
    out = _examples_error(
        out,
        pl.col("summarization").is_null() | (pl.col("summarization").str.strip_chars() == ""),
        id_col if id_col in out.columns else "raw_id",
        path,
        "rows with no summarization text",
        "fill them or drop those rows (with --allow-partial they are left out)",
    )
    dropped = 0
    if id_col in out.columns:
        out = _dense_ids(out, id_col, known.height, path)
    if raw_col is not None:
        if drop_unknown:
            kept = out.join(known.select(pl.col("raw_id").cast(pl.String)), on="raw_id", how="semi")
            out, dropped = kept, out.height - kept.height
        out = _match_raw(out, id_col, known, path)
    _no_duplicates(out, id_col, path)
    return out.select(id_col, "summarization", "reasoning").sort(id_col), dropped


def _examples_error(df: pl.DataFrame, bad: pl.Expr, show: str, path: Path, what: str, fix: str) -> pl.DataFrame:
    rows = df.filter(bad)
    if rows.height:
        examples = ", ".join(repr(v) for v in rows[show].head(3).to_list())
        raise LLMRecError(f"{path}: {rows.height} {what} (e.g. {show} {examples}); {fix}")
    return df


def _no_missing_ids(df: pl.DataFrame, column: str, path: Path) -> None:
    """A null id, or NaN in a numeric id column, is refused: cast to text it would be matched as the id "NaN"."""
    ids = df[column]
    bad = (ids.is_null() | ids.is_nan()) if ids.dtype.is_float() else ids.is_null()
    if bad.any():
        rows = ", ".join(str(r) for r in bad.arg_true().head(3).to_list())
        raise LLMRecError(
            f"{path}: column '{column}': {int(bad.sum())} of {df.height} rows have no id (empty or NaN) "
            f"(e.g. rows {rows}, counted from 0); drop those rows or fill in their ids"
        )


def _dense_ids(df: pl.DataFrame, id_col: str, n: int, path: Path) -> pl.DataFrame:
    if df.schema[id_col].is_float():  # a cast would truncate 1.5 to 1, another entity's id
        _examples_error(
            df,
            ~pl.col(id_col).is_finite() | (pl.col(id_col) != pl.col(id_col).round()),
            id_col,
            path,
            "ids that are not whole numbers",
            f"give dense ids 0..{n - 1}, or name the column raw_id to match them through the dataset",
        )
    try:
        ids = df[id_col].cast(pl.Int64, strict=True)
    except Exception:
        raise LLMRecError(
            f"{path}: column '{id_col}' holds values that are not integer ids; give dense ids 0..{n - 1} "
            "or name the column raw_id to match them through the dataset"
        ) from None
    df = df.with_columns(ids.alias(id_col))
    return _examples_error(
        df,
        pl.col(id_col).is_null() | (pl.col(id_col) < 0) | (pl.col(id_col) >= n),
        id_col,
        path,
        f"ids outside 0..{n - 1} of the prepared dataset",
        "these profiles belong to another dataset or preparation",
    )


def _match_raw(df: pl.DataFrame, id_col: str, known: pl.DataFrame, path: Path) -> pl.DataFrame:
    known = known.select(pl.col(id_col).cast(pl.Int64).alias("_dense"), pl.col("raw_id").cast(pl.String))
    joined = df.join(known, on="raw_id", how="left")
    joined = _examples_error(
        joined,
        pl.col("_dense").is_null(),
        "raw_id",
        path,
        "raw ids not in the dataset",
        "these profiles belong to another dataset, or the ids are written differently (a profile "
        "set of a larger catalogue: --drop-unknown)",
    )
    if id_col in joined.columns:
        return _examples_error(
            joined,
            pl.col("_dense") != pl.col(id_col),
            id_col,
            path,
            "rows whose dense id disagrees with their raw id in the dataset",
            "the dense ids come from another preparation: drop that column to match by raw_id",
        )
    return joined.with_columns(pl.col("_dense").alias(id_col))


def _no_duplicates(df: pl.DataFrame, id_col: str, path: Path) -> None:
    dup = df.filter(pl.col(id_col).is_duplicated())[id_col].unique().sort()
    if dup.len():
        examples = ", ".join(str(v) for v in dup.head(3).to_list())
        raise LLMRecError(
            f"{path}: {dup.len()} {id_col} values appear more than once (e.g. {examples}); keep one profile per id"
        )


def coverage(df: pl.DataFrame, entity: str, n: int, path: Path, allow_partial: bool) -> dict:
    id_col = artifacts.entity_id(entity)
    missing = sorted(set(range(n)) - set(df[id_col].to_list()))
    if missing and not allow_partial:
        examples = ", ".join(str(v) for v in missing[:3])
        raise LLMRecError(
            f"{path}: {len(missing)} of {n} {entity}s have no profile (e.g. {id_col} {examples}); add them, "
            "or pass --allow-partial (embed then encodes their text as 'None', RLMRec's marker for a missing profile)"
        )
    return {
        "total": n,
        "profiled": df.height,
        "failed": 0,
        "missing": len(missing),
        "coverage": round(df.height / n, 6) if n else 0.0,
    }


def contract_table(df: pl.DataFrame, entity: str, model: str, name: str) -> pl.DataFrame:
    """The profile stage's columns; token counts are unknown for text written elsewhere (0)."""
    return df.select(
        pl.col(artifacts.entity_id(entity)).cast(pl.Int32),
        "summarization",
        "reasoning",
        pl.lit(model).alias("model"),
        pl.lit(f"import:{name}").alias("prompt_id"),
        pl.lit(0, pl.Int32).alias("input_tokens"),
        pl.lit(0, pl.Int32).alias("output_tokens"),
    )
