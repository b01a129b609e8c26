"""Reading and writing checkpoint files, crash-safely.

A checkpoint file is written in two ways only:

* :meth:`CheckpointStore.write_snapshot` writes the whole search to a new
  file in the same folder, fsyncs it, keeps the current file as ``NAME.bak``
  (the previous good state, for recovery: a hard link, or where the
  filesystem has none, such as vfat or many FUSE mounts, a copy written and
  fsynced beside it then renamed into place) and renames the new file over
  the old one, then fsyncs the folder.  A kill at any moment leaves either the
  old file or the new one, never a mix, and ``NAME.bak`` always holds a whole
  earlier state.
* :meth:`CheckpointStore.append` adds journal records at the end of the
  current file in one ``write`` call, and with ``durable=True`` fsyncs it
  before returning.  A kill during an append leaves at most a torn tail,
  which :func:`read_checkpoint` recognises and drops (see ``records.py``).

Every file beside a checkpoint is named after the checkpoint's whole file
name (:func:`side_path`: ``NAME.bak``, ``NAME.lock``, ``NAME.best.json``...),
so two checkpoints in one folder never share one.  Writers work on the
checkpoint's resolved path (:func:`real_path`): a symbolic link to it stays a
link, and no later change of the working folder moves the files.

Only the runner that holds the checkpoint's lock writes; readers never lock.
Records are data only (``encoding.py``); reading one never runs code from it.
Files are created readable and writable by their owner only (0600): a
checkpoint may hold the objective's code, pickled, which resuming runs.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import CheckpointCorrupt, CheckpointError, CheckpointNotFound, CheckpointUndecodable, CheckpointWriteError
from . import journal, records
from .journal import SearchData

FILE_MODE = 0o600
#: The journal is folded into a fresh snapshot once it is larger than the
#: snapshot itself and than this.  Each snapshot then holds a constant
#: fraction more trials than the one before, so the bytes written per trial
#: stay bounded however long the search (amortised O(1)), and the file stays
#: within twice its snapshot (about a plain pickle of the ``Trials``), or the
#: snapshot plus this, give or take one trial's records.  Small, because
#: folding a small journal costs next to nothing.
MIN_COMPACTION_BYTES = 64 << 10


def real_path(path: str | Path) -> Path:
    """The absolute path of the file ``path`` names, symbolic links followed.

    Resolved once, when a command or a run starts: an objective that changes
    the working folder cannot move the checkpoint, and every spelling of one
    file (a link, ``./``, ``..``) gives the same path, hence the same lock.
    """
    return Path(os.path.realpath(os.path.abspath(path)))


def make_folder(path: Path) -> None:
    """Create the folder of the checkpoint ``path`` if needed; a clear error where that is not possible."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot create its folder: {exc.strerror or exc}"
        raise CheckpointError(path, problem, "choose a folder you can write to") from None


def side_path(path: Path, suffix: str) -> Path:
    """A file kept beside the checkpoint ``path``: its whole name plus ``suffix``."""
    return path.with_name(path.name + suffix)


def backup_path(path: Path) -> Path:
    """Where the previous good state of ``path`` is kept."""
    return side_path(path, ".bak")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` so that readers see the old or the new file.

    A failure (disk full, file-size limit, I/O error) raises
    :class:`CheckpointWriteError` naming the file and leaves ``path`` as it was.
    """
    tmp = path.with_name(f"{_temp_prefix(path)}{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    except OSError as exc:
        raise CheckpointWriteError(path, f"create {tmp.name}", exc) from None
    try:
        _write_all(fd, content)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise CheckpointWriteError(path, f"write {path.name}", exc) from None
        raise


#: What ``link()`` fails with on a filesystem without hard links (vfat,
#: exFAT, FUSE mounts such as gcsfuse or s3fs, some SMB shares).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS, errno.EINVAL}


def keep_copy(source: Path, target: Path) -> None:
    """Make ``target`` a copy of ``source`` as it is now, replacing any ``target`` atomically.

    A hard link where the filesystem has them; elsewhere the bytes are
    written to a temporary file beside ``target``, fsynced and renamed over
    it.  Either way ``target`` is at all times absent, its old content or a
    whole copy of ``source``; a killed copy leaves only a temporary file,
    which the next run deletes.  Raises ``OSError``.
    """
    staging = target.with_name(f"{_temp_prefix(target)}{os.getpid()}")
    staging.unlink(missing_ok=True)
    try:
        os.link(source, staging)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        _copy_file(source, staging)
    os.replace(staging, target)


def _copy_file(source: Path, target: Path) -> None:
    """Write a copy of ``source`` at ``target`` (new) and fsync it; no partial ``target`` is left behind."""
    with open(source, "rb") as src:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            while chunk := src.read(1 << 20):
                _write_all(fd, chunk)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            target.unlink(missing_ok=True)
            raise
        os.close(fd)


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class Loaded:
    """A checkpoint as read from disk.

    (A plain class, not a dataclass: see ``journal._Record``.)"""

    def __init__(
        self,
        data: SearchData,
        torn_bytes: int,
        size: int,
        version: int = records.FORMAT_VERSION,
        payloads: list[bytes] | None = None,
    ) -> None:
        self.data = data
        #: Bytes of an interrupted append dropped from the end of the file.
        self.torn_bytes = torn_bytes
        self.size = size
        #: The file's format version (1: pickled records, read only for conversion).
        self.version = version
        #: The intact records, to decode again with numpy values (``SearchState.trials``).
        self.payloads: list[bytes] = [] if payloads is None else payloads


def _not_a_checkpoint_advice(head: bytes) -> str:
    if head.startswith(b"\x80"):
        return (
            "it looks like a plain pickle, e.g. a hyperopt Trials or trials_save_file; "
            "bring it over with `resumable-opt import`"
        )
    if head.lstrip().startswith((b"{", b"[")):
        return "it looks like a JSON file (the best-so-far file?); pass the checkpoint itself"
    return "check the path"


NOT_A_REGULAR_FILE = "is not a regular file (a pipe or a device?)"


class NotARegularFile(OSError):
    """A FIFO, a device or a socket where a file was expected."""


def read_regular_file(path: Path) -> bytes:
    """The content of ``path``, opened without blocking: a FIFO, a device or a
    socket raises :class:`NotARegularFile` at once, never waits for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise NotARegularFile(f"{path} is not a regular file")
        return handle.read()


def read_bytes(path: Path) -> bytes:
    """The raw content of a checkpoint, with clear errors for the usual mistakes.

    Only a regular file is read: a FIFO or a device where the checkpoint
    should be is refused at once (opened without blocking), never waited on.
    """
    try:
        return read_regular_file(path)
    except NotARegularFile:
        raise CheckpointCorrupt(path, NOT_A_REGULAR_FILE, "pass the checkpoint file itself") from None
    except FileNotFoundError:
        raise CheckpointNotFound(path, "no such checkpoint", "check the path") from None
    except IsADirectoryError:
        raise CheckpointCorrupt(
            path, "is a folder, not a checkpoint file", "pass the checkpoint file inside it"
        ) from None
    except PermissionError:
        raise CheckpointError(path, "permission denied", "run as the user who owns the checkpoint") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read: {exc.strerror or exc}") from None


def encode_checkpoint(data: SearchData, ops: Sequence[tuple] = ()) -> tuple[bytes, bytes, bytes]:
    """The bytes of a checkpoint file holding ``data`` then ``ops``: (header, snapshot, journal)."""
    header = records.encode_header()
    snapshot = records.encode_record(journal.encode_op(journal.snapshot_op(data)))
    tail = b"".join(records.encode_record(journal.encode_op(op)) for op in ops)
    return header, snapshot, tail


#: What reading a format-1 file means, for the notes that mention it.
PICKLE_FORMAT_NOTE = (
    "it is in the first checkpoint format (pickled records): reading it unpickles them, which can run code, "
    "so open only files you trust; the next run (resume, minimize, fmin) converts it to the data-only format"
)


def undecodable(path: Path, exc: BaseException) -> CheckpointUndecodable:
    """The error for records whose checksums match and whose content does not decode here."""
    if isinstance(exc, (ModuleNotFoundError, AttributeError)) and "module" in str(exc):
        why = f"a class or function it names cannot be imported here ({type(exc).__name__}: {exc})"
    else:
        why = f"{type(exc).__name__}: {exc}"
    return CheckpointUndecodable(
        path,
        f"every record matches its checksum, so nothing is damaged, but it cannot be decoded here ({why})",
        "read it where it was written (same folder, same modules installed), or with the resumable-opt "
        "version that wrote it; do not recover it: nothing needs recovering",
    )


def parse_checkpoint(content: bytes, path: Path, numpy: bool = True) -> Loaded:
    """Decode a checkpoint's bytes; raise a clear :class:`CheckpointError` when damaged.

    Records whose checksums match are never called damaged: when they do not
    decode (a format-1 pickle naming a class not importable here, a newer
    writer's record) the error is :class:`CheckpointUndecodable`.
    ``numpy=False`` gives numpy scalars as Python numbers (``encoding.py``).
    """
    if content and records.MAGIC.startswith(content):
        raise CheckpointCorrupt(
            path, f"cut short after {len(content)} bytes, inside its header", records.RECOVER_ADVICE
        )
    if not content.startswith(records.MAGIC) and content:
        raise CheckpointCorrupt(path, "not a resumable-opt checkpoint", _not_a_checkpoint_advice(content[:16]))
    scan = records.read_records(content, path)
    if not scan.payloads:
        raise CheckpointCorrupt(path, "the checkpoint holds no intact snapshot", records.RECOVER_ADVICE)
    try:
        data = journal.replay(scan.payloads, scan.version, numpy)
    except Exception as exc:  # checksums matched, yet the content does not decode
        raise undecodable(path, exc) from None
    return Loaded(data, scan.torn_bytes, len(content), scan.version, scan.payloads)


def read_checkpoint(path: Path, numpy: bool = True) -> Loaded:
    """Read and decode a checkpoint.  Never blocks on, nor disturbs, a running search.

    When the file is damaged and a previous good state is kept beside it
    (``NAME.bak``), the error says so and how to get it back.
    """
    try:
        return parse_checkpoint(read_bytes(path), path, numpy)
    except CheckpointCorrupt as exc:
        if "resumable-opt recover" in exc.advice or not backup_path(path).is_file():
            raise
        advice = f"{exc.advice}; the previous good state is kept in {backup_path(path).name}: {records.RECOVER_ADVICE}"
        raise CheckpointCorrupt(path, exc.problem, advice) from None


class CheckpointStore:
    """The one writer of a checkpoint file.  The caller must hold the run lock.

    ``check_lock``, when given, is called before every write and raises if
    the lock is no longer held (its file was deleted and another run took the
    checkpoint): nothing more is then written.
    """

    def __init__(
        self, path: Path, min_compaction_bytes: int = MIN_COMPACTION_BYTES, check_lock: Callable[[], None] | None = None
    ) -> None:
        self.path = path
        self.min_compaction_bytes = min_compaction_bytes
        self._check_lock = check_lock or (lambda: None)
        self._fd: int | None = None
        self._end = 0  # offset just past the last complete record
        self._snapshot_bytes = 0
        self._journal_bytes = 0
        #: Counters for tests and benchmarks: what the store has written.
        self.appended_records = 0
        self.appended_bytes = 0
        self.snapshots_written = 0
        self.snapshot_bytes_written = 0

    # -- writing -----------------------------------------------------------

    def remove_stale_temporaries(self, *others: Path) -> None:
        """Delete half-written files left by a killed run: snapshots, the
        backup's staging link, and those of ``others`` (files written with
        :func:`write_file_atomically` by the lock holder only)."""
        from glob import escape as glob_escape  # here: only a run needs it, reading does not

        for path in (self.path, backup_path(self.path), *others):
            for leftover in path.parent.glob(glob_escape(_temp_prefix(path)) + "*"):
                leftover.unlink(missing_ok=True)

    def write_snapshot(self, data: SearchData, ops: Sequence[tuple] = ()) -> None:
        """Replace the file with a snapshot of ``data`` followed by ``ops``, atomically."""
        header, snapshot, tail = encode_checkpoint(data, ops)
        tmp = self.path.with_name(f"{_temp_prefix(self.path)}{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, FILE_MODE)
        except OSError as exc:
            raise CheckpointWriteError(self.path, f"create {tmp.name}", exc) from None
        try:
            for piece in (header, snapshot, tail):  # not joined: no second copy of the snapshot
                _write_all(fd, piece)
            os.fsync(fd)
            self._check_lock()
            self._keep_backup()
            os.replace(tmp, self.path)
            fsync_directory(self.path.parent)
        except OSError as exc:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise CheckpointWriteError(self.path, "write a new snapshot of the search", exc) from None
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        if self._fd is not None:
            os.close(self._fd)
        self._fd = fd
        self._snapshot_bytes = len(header) + len(snapshot)
        self._journal_bytes = len(tail)
        self._end = self._snapshot_bytes + self._journal_bytes
        self.snapshots_written += 1
        self.snapshot_bytes_written += self._end

    def _keep_backup(self) -> None:
        """Keep the current file, the last good state, as ``NAME.bak``."""
        if self.path.exists():
            keep_copy(self.path, backup_path(self.path))

    def append(self, ops: list[tuple], durable: bool) -> None:
        """Append journal operations in one write; with ``durable``, fsync before returning."""
        assert self._fd is not None, "write_snapshot() opens the file for appending"
        chunk = b"".join(records.encode_record(journal.encode_op(op)) for op in ops)
        self._check_lock()
        try:
            _write_all(self._fd, chunk)
            if durable:
                os.fdatasync(self._fd)
        except OSError as exc:
            self._cut_torn_append()
            raise CheckpointWriteError(self.path, "append to the checkpoint", exc) from None
        self._end += len(chunk)
        self._journal_bytes += len(chunk)
        self.appended_records += len(ops)
        self.appended_bytes += len(chunk)

    def _cut_torn_append(self) -> None:
        """After a failed append, remove its partial bytes so the file ends cleanly."""
        assert self._fd is not None, "only an append fails, and appends need the file open"
        try:
            os.ftruncate(self._fd, self._end)
            os.fsync(self._fd)
        except OSError:
            pass  # the reader drops a torn tail anyway

    def compaction_due(self) -> bool:
        """Whether the journal has grown enough to be folded into a new snapshot."""
        return self._journal_bytes > max(self._snapshot_bytes, self.min_compaction_bytes)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


__all__ = [
    "PICKLE_FORMAT_NOTE",
    "CheckpointStore",
    "Loaded",
    "backup_path",
    "keep_copy",
    "make_folder",
    "read_regular_file",
    "real_path",
    "side_path",
    "encode_checkpoint",
    "parse_checkpoint",
    "read_bytes",
    "read_checkpoint",
    "write_file_atomically",
]
