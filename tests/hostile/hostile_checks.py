"""What every hostile case asserts: one line on stderr naming the file or option, exit 2, no traceback, and nothing
outside the workdir touched; what a finished or failed stage may leave behind."""

from __future__ import annotations

import os
from pathlib import Path


def one_line_error(result, *fragments: str) -> str:
    """Exit 2, exactly one line on stderr, no traceback, every fragment in that line; returns the line."""
    lines = [line for line in result.err.strip().splitlines() if line]
    assert result.code == 2 and len(lines) == 1, result
    assert "Traceback" not in result.err and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def usage_error(result, option: str) -> None:
    """A value refused while the options are parsed: one line (click's message, the command, where --help is)."""
    line = one_line_error(result, option, "--help` lists the options")
    assert "Invalid value" in line or "No such option" in line, line


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every entry under ``root`` (not following links, leaving ``skip`` out) with its kind, size and mtime."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        if skip is not None and Path(folder) == skip.parent:
            dirs[:] = [d for d in dirs if Path(folder) / d != skip]
        for name in dirs + files:
            path = Path(folder) / name
            st = path.lstat()
            seen[str(path.relative_to(root))] = (st.st_mode, st.st_size if not path.is_dir() else 0, st.st_mtime_ns)
    return seen


def leftovers(workdir: Path) -> list[str]:
    """Temporary files, parked old copies, lock files and empty run folders under ``workdir``."""
    found = [
        str(p.relative_to(workdir))
        for p in workdir.rglob("*")
        if ".tmp-" in p.name or ".old-" in p.name or p.name.endswith(".lock")
    ]
    runs = workdir / "runs"
    if runs.is_dir():
        found += [str(p.relative_to(workdir)) for p in runs.iterdir() if p.is_dir() and not any(p.iterdir())]
    return sorted(found)


def write_profile_tables(folder: Path, n_users: int = 400, n_items: int = 299) -> Path:
    """users.parquet and items.parquet (dense ids, a summarization each) for `profile --import` of the demo dataset."""
    import polars as pl

    folder.mkdir(parents=True, exist_ok=True)
    for entity, n in (("user", n_users), ("item", n_items)):
        ids = list(range(n))
        frame = pl.DataFrame({f"{entity}_id": ids, "summarization": [f"{entity} {i} likes games" for i in ids]})
        frame.write_parquet(folder / f"{entity}s.parquet")
    return folder
