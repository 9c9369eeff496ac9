"""Provenance on use: a changed input is found (in a moved workdir too) and refused in one line."""

from __future__ import annotations

import pytest

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.provenance import changed_inputs, refuse_stale


def _artifact(workdir, inputs):
    """An embeddings folder whose manifest records ``inputs`` as they are now."""
    folder = workdir / "embeddings" / "demo" / "minilm"
    folder.mkdir(parents=True)
    manifest = artifacts.Manifest("embed", {}, artifacts.describe_inputs(inputs), [])
    artifacts.write_json(manifest.to_dict(), folder / artifacts.MANIFEST)
    return folder


def _profiles(workdir):
    """A profiles folder as a stage leaves it: its files and a manifest."""
    folder = workdir / "profiles" / "demo" / "p@1"
    folder.mkdir(parents=True)
    for name in ("items.parquet", "users.parquet"):
        (folder / name).write_bytes(b"v1 " + name.encode())
    artifacts.write_json(artifacts.Manifest("profile", {}, {}, []).to_dict(), folder / artifacts.MANIFEST)
    return folder


def test_only_the_changed_file_is_named_with_both_hashes(tmp_path):
    profiles = _profiles(tmp_path / "work")
    folder = _artifact(tmp_path / "work", [profiles / "items.parquet", profiles / "users.parquet"])
    assert changed_inputs(artifacts.read_manifest(folder)) == []
    (profiles / "users.parquet").write_bytes(b"v2 users")
    (changed,) = changed_inputs(artifacts.read_manifest(folder))
    assert changed.path == str((profiles / "users.parquet").resolve())
    assert changed.now == artifacts.sha256_file(profiles / "users.parquet") != changed.then


def test_refused_in_one_line_naming_folder_input_and_fix(tmp_path):
    profiles = _profiles(tmp_path / "work")
    folder = _artifact(tmp_path / "work", [profiles / "items.parquet"])
    refuse_stale(folder, "embedded", "embed again")  # unchanged: nothing to say
    (profiles / "items.parquet").write_bytes(b"v2")
    with pytest.raises(LLMRecError) as err:
        refuse_stale(folder, "embedded", "embed again")
    message = str(err.value)
    assert message.startswith(f"{folder}: embedded from another version of {profiles.resolve() / 'items.parquet'}")
    assert "then," in message and message.endswith("now); embed again") and "\n" not in message


def test_a_missing_input_or_manifest_is_not_a_change(tmp_path):
    profiles = _profiles(tmp_path / "work")
    folder = _artifact(tmp_path / "work", [profiles / "items.parquet"])
    (profiles / "items.parquet").unlink()  # made elsewhere, or moved: nothing to compare
    refuse_stale(folder, "embedded", "fix")
    refuse_stale(tmp_path / "no-manifest", "embedded", "fix")


def test_a_copied_workdir_compares_its_own_files_not_the_originals(tmp_path):
    import shutil

    profiles = _profiles(tmp_path / "work")
    _artifact(tmp_path / "work", [profiles / "items.parquet"])
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "work", copy)
    (copy / "profiles" / "demo" / "p@1" / "items.parquet").write_bytes(b"changed in the copy only")
    with pytest.raises(LLMRecError, match="copy/profiles/demo/p@1/items.parquet"):
        refuse_stale(copy / "embeddings" / "demo" / "minilm", "embedded", "fix")
    refuse_stale(tmp_path / "work" / "embeddings" / "demo" / "minilm", "embedded", "fix")  # the original is intact


def test_a_source_whose_path_looks_like_a_workdirs_is_compared_where_it_is(tmp_path):
    """A published split read from ../shared/data/<ds>/test.parquet is not the workdir's data/<ds>/test.parquet."""
    source = tmp_path / "shared" / "data" / "ab" / "test.parquet"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"the published split")
    prepared = tmp_path / "work" / "data" / "ab"
    prepared.mkdir(parents=True)
    (prepared / "test.parquet").write_bytes(b"our own test split, other bytes")
    manifest = artifacts.Manifest("prepare", {}, artifacts.describe_inputs([source]), [])
    artifacts.write_json(manifest.to_dict(), prepared / artifacts.MANIFEST)
    refuse_stale(prepared, "made", "fix")  # compared with the source itself: unchanged
    source.write_bytes(b"the split changed")
    with pytest.raises(LLMRecError, match="shared/data/ab/test.parquet"):
        refuse_stale(prepared, "made", "fix")
