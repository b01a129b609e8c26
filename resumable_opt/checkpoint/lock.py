"""One runner per checkpoint: a ``filelock`` lock plus a note of who holds it.

The lock is an OS-level lock (``flock``) on ``CKPT.lock`` (``CKPT`` being the
checkpoint's file name), so the kernel drops it when its process dies, even by
SIGKILL: a killed run never blocks the next one.  Beside it,
``CKPT.owner.json`` says who holds the lock (pid, host, since
when), for the message a refused runner prints and for ``resumable-opt show``.

Readers never touch the lock: they read the owner note and check whether that
process is still alive, so looking at a search can never delay it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

import filelock

from ..errors import CheckpointLocked
from .store import FILE_MODE, write_file_atomically

#: How long a second runner waits before it is refused.
ACQUIRE_TIMEOUT = 0.5


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def owner_path(path: Path) -> Path:
    return path.with_name(path.name + ".owner.json")


def _process_start_ticks(pid: int) -> str | None:
    """The start time of a process (Linux), to tell a live owner from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may hold spaces.
    return stat.rsplit(b")", 1)[1].split()[19].decode()


def read_owner(path: Path) -> dict | None:
    """The owner note of a checkpoint, or None when there is none."""
    try:
        return json.loads(owner_path(path).read_text())
    except (OSError, ValueError):
        return None


def running_owner(path: Path) -> dict | None:
    """The owner note if a run holds the checkpoint right now, else None.

    On another host the process cannot be checked, so its note is returned
    with ``"unverified": True``.
    """
    owner = read_owner(path)
    if not owner:
        return None
    if owner.get("host") != socket.gethostname():
        return {**owner, "unverified": True}
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    start = _process_start_ticks(pid)
    if owner.get("start_ticks") and start and start != owner["start_ticks"]:
        return None  # the pid was reused by another process
    return owner


class RunLock:
    """Exclusive right to run a search on one checkpoint.

    >>> with RunLock(Path("checkpoints/demo.ckpt")):
    ...     ...  # the only writer of the checkpoint
    """

    def __init__(self, path: Path, timeout: float = ACQUIRE_TIMEOUT) -> None:
        self.path = path
        self._lock = filelock.FileLock(str(lock_path(path)), timeout=timeout, mode=FILE_MODE)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise CheckpointLocked(self.path, read_owner(self.path)) from None
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "since_epoch": time.time(),
            "start_ticks": _process_start_ticks(os.getpid()),
        }
        write_file_atomically(owner_path(self.path), json.dumps(owner).encode())

    def release(self) -> None:
        owner_path(self.path).unlink(missing_ok=True)
        self._lock.release()

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
