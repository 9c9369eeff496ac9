"""Provenance on use: are the files an artifact was made from still the ones on disk?

Every manifest records the sha256 of its inputs. A stage that reads an artifact folder refuses it when one of those
inputs has changed since (embeddings made from profiles that were written again, a run scored against a split that
was prepared again); ``check`` reports the same. An input that is no longer at its recorded path is not compared:
the workdir was moved, or the artifact was made on another machine (the repository's shipped folders).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmrec_cli import artifacts
from llmrec_cli.errors import LLMRecError
from llmrec_cli.workdir import Workdir


@dataclass(frozen=True)
class Change:
    path: str
    then: str  # sha256 recorded by the manifest
    now: str  # sha256 of the file on disk now

    def describe(self) -> str:
        return f"{self.path} (sha256 {self.then[:12]} then, {self.now[:12]} now)"


def changed_inputs(manifest: dict, workdir: Workdir | None = None) -> list[Change]:
    """The recorded inputs whose content differs now (re-hashed only when a file's size or mtime moved). With the
    ``workdir`` the artifact lives in, an input recorded inside a workdir's layout is looked for at the same place
    in this one first (a copied or moved workdir compares its own files)."""
    changes = []
    for recorded, then in (manifest.get("inputs") or {}).items():
        path = _where_now(recorded, workdir)
        if not isinstance(then, dict) or path is None:
            continue
        now = artifacts.sha256_file(path, then)
        if now != then.get("sha256"):
            changes.append(Change(str(path), str(then.get("sha256")), now))
    return changes


def _where_now(recorded: str, workdir: Workdir | None) -> Path | None:
    """The file to compare: the same place in this workdir when the recorded file was an artifact of a workdir (its
    folder has a manifest) or is gone; else as recorded (a source such as ../shared/data/<ds>/test.parquet keeps
    its place even though its path looks like a workdir's)."""
    path = Path(recorded)
    was_artifact = not path.exists() or (path.parent / artifacts.MANIFEST).is_file()
    relocated = workdir.relocate(recorded) if workdir is not None and was_artifact else None
    for candidate in (relocated, path):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def refuse_stale(folder: Path, made: str, fix: str) -> None:
    """Refuse ``folder`` when an input its manifest recorded has changed: one line naming the folder, the input,
    both hashes and ``fix``. ``made`` says how the folder came from its inputs ("embedded", "profiled")."""
    manifest = artifacts.read_manifest(folder)
    if manifest is None:
        return  # vectors made elsewhere: nothing recorded to compare
    changes = changed_inputs(manifest, Workdir.containing(folder))
    if changes:
        more = f" and {len(changes) - 1} more changed input(s)" if len(changes) > 1 else ""
        raise LLMRecError(f"{folder}: {made} from another version of {changes[0].describe()}{more}; {fix}")


SPLIT_FILES = ("train.parquet", "valid.parquet", "test.parquet")


def refuse_a_changed_split(run_dir: Path, manifest: dict, data_folder: Path) -> None:
    """A run scored against a split other than the one it was trained on counts its own training items as hits; the
    split files' sha256 recorded by training must match the dataset's files now (evaluate and check call this). The
    files are matched by their place in the workdir (``/data/<dataset>/<file>``), so a moved workdir still checks."""
    recorded = manifest.get("inputs", {})
    for name in SPLIT_FILES:
        suffix = f"/data/{data_folder.name}/{name}"
        then = next((v for k, v in recorded.items() if k.endswith(suffix)), None)
        if then is None:
            continue
        now = artifacts.sha256_file(data_folder / name, then)
        if now != then.get("sha256"):
            raise LLMRecError(
                f"{run_dir}: trained on another version of {data_folder / name} (the dataset was prepared again "
                f"since: sha256 {str(then.get('sha256'))[:12]} then, {now[:12]} now); retrain "
                "it (train with --force) or evaluate it in the workdir it was trained in"
            )
