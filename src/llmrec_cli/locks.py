"""An advisory lock per output folder, so that two processes never write the same run at once.

The lock is ``fcntl.flock`` on a hidden sibling file (``runs/.<id>.lock``): ``--force`` may remove and recreate the
folder itself while the lock is held. The holder writes its pid into the file for the message a second writer gets,
and removes the file when it is done; the kernel drops the lock on any exit, ``kill -9`` included. A folder left
empty when the lock is released (a start that failed before its first output) is removed with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from llmrec_cli.errors import LLMRecError


def lock_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.lock")


@contextlib.contextmanager
def folder_lock(folder: Path | str) -> Iterator[None]:
    """Hold the lock of ``folder`` for the block; a second writer gets a one-line error naming the holder's pid."""
    path = lock_path(Path(folder))
    fd = _acquire(path, Path(folder))
    try:
        yield
    finally:
        _remove_if_empty(Path(folder))  # a start that failed leaves no empty run folder behind
        path.unlink(missing_ok=True)  # still ours: a file is only ever removed by the process that holds its lock
        os.close(fd)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not there, not empty, or a link: nothing to do
        if not folder.is_symlink():
            folder.rmdir()


def _acquire(path: Path, folder: Path) -> int:
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LLMRecError(
                f"another process is writing {folder} (pid {holder}); wait for it to finish or choose another --run-id"
            ) from None
        if _still_there(fd, path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)  # the previous holder removed the file between our open and our lock: take a fresh one


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LLMRecError(
            f"{path}: cannot create the lock file ({exc.strerror}); is the work directory writable?"
        ) from None


def _still_there(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False
