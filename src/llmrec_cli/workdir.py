"""The work directory's layout: where each kind of artifact lives, and the one way a "name or folder" is found.

    <workdir>/data/<dataset>/                 prepare
    <workdir>/profiles/<dataset>/<name>/      profile (name: the prompt set, or --name of an import)
    <workdir>/embeddings/<dataset>/<name>/    embed (name: the encoder's, or --name)
    <workdir>/runs/<run-id>/                  train-rlmrec, train-cllm4rec, train-baseline (evaluate writes into it)
    <workdir>/experiments/<name>.json         the run ids of one experiment (llmrec --experiment NAME ...)

Every user-given name passes paths.safe_name, so a name can only point inside its folder. An option that takes
"a name or a folder" accepts an existing folder as given, else the named artifact of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmrec_cli.errors import LLMRecError
from llmrec_cli.paths import safe_name

# artifact kinds and the depth of their folders under the kind's top folder (check --all walks them)
LAYOUT = (("data", 1), ("profiles", 2), ("embeddings", 2), ("runs", 1))
_WHAT = {"data": "prepared dataset", "profiles": "profile", "embeddings": "embeddings", "runs": "run"}


@dataclass(frozen=True)
class Workdir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def of(cls, workdir: "Workdir | Path | str") -> "Workdir":
        return workdir if isinstance(workdir, Workdir) else cls(Path(workdir))

    def data(self, dataset: str, option: str = "--dataset") -> Path:
        return self.root / "data" / safe_name(dataset, option)

    def profiles(self, dataset: str, name: str | None = None, option: str = "--name") -> Path:
        folder = self.root / "profiles" / safe_name(dataset, "--dataset")
        return folder if name is None else folder / safe_name(name, option)

    def embeddings(self, dataset: str, name: str | None = None, option: str = "--name") -> Path:
        folder = self.root / "embeddings" / safe_name(dataset, "--dataset")
        return folder if name is None else folder / safe_name(name, option)

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run(self, run_id: str, option: str = "--run-id") -> Path:
        return self.runs / safe_name(run_id, option)

    def experiment(self, name: str) -> Path:
        return self.root / "experiments" / f"{safe_name(name, '--experiment')}.json"

    @classmethod
    def containing(cls, folder: Path) -> "Workdir | None":
        """The workdir whose layout holds ``folder`` (``<root>/embeddings/<dataset>/<name>`` -> ``<root>``), or None
        for a folder outside any layout (the repository's shipped artifacts)."""
        folder = Path(folder).absolute()
        for kind, depth in LAYOUT:
            if len(folder.parents) > depth and folder.parents[depth - 1].name == kind:
                return cls(folder.parents[depth])
        return None

    def relocate(self, recorded: str | Path) -> Path:
        """Where a file recorded under some workdir's layout (``.../runs/<id>/users.parquet``) lies in this one: the
        same place under this root. A path outside any layout is returned as recorded."""
        parts = Path(recorded).parts
        for kind, depth in LAYOUT:
            n = depth + 2  # the kind's folder, its name levels, the file
            if len(parts) > n and parts[-n] == kind:
                return self.root.joinpath(*parts[-n:])
        return Path(recorded)

    def find(self, spec: str | Path, kind: str, dataset: str | None = None, option: str = "", hint: str = "") -> Path:
        """The folder ``spec`` names: an existing folder as given, else the ``kind`` artifact of that name
        (runs/<spec>, embeddings/<dataset>/<spec>, profiles/<dataset>/<spec>, data/<spec>)."""
        given = Path(spec)
        if given.is_dir():
            return given
        named = self._named(str(spec), kind, dataset, option)
        if named is not None and named.is_dir():
            return named
        where = f" nor {named}" if named is not None else ""
        raise LLMRecError(
            f"{option + ' ' if option else ''}{spec}: no such {_WHAT.get(kind, kind)} folder{where}"
            + (f"; {hint}" if hint else "")
        )

    def _named(self, name: str, kind: str, dataset: str | None, option: str) -> Path | None:
        """The artifact a bare name means, or None when ``name`` is not a valid name (a path that does not exist)."""
        try:
            safe_name(name, option or kind)
        except LLMRecError:
            return None
        if kind == "runs":
            return self.run(name, option)
        if kind == "data":
            return self.data(name, option)
        if kind in ("embeddings", "profiles") and dataset is not None:
            return getattr(self, kind)(dataset, name, option)
        raise ValueError(f"Workdir.find: kind {kind!r} needs a dataset")
