"""Which RLMRec backbones and alignments exist: each is declared once, next to its code, and found here.

- A backbone is ``configs/rlmrec/<name>.toml`` with a ``[backbone]`` table (its title and its row in the paper's
  Table 1) and one section per variant it supports (``[base]``, ``[con]``, ``[gen]``, ``[kar]``), plus the module
  ``llmrec_cli/rlmrec/backbones/<name>.py`` whose ``BACKBONE`` is its class.
- An alignment is the module ``llmrec_cli/rlmrec/alignments/<name>.py`` whose ``ALIGNMENT`` is its
  :class:`~llmrec_cli.rlmrec.alignments.base.Alignment` class; its settings live in the backbones' ``[<name>]``
  sections (the base variant's in ``[base]``).

The trainer, the hyperparameter resolver, the CLI's help and `llmrec backbones`, the report and the pipelines read
these lists; nothing else names a backbone or an alignment. Names are found without importing torch; a class is
imported when it is asked for.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from llmrec_cli.errors import LLMRecError
from llmrec_cli.settings import load_toml

BACKBONE_PACKAGE = "llmrec_cli.rlmrec.backbones"
ALIGNMENT_PACKAGE = "llmrec_cli.rlmrec.alignments"
NOT_AN_ALIGNMENT = frozenset({"base"})  # the contract module of the alignments package
SEMANTIC = "semantic"  # the no-training baseline --backbone semantic: cosine of the profile vectors


def configs_dir() -> Path:
    """configs/rlmrec of the repository, or $LLMREC_CONFIGS_DIR."""
    env = os.environ.get("LLMREC_CONFIGS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "configs" / "rlmrec"


def section_of(align: str) -> str:
    """The config section holding an alignment's settings: [base] for none, else [<align>]."""
    return "base" if align == "none" else align


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    title: str  # as the paper writes it
    order: int  # its row in the paper's Table 1 (later backbones after)
    variants: tuple[str, ...]  # the alignments its config has a section for

    def load(self) -> type:
        """The backbone's class (imports torch)."""
        return importlib.import_module(f"{BACKBONE_PACKAGE}.{self.name}").BACKBONE


def backbones() -> dict[str, BackboneSpec]:
    """Every backbone with a config, in Table 1 order."""
    specs = []
    for path in configs_dir().glob("*.toml"):
        table = load_toml(path)
        if not isinstance(table.get("backbone"), dict):
            continue  # common.toml: settings of every backbone
        meta = table["backbone"]
        variants = tuple(a for a in alignment_names() if isinstance(table.get(section_of(a)), dict))
        specs.append(BackboneSpec(path.stem, str(meta.get("title", path.stem)), int(meta.get("order", 1000)), variants))
    return {spec.name: spec for spec in sorted(specs, key=lambda s: (s.order, s.name))}


def backbone(name: str) -> BackboneSpec:
    known = backbones()
    if name not in known:
        raise LLMRecError(f"--backbone {name!r}: unknown; choose one of {', '.join(known)} (or {SEMANTIC})")
    return known[name]


def alignment_names() -> tuple[str, ...]:
    """none first, then the others by name."""
    package = importlib.import_module(ALIGNMENT_PACKAGE)
    names = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in NOT_AN_ALIGNMENT]
    return tuple(sorted(names, key=lambda n: (n != "none", n)))


def alignment(name: str) -> type:
    """The alignment's class (imports torch)."""
    if name not in alignment_names():
        raise LLMRecError(f"--align {name!r}: unknown; choose one of {', '.join(alignment_names())}")
    return importlib.import_module(f"{ALIGNMENT_PACKAGE}.{name}").ALIGNMENT
