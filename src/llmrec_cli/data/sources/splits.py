"""Published splits: train/valid/test as Parquet (shared/data layout), RLMRec/SSLRec pickled scipy matrices
(trn_mat.pkl, val_mat.pkl, tst_mat.pkl) or CLLM4Rec npz matrices (train_matrix.npz, val_matrix.npz, test_matrix.npz).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from llmrec_cli import safe_pickle
from llmrec_cli.data.sources.base import SPLITS, PresplitSource
from llmrec_cli.errors import LLMRecError

PARQUET_NAMES = {"train": "train.parquet", "valid": "valid.parquet", "test": "test.parquet"}
PICKLE_NAMES = {"train": "trn_mat.pkl", "valid": "val_mat.pkl", "test": "tst_mat.pkl"}
NPZ_NAMES = {"train": "train_matrix.npz", "valid": "val_matrix.npz", "test": "test_matrix.npz"}
LAYOUTS = {"parquet": PARQUET_NAMES, "pickle": PICKLE_NAMES, "npz": NPZ_NAMES}
SIDE_FILES = ("user_map.parquet", "item_map.parquet", "items.parquet", "users.parquet", "tags.parquet")


def detect_layout(folder: Path) -> str:
    if not folder.is_dir():
        raise LLMRecError(f"--source {folder}: not a folder; give the folder that holds the split files")
    for layout, names in LAYOUTS.items():
        if any((folder / n).exists() for n in names.values()):
            return layout
    expected = ", ".join("/".join(names.values()) for names in LAYOUTS.values())
    raise LLMRecError(f"--source {folder}: no split files found; expected one of: {expected}")


def files(folder: Path, options: dict) -> list[Path]:
    layout = detect_layout(folder)
    found = [folder / n for n in LAYOUTS[layout].values() if (folder / n).exists()]
    found += [folder / n for n in SIDE_FILES if (folder / n).exists()]
    if (folder / "meta.pkl").exists():
        found.append(folder / "meta.pkl")
    return found


def _missing_split(folder: Path, name: str, fname: str, options: dict) -> LLMRecError:
    hint = options.get("missing_hint") or "add the file or point --source at a folder with all three splits"
    return LLMRecError(f"{folder / fname}: the {name} split is missing; {hint}")


def _read_parquet_split(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    try:
        df = pl.read_parquet(path)
    except Exception as exc:
        raise LLMRecError(
            f"{path}: not a readable Parquet file ({type(exc).__name__}); the file is truncated or corrupt"
        ) from None
    for col in ("user_id", "item_id"):
        if col not in df.columns:
            raise LLMRecError(f"{path}: missing column '{col}' (integer ids); found columns {df.columns}")
        if not df.schema[col].is_integer():
            raise LLMRecError(f"{path}: column '{col}' has type {str(df.schema[col]).lower()}, expected integer ids")
        if df[col].null_count():
            raise LLMRecError(f"{path}: column '{col}' has {df[col].null_count()} null ids; remove those rows")
    return df["user_id"].to_numpy().astype(np.int64), df["item_id"].to_numpy().astype(np.int64), None


def _read_matrix(path: Path, layout: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    import scipy.sparse as sp  # scipy is needed to unpickle the published matrices anyway

    try:
        if layout == "pickle":
            mat = safe_pickle.load(path, safe_pickle.SCIPY_SPARSE)
        else:
            mat = sp.load_npz(path)
    except LLMRecError:
        raise
    except Exception as exc:
        raise LLMRecError(
            f"{path}: cannot load the sparse matrix ({type(exc).__name__}: {exc}); is the file complete?"
        ) from None
    if not sp.issparse(mat):
        raise LLMRecError(f"{path}: expected a scipy sparse user x item matrix, found {type(mat).__name__}")
    coo = sp.coo_matrix(mat)
    keep = coo.data != 0
    return coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), tuple(int(x) for x in coo.shape)


def _read_meta(folder: Path) -> tuple[int, int] | None:
    path = folder / "meta.pkl"
    if not path.exists():
        return None
    meta = safe_pickle.load(path, safe_pickle.NUMPY)
    try:
        return int(meta["num_users"]), int(meta["num_items"])
    except (KeyError, TypeError):
        raise LLMRecError(f"{path}: expected a dict with 'num_users' and 'num_items'") from None


def _map_frame(path: Path, id_col: str, n: int) -> pl.DataFrame | None:
    if not path.exists():
        return None
    df = pl.read_parquet(path)
    if not {"internal_id", "original_id"} <= set(df.columns):
        raise LLMRecError(f"{path}: expected columns internal_id, original_id; found {df.columns}")
    df = df.select(
        pl.col("internal_id").cast(pl.Int32).alias(id_col), pl.col("original_id").cast(pl.String).alias("raw_id")
    )
    bad = df.filter((pl.col(id_col) < 0) | (pl.col(id_col) >= n))
    if bad.height:
        raise LLMRecError(f"{path}: internal_id {bad[id_col][0]} is outside 0..{n - 1} of the split matrices")
    return df


def read(folder: Path, options: dict) -> PresplitSource:
    layout = detect_layout(folder)
    names = LAYOUTS[layout]
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    shape: tuple[int, int] | None = None
    for split in SPLITS:
        path = folder / names[split]
        if not path.exists():
            raise _missing_split(folder, split, names[split], options)
        rows, cols, sh = _read_parquet_split(path) if layout == "parquet" else _read_matrix(path, layout)
        if sh is not None:
            if shape is not None and sh != shape:
                raise LLMRecError(f"{path}: matrix shape {sh} differs from the other splits' {shape}")
            shape = sh
        pairs[split] = (rows, cols)
    n_users, n_items = _id_space(folder, pairs, shape, names)
    splits = {}
    for split, (rows, cols) in pairs.items():
        path = folder / names[split]
        for arr, n, what in ((rows, n_users, "user"), (cols, n_items, "item")):
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                bad = int(arr.max() if arr.max() >= n else arr.min())
                raise LLMRecError(
                    f"{path}: {what} id {bad} is out of range 0..{n - 1} (the id space has {n} {what}s); "
                    "the split files disagree on the id space"
                )
        df = pl.DataFrame({"user_id": rows.astype(np.int32), "item_id": cols.astype(np.int32)})
        dup = df.height - df.unique().height
        if dup:
            df = df.unique(maintain_order=True)  # binarise, as the RLMRec data handler does
        splits[split] = df.sort(["user_id", "item_id"])
    users = _map_frame(folder / "user_map.parquet", "user_id", n_users)
    items = _map_frame(folder / "item_map.parquet", "item_id", n_items)
    items = _attach_item_text(folder, items, n_items)
    return PresplitSource(
        splits=splits, n_users=n_users, n_items=n_items, files=files(folder, options), users=users, items=items
    )


def _id_space(folder: Path, pairs: dict, shape: tuple[int, int] | None, names: dict) -> tuple[int, int]:
    """Users x items: meta.pkl when present (checked against the matrices), else the matrix shape, else the
    largest id seen in the splits and the maps."""
    meta = _read_meta(folder)
    if meta is not None:
        if shape is not None and meta != shape:
            raise LLMRecError(
                f"{folder / 'meta.pkl'}: says {meta[0]} users x {meta[1]} items "
                f"but the split matrices are {shape[0]} x {shape[1]}; fix meta.pkl"
            )
        return meta
    if shape is not None:
        return shape
    n_users = max(int(r.max()) + 1 if r.size else 0 for r, _ in pairs.values())
    n_items = max(int(c.max()) + 1 if c.size else 0 for _, c in pairs.values())
    if (folder / "user_map.parquet").exists():
        n_users = max(n_users, pl.read_parquet(folder / "user_map.parquet", columns=["internal_id"]).height)
    for fname, col in (("item_map.parquet", "internal_id"), ("items.parquet", "item_id")):
        if (folder / fname).exists():
            n_items = max(n_items, pl.read_parquet(folder / fname, columns=[col]).height)
    return n_users, n_items


def _attach_item_text(folder: Path, items: pl.DataFrame | None, n_items: int) -> pl.DataFrame | None:
    path = folder / "items.parquet"
    if not path.exists():
        return items
    text = pl.read_parquet(path)
    if "item_id" not in text.columns:
        raise LLMRecError(f"{path}: missing column 'item_id'; found {text.columns}")
    text = text.with_columns(pl.col("item_id").cast(pl.Int32))
    if items is None:
        raw = next((c for c in ("product_id", "asin", "raw_id") if c in text.columns), None)
        items = pl.DataFrame({"item_id": np.arange(n_items, dtype=np.int32)}).with_columns(
            pl.col("item_id").cast(pl.String).alias("raw_id")
        )
        if raw is not None:
            items = items.drop("raw_id").join(
                text.select("item_id", pl.col(raw).cast(pl.String).alias("raw_id")), on="item_id", how="left"
            )
    extra = [c for c in text.columns if c not in items.columns]
    return items.join(text.select(["item_id", *extra]), on="item_id", how="left")
