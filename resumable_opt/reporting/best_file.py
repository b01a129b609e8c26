"""The best-so-far as plain JSON beside the checkpoint (``NAME.best.json``).

Replaced atomically (write, fsync, rename) whenever the best improves, so
``cat`` or ``jq`` always see a whole file, without unpickling anything.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..checkpoint.store import write_file_atomically
from ..values import to_jsonable


def best_file_path(checkpoint: Path) -> Path:
    """``checkpoints/demo.ckpt`` -> ``checkpoints/demo.best.json``."""
    stem = checkpoint.name[: -len(checkpoint.suffix)] if checkpoint.suffix else checkpoint.name
    return checkpoint.with_name(stem + ".best.json")


def best_record(loss: float, tid: int, params: Any, raw: dict, finished: datetime | None, trials_done: int) -> dict:
    """The JSON object that describes a best trial (also ``resumable-opt best --json``).

    ``found_at`` is when that trial finished (``finished``, hyperopt's naive
    UTC ``refresh_time``), the same whoever writes the record and whenever.
    ``trials_done_when_written`` and ``written_at`` say how many trials were
    finished when the record was made, and when: for the file, when the runner
    last replaced it (a new best, or the start of a run); for ``best --json``, now.
    """
    return {
        "loss": loss,
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
    write_file_atomically(best_file_path(checkpoint), (json.dumps(record, indent=2) + "\n").encode())
