"""The best-so-far as plain JSON beside the checkpoint (``NAME.ckpt.best.json``).

Replaced atomically (write, fsync, rename) whenever the best improves, so
``cat`` or ``jq`` always see a whole file, without unpickling anything.  It is
strict JSON: a loss of +/-inf or NaN is written as the text ``"inf"``,
``"-inf"``, ``"nan"``, as ``resumable-opt trials --format json`` writes it.

It is named after the checkpoint's whole file name (before 0.2 it was the
name without its suffix, ``NAME.best.json``, which ``lr_0.001`` and
``lr_0.01`` shared): :func:`adopt_old_best_file` renames a file of the old
name to the new one when no other checkpoint in the folder could own it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from ..checkpoint import records
from ..checkpoint.store import read_regular_file, side_path, write_file_atomically
from ..values import to_jsonable

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any


def best_file_path(checkpoint: Path) -> Path:
    """``checkpoints/demo.ckpt`` -> ``checkpoints/demo.ckpt.best.json``."""
    return side_path(checkpoint, ".best.json")


def _stem(name: str) -> str:
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix else name


def old_best_file_path(checkpoint: Path) -> Path:
    """The name the best-so-far file had before 0.2: ``checkpoints/demo.best.json``."""
    return checkpoint.with_name(_stem(checkpoint.name) + ".best.json")


def _is_checkpoint(path: Path) -> bool:
    try:
        return read_regular_file(path).startswith(records.MAGIC)
    except OSError:
        return False


def adopt_old_best_file(checkpoint: Path) -> None:
    """Rename the old-style best file of ``checkpoint`` to its new name, when it is
    unambiguously this checkpoint's: no other checkpoint in the folder has the same
    name without its suffix.  Called by the lock holder when a run starts."""
    old, new = old_best_file_path(checkpoint), best_file_path(checkpoint)
    if not old.is_file() or new.exists():
        return
    stem = _stem(checkpoint.name)
    try:
        siblings = [entry for entry in os.scandir(checkpoint.parent) if _stem(entry.name) == stem]
    except OSError:
        return
    if any(entry.name != checkpoint.name and _is_checkpoint(Path(entry.path)) for entry in siblings):
        return  # lr_0.001 and lr_0.01 both wrote lr_0.best.json: whose it is cannot be told
    try:
        os.replace(old, new)
    except OSError:
        pass  # the run writes the new file anyway


def best_record(loss: float, tid: int, params: Any, raw: dict, finished: datetime | None, trials_done: int) -> dict:
    """The JSON object that describes a best trial (also ``resumable-opt best --json``).

    ``found_at`` is when that trial finished (``finished``, hyperopt's naive
    UTC ``refresh_time``), the same whoever writes the record and whenever.
    ``trials_done_when_written`` and ``written_at`` say how many trials were
    finished when the record was made, and when: for the file, when the runner
    last replaced it (a new best, or the start of a run); for ``best --json``, now.
    """
    return {
        "loss": to_jsonable(loss),
        "tid": tid,
        "params": to_jsonable(params),
        "argmin": to_jsonable(raw),
        "found_at": _local_iso(finished),
        "trials_done_when_written": trials_done,
        "written_at": _local_iso(datetime.now(timezone.utc)),
    }


def _local_iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:  # hyperopt's times are naive UTC
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone().isoformat(timespec="seconds")


def write_best_file(checkpoint: Path, record: dict) -> None:
    write_file_atomically(best_file_path(checkpoint), (json.dumps(record, indent=2, allow_nan=False) + "\n").encode())
