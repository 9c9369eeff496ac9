"""The one exception type a user should ever see: a clear, one-line, actionable message."""

from __future__ import annotations

import errno
import os

from llmrec_cli.redact import redact


class LLMRecError(Exception):
    """Bad input or a failed precondition. The CLI prints the message on one line and exits with code 2.

    Messages name the file, column, row or option at fault and say how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(redact(" ".join(str(message).split())))  # no credential ever reaches a message


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
_OS_HINTS = {
    errno.EACCES: "check that folder's permissions or choose another --workdir",
    errno.EPERM: "check that folder's permissions or choose another --workdir",
    errno.EROFS: "the file system is read-only: choose a writable --workdir",
    errno.ENOSPC: "free some space on that disk (or choose a --workdir on another), then rerun to resume",
    errno.EDQUOT: "your disk quota is used up: free some space or choose another --workdir, then rerun",
    errno.EFBIG: "the file is too large for that file system: choose a --workdir on another",
    errno.ENOTDIR: "a file stands where a folder is expected: move it away or choose another --workdir",
    errno.EISDIR: "a folder stands where a file is expected: move it away or give the file's path",
    errno.EEXIST: "something is in the way at that path: move it away or choose another --workdir",
    errno.ELOOP: "the path goes through a symbolic link loop: fix or remove the link",
    errno.ENOENT: "check that the path exists (a folder on the way may have been removed)",
    errno.ENAMETOOLONG: "the path is too long: choose a shorter --workdir or name",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) or lower --concurrency",
    errno.ENFILE: "too many open files on this machine: close some programs or raise the limit",
    errno.EIO: "the disk reported an input/output error: check the disk, then rerun",
    errno.EBUSY: "the path is busy (in use or a mount point): choose another --workdir",
}


def os_error_message(exc: OSError) -> str:
    """One line for an OSError that escaped a stage: ``<what> <path>: <strerror>; <fix hint>``."""
    what = "cannot write" if exc.errno in _WRITE_ERRNOS else "cannot use"
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = f" {' -> '.join(paths)}" if paths else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _OS_HINTS.get(exc.errno, "check that path and its folder, then rerun (-vv shows where it happened)")
    return f"{what}{where}: {reason}; {hint}"


_LIBRARIES = {"sqlite3": "SQLite", "polars": "polars", "pyarrow": "Arrow"}
_SYMLINK_LOOP = "Symlink loop from "  # pathlib.Path.resolve's RuntimeError before Python 3.13 (an OSError since)


def escaped_error_message(exc: Exception) -> str | None:
    """One line for an error of SQLite, polars or pyarrow (a damaged, locked or unwritable file) or a symbolic link
    loop that escaped a stage without a message naming its file; None for anything else (a bug: its traceback)."""
    if isinstance(exc, RuntimeError) and str(exc).startswith(_SYMLINK_LOOP):
        path = str(exc)[len(_SYMLINK_LOOP) :].strip("'\"")
        return os_error_message(OSError(errno.ELOOP, os.strerror(errno.ELOOP), path))
    library = _LIBRARIES.get(type(exc).__module__.partition(".")[0])
    if library is None:
        return None
    reason = (str(exc).strip().splitlines() or [""])[0][:200]
    return (
        f"{library} {type(exc).__name__}: {reason}; a file it read or wrote is damaged, locked by another process or "
        "on a full disk: fix or remove that file, then rerun (-vv shows where it happened)"
    )
