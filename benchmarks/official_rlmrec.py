"""Time the official RLMRec code (HKUDS/RLMRec: a checkout you provide; nothing of it is in this repository) on our
exact Amazon-book split: its own ``Trainer.train_epoch`` (negative sampling, batches, loss, Adam) and its own
full-rank evaluation (``Trainer.test``), in this process. ``load_robustness.py --official`` runs it in a child
process beside ours, alternating.

    python benchmarks/official_rlmrec.py --official PATH/TO/RLMRec --source ../shared/data/amazon-book \
        --align gen [--epochs 1] [--threads 2] [--dim 1536] [--evaluate]

--align none, con, gen run the official lightgcn, lightgcn_plus (RLMRec-Con), lightgcn_gene (RLMRec-Gen); the
official yml settings untouched,
``--device cpu``. The official code reads its yml from ./encoder/config/modelconf/ and its data as pickles from
./data/amazon/, both relative to the working directory, and parses sys.argv when imported: this script writes the
split as scipy matrices and the semantic vectors (the same seeded ``random:DIM`` Gaussian vectors ours trains on,
so both sides multiply the same shapes) into a temporary directory, links the checkout's encoder/ there and imports
the official modules from it. It writes those pickles and never reads one. The last line printed is one JSON object:
{"model", "threads", "epoch_seconds": [...], "evaluate_seconds", "load_average"}.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

from llmrec_cli.runtime import DEFAULT_SEED

MODELS = {"none": "lightgcn", "con": "lightgcn_plus", "gen": "lightgcn_gene"}
SEMANTIC_SEED = DEFAULT_SEED  # the seed rlmrec_speed.make_trainer gives semantic.load for random:DIM


def checkout_problem(checkout: Path) -> str | None:
    """Why ``checkout`` cannot be run as the official RLMRec code, or None."""
    if not (checkout / "encoder" / "trainer" / "trainer.py").is_file():
        return f"--official {checkout}: no encoder/trainer/trainer.py there; pass a checkout of HKUDS/RLMRec"
    if not (checkout / "encoder" / "trainer" / "utils.py").is_file():  # the stored copy we timed lacked it
        return (
            f"--official {checkout}: encoder/trainer/utils.py, which its trainer imports, is missing; "
            "HKUDS/SSLRec's trainer/utils.py (a no-op writer and a log-and-reraise wrapper) stands in for it"
        )
    return None


def split_matrix(path: Path, n_users: int, n_items: int):
    """One split's (user, item) pairs as the scipy COO matrix of ones the official data handler unpickles."""
    from scipy.sparse import coo_matrix

    pairs = pl.read_parquet(path, columns=["user_id", "item_id"])
    users, items = pairs["user_id"].to_numpy(), pairs["item_id"].to_numpy()
    return coo_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=(n_users, n_items))


def write_official_data(source: Path, target: Path, dim: int) -> None:
    """trn/val/tst_mat.pkl and usr/itm_emb_np.pkl of our split, in the official layout under ``target``."""
    from llmrec_cli.rlmrec import semantic

    n_users = pl.read_parquet(source / "user_map.parquet").height
    n_items = pl.read_parquet(source / "item_map.parquet").height
    target.mkdir(parents=True)
    for name, split in (("trn", "train"), ("val", "valid"), ("tst", "test")):
        with open(target / f"{name}_mat.pkl", "wb") as f:
            pickle.dump(split_matrix(source / f"{split}.parquet", n_users, n_items), f)
    vectors = semantic.load(f"random:{dim}", target, "amazon", n_users, n_items, SEMANTIC_SEED)
    for name, table in (("usr", vectors.users), ("itm", vectors.items)):
        with open(target / f"{name}_emb_np.pkl", "wb") as f:
            pickle.dump(table.numpy(), f)


def tolerate_hardcoded_cuda() -> None:
    """The official lightgcn_plus and lightgcn_gene move the profile vectors with a hard-coded ``.cuda()``; without a
    GPU make that call return the tensor as it is (the official ``--device cpu`` covers everything else)."""
    if not torch.cuda.is_available():
        torch.Tensor.cuda = lambda tensor, *args, **kwargs: tensor


def official_trainer(checkout: Path, model_name: str):
    """(trainer, model) built exactly as the official train_encoder.py builds them, on the CPU."""
    tolerate_hardcoded_cuda()
    sys.argv = ["train_encoder.py", "--model", model_name, "--dataset", "amazon", "--device", "cpu"]
    sys.path.insert(0, str(checkout / "encoder"))
    from data_utils.build_data_handler import build_data_handler
    from models.bulid_model import build_model
    from trainer.build_trainer import build_trainer
    from trainer.logger import Logger
    from trainer.trainer import init_seed

    init_seed()
    handler = build_data_handler()
    handler.load_data()
    model = build_model(handler).to("cpu")
    trainer = build_trainer(handler, Logger())
    trainer.create_optimizer(model)
    return trainer, model


def time_official(args) -> dict:
    home = Path(tempfile.mkdtemp(prefix="official-rlmrec-"))
    cwd = os.getcwd()
    try:
        write_official_data(args.source.resolve(), home / "data" / "amazon", args.dim)
        (home / "encoder").symlink_to(args.official.resolve() / "encoder")
        os.chdir(home)
        torch.set_num_threads(args.threads)
        trainer, model = official_trainer(args.official.resolve(), MODELS[args.align])
        load = os.getloadavg()[0]
        epochs = []
        with contextlib.redirect_stdout(io.StringIO()):  # its tqdm bar and logger lines
            for epoch in range(args.epochs):
                start = time.perf_counter()
                trainer.train_epoch(model, epoch)
                epochs.append(time.perf_counter() - start)
            evaluate = None
            if args.evaluate:
                start = time.perf_counter()
                trainer.test(model)
                evaluate = time.perf_counter() - start
    finally:
        os.chdir(cwd)
        shutil.rmtree(home, ignore_errors=True)
    return {
        "model": MODELS[args.align],
        "threads": args.threads,
        "epoch_seconds": epochs,
        "evaluate_seconds": evaluate,
        "load_average": load,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", type=Path, required=True, help="a checkout of HKUDS/RLMRec (has encoder/)")
    ap.add_argument("--source", type=Path, default=Path("../shared/data/amazon-book"), help="the split's Parquet")
    ap.add_argument("--align", choices=tuple(MODELS), default="none", help="none, con (_plus) or gen (_gene)")
    ap.add_argument("--epochs", type=int, default=1, help="training epochs to time")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--dim", type=int, default=1536, help="width of the seeded random semantic vectors")
    ap.add_argument("--evaluate", action="store_true", help="also time one full-rank test evaluation")
    args = ap.parse_args(argv)
    if problem := checkout_problem(args.official):
        ap.error(problem)
    for name in ("train", "valid", "test", "user_map", "item_map"):
        if not (args.source / f"{name}.parquet").is_file():
            ap.error(f"--source {args.source}: {name}.parquet is missing; pass the amazon-book split's folder")
    if args.epochs < 1 or args.threads < 1:
        ap.error("--epochs and --threads must be >= 1")
    return args


def main() -> None:
    print(json.dumps(time_official(parse_args())))


if __name__ == "__main__":
    main()
