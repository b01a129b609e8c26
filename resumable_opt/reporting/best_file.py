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


def best_record(loss: float, tid: int, params: Any, raw: dict, trials_done: int, found_at: str | None = None) -> dict:
    """The JSON object that describes a best trial (also ``resumable-opt best --json``).

    ``found_at`` defaults to now, which is when the runner writes it.
    """
    return {
        "loss": loss,
        "tid": tid,
        "params": to_jsonable(params),
        "argmin": to_jsonable(raw),
        "trials_done": trials_done,
        "found_at": found_at or datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
    }


def write_best_file(checkpoint: Path, record: dict) -> None:
    write_file_atomically(best_file_path(checkpoint), (json.dumps(record, indent=2) + "\n").encode())
