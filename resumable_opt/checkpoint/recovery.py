"""Checking a checkpoint and getting a damaged one back to its last good state.

:func:`verify` reads a checkpoint the way a run would and says whether it is
sound; when it is not, it also says what can be recovered:

* the *intact prefix* of the damaged file: its records up to the first
  damaged one, a state the search really was in, and
* the *backup* ``NAME.ckpt.bak``: the state before the latest snapshot, which
  the store keeps for exactly this purpose (see ``store.py``).

:func:`recover` keeps the damaged file aside as
``NAME.ckpt.damaged-<timestamp>`` (never deleted, never changed) and writes
the recoverable state with the most finished trials in its place,
atomically, under the run lock.  Neither ever starts a new search.

A file whose records all match their checksums is never damaged, even when
it cannot be decoded here (a first-format pickle naming a class that is not
importable): :func:`verify` says so, and :func:`recover` refuses to touch it.
Neither unpickles anything from a file of the current format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from ..errors import (
    CheckpointCorrupt,
    CheckpointError,
    CheckpointNotFound,
    CheckpointUndecodable,
    CheckpointVersionError,
)
from . import journal, records
from .journal import SearchData
from .lock import RunLock
from .store import (
    backup_path,
    encode_checkpoint,
    fsync_directory,
    keep_copy,
    read_bytes,
    read_checkpoint,
    real_path,
    write_file_atomically,
)


@dataclass
class Recoverable:
    """A good state of the search that :func:`recover` can restore."""

    #: Where it comes from, for people: "intact prefix of ..." or "backup ...".
    source: str
    n_trials: int
    n_finished: int
    data: SearchData = field(repr=False)


@dataclass
class VerifyReport:
    """What :func:`verify` found."""

    path: Path
    sound: bool
    #: "sound", or what is wrong, in words.
    reason: str
    #: Trials in the checkpoint (None when it cannot be read).
    n_trials: int | None = None
    n_finished: int | None = None
    #: Bytes of an interrupted append at the end, ignored when reading.
    torn_bytes: int = 0
    #: The intact records at the start of a damaged file, if they hold a state.
    prefix: Recoverable | None = None
    #: The state kept in ``NAME.bak``, if it is readable.
    backup: Recoverable | None = None
    #: What to do about it, in words.
    advice: str = ""
    #: The format version of the file (1: pickled records; 2: data only), when known.
    version: int | None = None
    #: True when every record matches its checksum but the file cannot be decoded here: not damage.
    intact: bool = False

    @property
    def best_recoverable(self) -> Recoverable | None:
        """The state :func:`recover` restores: the one with the most finished
        trials; on a tie the intact prefix, which is the newer state."""
        candidates = [c for c in (self.prefix, self.backup) if c is not None]
        return max(candidates, key=lambda c: c.n_finished, default=None)

    @property
    def format(self) -> str:
        """The file's format, in words."""
        if self.version is None:
            return "format unknown"
        kind = "pickled records, converted by the next run" if self.version == 1 else "data only"
        return f"format {self.version}: {kind}"

    def __str__(self) -> str:
        if self.sound:
            lines = [f"{self.path}: sound ({self.format}), {self.n_finished} finished trials of {self.n_trials}"]
            if self.torn_bytes:
                lines.append(
                    f"  {self.torn_bytes} bytes of an unfinished write at the end (a run was killed while "
                    "saving) are ignored; every completed record is intact"
                )
        elif self.intact:
            lines = [f"{self.path}: intact ({self.format}), not damaged: {self.reason}"]
        else:
            lines = [f"{self.path}: NOT sound: {self.reason}"]
            for candidate in (self.prefix, self.backup):
                if candidate is not None:
                    lines.append(
                        f"  recoverable: {candidate.source}: "
                        f"{candidate.n_finished} finished trials of {candidate.n_trials}"
                    )
        if self.backup is not None and self.sound:
            lines.append(f"  {self.backup.source}: {self.backup.n_finished} finished trials")
        if self.advice:
            lines.append(f"  {self.advice}")
        return "\n".join(lines)


def _counts(data: SearchData) -> tuple[int, int]:
    from ..trials import is_pending

    return len(data.docs), sum(1 for doc in data.docs if not is_pending(doc))


def _recoverable(source: str, data: SearchData) -> Recoverable:
    return Recoverable(source, *_counts(data), data)


def _replay_prefix(payloads: list[bytes], version: int) -> SearchData | None:
    """Replay the leading intact records; None when one of them does not decode.

    Every one of them matched its checksum, so one that does not decode is
    not damage, and a state without it would drop a good record: there is
    then no prefix to recover.
    """
    if not payloads:
        return None
    try:
        return journal.replay(payloads, version)
    except Exception:
        return None


def _intact_prefix(path: Path) -> Recoverable | None:
    try:
        content = read_bytes(path)
        version = records.check_header(content, path)
    except CheckpointError:
        return None
    payloads, _ = records.leading_records(content)
    data = _replay_prefix(payloads, version)
    return None if data is None else _recoverable(f"intact prefix of {path.name}", data)


def _backup(path: Path) -> Recoverable | None:
    backup = backup_path(path)
    try:
        return _recoverable(f"backup {backup.name}", read_checkpoint(backup).data)
    except CheckpointError:
        return None


def verify(path: str | Path) -> VerifyReport:
    """Check a checkpoint without changing anything; never raises for a bad file.

    The report is sound when a run would resume from the file as it is (a
    torn tail left by a killed run is sound: it is dropped on reading).
    Otherwise it says why, and what :func:`recover` could restore.
    """
    path = Path(path)
    backup = _backup(path)
    try:
        loaded = read_checkpoint(path)
    except CheckpointVersionError as exc:
        return VerifyReport(path, False, exc.problem, advice=exc.advice)
    except CheckpointUndecodable as exc:
        return VerifyReport(
            path, False, exc.problem, backup=backup, advice=exc.advice, version=_version(path), intact=True
        )
    except CheckpointError as exc:
        prefix = None if isinstance(exc, CheckpointNotFound) else _intact_prefix(path)
        report = VerifyReport(path, False, exc.problem, prefix=prefix, backup=backup)
        if report.best_recoverable is not None:
            report.advice = f"run `resumable-opt recover {path}` to restore the {report.best_recoverable.source}"
        else:
            report.advice = "nothing in it or beside it can be recovered: " + (
                exc.advice or "restore it from a backup of your own"
            )
        return report
    n_trials, n_finished = _counts(loaded.data)
    return VerifyReport(
        path, True, "sound", n_trials, n_finished, loaded.torn_bytes, backup=backup, version=loaded.version
    )


def _version(path: Path) -> int | None:
    try:
        return records.check_header(read_bytes(path), path)
    except CheckpointError:
        return None


def damaged_copy_path(path: Path) -> Path:
    """Where :func:`recover` keeps a damaged checkpoint: ``NAME.ckpt.damaged-<timestamp>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
    return candidate


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _refuse(path: Path, report: VerifyReport) -> NoReturn:
    """Nothing can be recovered: say why."""
    cls = CheckpointNotFound if not _exists(path) else CheckpointCorrupt
    raise cls(path, f"cannot be recovered: {report.reason}", report.advice)


def recover(path: str | Path) -> Path:
    """Restore the best recoverable state of a damaged checkpoint; see module doc.

    Returns where the damaged file was kept (``NAME.ckpt.damaged-<timestamp>``),
    or ``path`` itself when there was nothing to keep aside: a sound
    checkpoint is left as it is, and a missing one is restored from its
    backup.  Raises :class:`~resumable_opt.errors.CheckpointError` when
    nothing can be recovered, or for a checkpoint of a newer format version
    (which is not damaged); :class:`~resumable_opt.errors.CheckpointLocked`
    while a run holds the checkpoint.
    """
    path = real_path(path)
    if path.is_dir():
        raise CheckpointCorrupt(
            path, "is a folder, not a checkpoint file", "move the folder away or pass the checkpoint file inside it"
        )
    if not _exists(path) and not backup_path(path).exists():
        _refuse(path, verify(path))  # before the lock: a mistyped path leaves no lock file behind
    with RunLock(path) as lock:
        report = verify(path)  # again, under the lock: no run changes it now
        if report.sound:
            return path
        if report.intact:
            raise CheckpointUndecodable(path, f"nothing to recover: {report.reason}", report.advice)
        chosen = report.best_recoverable
        if chosen is None:
            _refuse(path, report)
        kept = path
        if path.exists():
            kept = damaged_copy_path(path)
            keep_copy(path, kept)  # the damaged bytes, exactly as they were
        # Not CheckpointStore.write_snapshot: it would keep the damaged file as
        # NAME.bak, in place of the good state the backup may still hold.
        header, snapshot, _ = encode_checkpoint(chosen.data)
        lock.check()
        write_file_atomically(path, header + snapshot)
        fsync_directory(path.parent)
        return kept


__all__ = ["Recoverable", "VerifyReport", "damaged_copy_path", "recover", "verify"]
