"""Strict options (issue 17): an unknown --set key, a value of the wrong type or out of range, and a number out of
range are refused before anything is read or written. Elsewhere: train-rlmrec --set (lrr, layer, lr=abc,
batch_size=0, ...) and --epochs 0/-5 in tests/rlmrec/test_train.py; train-cllm4rec/train-baseline --set in
tests/cllm4rec/test_cllm4rec_config.py; train-cllm4rec numbers in tests/cllm4rec/test_cllm4rec_train.py; --k 0 in
tests/test_cli.py; prepare --ratios 1:0:0, --kcore -1, --user-sample 0, --noise in tests/data/test_prepare.py."""

from __future__ import annotations

import pytest
from hostile_checks import one_line_error, snapshot, usage_error

TRAIN = ("train-rlmrec", "-d", "demo")
BASELINE = ("train-baseline", "-d", "demo")
PROFILE = ("profile", "-d", "demo", "--prompt", "steam", "--dry-run")
EMBED = ("embed", "-d", "demo", "--encoder", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")

ONE_LINE = [  # (arguments, fragments of the one line)
    ((*BASELINE, "--set", "dropot=0.3"), ("--set dropot", "did you mean dropout")),
    ((*BASELINE, "--set", "dropout=abc"), ("--set dropout", "expected a number")),
    ((*BASELINE, "--set", "lr=-1"), ("--set lr",)),
    ((*TRAIN, "--set", "ks=" + "[" * 3000 + "]" * 3000), ("--set ks",)),  # before: RecursionError in tomllib
    ((*TRAIN, "--set", "lr=1e999"), ("--set lr", "finite")),
    ((*TRAIN, "--set", "layers=true"), ("--set layers",)),
    ((*TRAIN, "--align", "con", "--embeddings", "random:abc"), ("--embeddings random:abc:",)),  # was an emoji
    ((*TRAIN, "--align", "con", "--embeddings", "random:1000000000"), ("--embeddings random:1000000000",)),
    ((*TRAIN, "--align", "con", "--align-weight", "inf", "--embeddings", "random:8"), ("kd_weight=inf", "finite")),
    ((*TRAIN, "--align", "none", "--align-weight", "1"), ("--align-weight",)),
    ((*TRAIN, "--backbone", "nope"), ("--backbone",)),
    (("evaluate", "r1", "--split", "train"), ("--split 'train'",)),
    (("evaluate", "r1", "--recall-denominator", "some"), ("--recall-denominator",)),
    ((*PROFILE, "--shard", "3/2"), ("--shard 3/2",)),
    ((*EMBED, "--batch-size", "0"), ("--batch-size",)),
    ((*EMBED, "--concurrency", "-1"), ("--concurrency",)),
    (("--device", "tpu", *TRAIN), ("--device tpu",)),
]


@pytest.mark.parametrize("args, fragments", ONE_LINE, ids=lambda v: " ".join(v)[:60] if isinstance(v, tuple) else "")
def test_bad_values_are_one_line_and_touch_nothing(cli, work, tmp_path, args, fragments):
    before = snapshot(tmp_path)
    one_line_error(cli(*args), *fragments)
    assert snapshot(tmp_path) == before


USAGE = [  # refused by the option's declared range while the command line is parsed (click's usage message)
    (("--seed", "-1", *TRAIN), "--seed"),  # before: numpy's ValueError traceback
    (("--seed", str(2**32), *TRAIN), "--seed"),  # before: accepted, then numpy's ValueError when training
    ((*BASELINE, "--epochs", "0"), "--epochs"),
    ((*BASELINE, "--batch-size", "0"), "--batch-size"),
    ((*BASELINE, "--lr", "-1"), "--lr"),
    (("train-cllm4rec", "-d", "demo", "--pretrain-epochs", "-1"), "--pretrain-epochs"),
    ((*PROFILE, "--limit", "0"), "--limit"),
    ((*PROFILE, "--concurrency", "0"), "--concurrency"),
    ((*PROFILE, "--attempts", "0"), "--attempts"),
    ((*PROFILE, "--temperature", "-1"), "--temperature"),
    ((*TRAIN, "--align-weight", "-1"), "--align-weight"),
    (("evaluate", "r1", "--k", "-3"), "--k"),
    (("prepare", "--dataset", "demo", "--min-eval", "-1"), "--min-eval"),
]


@pytest.mark.parametrize("args, option", USAGE, ids=lambda v: " ".join(v)[:60] if isinstance(v, tuple) else v)
def test_numbers_out_of_range_are_refused_when_parsed(cli, work, tmp_path, args, option):
    before = snapshot(tmp_path)
    usage_error(cli(*args), option)
    assert snapshot(tmp_path) == before


def test_config_files_that_are_not_toml_text(cli, work, tmp_path):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00lr = 1")
    deep = tmp_path / "deep.toml"
    deep.write_text("ks = " + "[" * 3000 + "]" * 3000 + "\n")
    for config in (binary, deep):  # before: UnicodeDecodeError and RecursionError tracebacks
        one_line_error(cli(*TRAIN, "--config", config), str(config), "not valid TOML")
        one_line_error(cli(*BASELINE, "--config", config), str(config), "not valid TOML")
    one_line_error(cli(*TRAIN, "--config", tmp_path), str(tmp_path), "a folder stands where a file is expected")
