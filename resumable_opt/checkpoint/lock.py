"""One runner per checkpoint: an OS lock on a file beside it, plus a note of who holds it.

The lock is an OS-level lock (``flock``) on ``CKPT.lock`` (``CKPT`` being the
checkpoint's file name), so the kernel drops it when its process dies, even by
SIGKILL: a killed run never blocks the next one.  Beside it,
``CKPT.owner.json`` says who holds the lock (pid, host, since
when), for the message a refused runner prints and for ``resumable-opt show``.

Guarantees:

* The lock is taken on the checkpoint's resolved path: a symbolic link to it,
  a relative or any other spelling of the same file takes the same lock.
* Deleting ``CKPT.lock`` during a run (it looks stale between runs) does not
  let a second runner in: a runner that gets a lock while the owner note names
  a live process refuses, and the run holding the lock checks before every
  write that its lock file is still the one it locked; if not, it locks a new
  one, or, when another run got there first, stops without writing more.
* Special files (a FIFO, a device) at ``CKPT.lock`` or ``CKPT.owner.json``
  are refused at once, never waited on.

Readers never touch the lock: they read the owner note and check whether that
process is still alive, so looking at a search can never delay it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import CheckpointError, CheckpointLocked, LockLost
from .store import (
    FILE_MODE,
    NOT_A_REGULAR_FILE,
    Loaded,
    NotARegularFile,
    read_checkpoint,
    read_regular_file,
    real_path,
    side_path,
    write_file_atomically,
)

#: How long a second runner waits before it is refused.
ACQUIRE_TIMEOUT = 0.5

REMOVE_IT = "remove it: resumable-opt writes this file itself"


def lock_path(path: Path) -> Path:
    return side_path(path, ".lock")


def owner_path(path: Path) -> Path:
    return side_path(path, ".owner.json")


def this_host() -> str:
    """The name the owner note gives this machine."""
    import socket  # here: a reader without an owner note to check needs no socket module

    return socket.gethostname()


def _process_stat(pid: int) -> tuple[str, str] | None:
    """A process's state letter and start time (Linux; None elsewhere or when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat.rsplit(b")", 1)[1].split()
    return fields[0].decode(), fields[19].decode()


def _process_start_ticks(pid: int) -> str | None:
    """The start time of a process, to tell a live owner from a reused pid."""
    stat = _process_stat(pid)
    return None if stat is None else stat[1]


def read_owner(path: Path) -> dict | None:
    """The owner note of a checkpoint, or None when there is none (or it is unreadable).

    A FIFO or a device in its place raises :class:`CheckpointError` at once.
    """
    note = owner_path(path)
    try:
        owner = json.loads(read_regular_file(note))
    except NotARegularFile:
        raise CheckpointError(note, NOT_A_REGULAR_FILE, REMOVE_IT) from None
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def running_owner(path: Path) -> dict | None:
    """The owner note if a run holds the checkpoint right now, else None.

    On another host the process cannot be checked, so its note is returned
    with ``"unverified": True``.
    """
    owner = read_owner(path)
    if not owner:
        return None
    if owner.get("host") != this_host():
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
    stat = _process_stat(pid)
    if stat is not None and stat[0] == "Z":
        # It has exited; nobody has reaped it yet (in a container whose first process does not
        # reap orphans, as after a closed terminal, it may never be).
        return None
    if owner.get("start_ticks") and stat and stat[1] != owner["start_ticks"]:
        return None  # the pid was reused by another process
    return owner


def read_with_owner(path: Path, numpy: bool = True) -> tuple[Loaded, dict | None]:
    """Read a checkpoint and who runs it now (``running_owner``), consistently.

    A run writes its end into the checkpoint before it removes its owner
    note, so a reader that finds no note after reading a run without an end
    reads again: the run may have ended in between (it is then shown as
    ended, not as killed).  Never blocks on, nor disturbs, a running search.
    """
    loaded = read_checkpoint(path, numpy)
    for _ in range(3):
        owner = running_owner(path)
        runs = loaded.data.runs
        if owner is not None or not runs or runs[-1].ended is not None:
            return loaded, owner
        loaded = read_checkpoint(path, numpy)
    return loaded, running_owner(path)


def _open_lock_file(path: Path) -> int:
    """Open (or create) the lock file of the checkpoint ``path``; refuse a special file or a read-only folder."""
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise CheckpointError(
                path,
                f"cannot create its lock file {lock.name}: {exc.strerror} (a read-only folder?)",
                "copy the checkpoint to a folder you can write to and run it there; reading it "
                "(show, best, trials, load) works where it is",
            ) from None
        raise CheckpointError(path, f"cannot create its lock file {lock.name}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(lock, NOT_A_REGULAR_FILE, REMOVE_IT)
    return fd


def _is_the_lock_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is the file at ``path`` now (not a deleted or replaced one)."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _try_lock(path: Path) -> int | None:
    """Lock the current lock file of ``path`` without waiting: its fd, or None if another process holds it."""
    import fcntl  # here: readers, which never lock, need not load it

    while True:
        fd = _open_lock_file(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _is_the_lock_file(fd, lock_path(path)):
            return fd
        os.close(fd)  # deleted or replaced between open and flock: lock the one there now


class RunLock:
    """Exclusive right to run a search on one checkpoint (see the module doc).

    >>> with RunLock(Path("checkpoints/demo.ckpt")):
    ...     ...  # the only writer of the checkpoint
    """

    def __init__(self, path: Path, timeout: float = ACQUIRE_TIMEOUT) -> None:
        self.path = real_path(path)
        self.shown = path
        self.timeout = timeout
        self._fd: int | None = None
        self._lost = False

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        while (fd := _try_lock(self.path)) is None:
            if time.monotonic() >= deadline:
                raise CheckpointLocked(self.shown, read_owner(self.path))
            time.sleep(0.02)
        try:
            # The lock file may have been deleted under a run that still holds
            # the old one: its owner note tells.
            other = running_owner(self.path)
        except BaseException:
            os.close(fd)
            raise
        if other and not other.get("unverified") and other.get("pid") != os.getpid():
            os.close(fd)
            raise CheckpointLocked(self.shown, other)
        self._fd = fd
        self._write_owner()

    def _write_owner(self) -> None:
        owner = {
            "pid": os.getpid(),
            "host": this_host(),
            "since": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "since_epoch": time.time(),
            "start_ticks": _process_start_ticks(os.getpid()),
        }
        write_file_atomically(owner_path(self.path), json.dumps(owner).encode())

    def check(self) -> None:
        """Raise :class:`LockLost` unless this run still holds the lock (called before every write).

        When the lock file was deleted (or replaced) and no other run has
        locked the new one, this run locks it and goes on.
        """
        assert self._fd is not None, "check() while the lock is held"
        if self._lost:
            raise LockLost(self.shown)
        if _is_the_lock_file(self._fd, lock_path(self.path)):
            return
        fd = _try_lock(self.path)
        if fd is None:
            self._lost = True
            raise LockLost(self.shown)
        os.close(self._fd)
        self._fd = fd
        self._write_owner()

    def release(self) -> None:
        if self._fd is None:
            return
        if not self._lost:  # else the note is the other run's
            owner_path(self.path).unlink(missing_ok=True)
        os.close(self._fd)  # the file stays: deleting it would race with the next runner
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
