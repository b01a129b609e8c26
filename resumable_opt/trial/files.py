"""A trial's own folder beside the checkpoint, and the state it saves there.

For a checkpoint ``checkpoints/NAME.ckpt``, trial ``tid`` has the folder
``checkpoints/NAME.ckpt.trials/<tid>/``: the user's own files
(``current_trial().dir``) and ``state.pkl``, what the last
``save_state`` stored.  Guarantees:

* **Atomic and durable.** The state is written to a temporary file in the
  same folder, fsynced, renamed over ``state.pkl`` and the folder fsynced:
  a kill at any moment leaves the previous state or the new one, never a mix.
* **Never another trial's.** The file starts with a header naming the search
  (its creation time, unique per checkpoint), the trial id and the trial's
  point; :func:`read_state` returns nothing for a file whose header does not
  match (a folder left by a deleted search of the same name, a stray file).
* **Removed when the trial finishes**, by the runner once the trial's result
  is durable in the checkpoint (:func:`clean_up`), unless it was saved with
  ``keep=True``; the folder goes too when nothing else is in it.

The state is not inside the checkpoint's journal: a model of hundreds of
megabytes would make every snapshot of the search that large.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import cloudpickle

from ..checkpoint.store import FILE_MODE, fsync_directory
from ..errors import ResumableOptError

STATE_FILE = "state.pkl"
_MAGIC = b"RESUMOPT-STATE-1\n"
_TEMP_PREFIX = ".state.pkl.tmp-"


def trials_folder(checkpoint: Path) -> Path:
    """The folder holding every trial's own folder."""
    return checkpoint.with_name(checkpoint.name + ".trials")


def trial_folder(checkpoint: Path, tid: int) -> Path:
    return trials_folder(checkpoint) / str(int(tid))


def search_identity(meta: dict) -> str:
    """What tells this search from another one made later at the same path."""
    return repr(meta.get("created"))


def state_header(search: str, tid: int, point: str, keep: bool) -> dict:
    return {"search": search, "tid": int(tid), "point": point, "keep": bool(keep)}


def write_state(folder: Path, header: dict, obj: Any) -> int:
    """Replace the state in ``folder`` with ``obj``, atomically and durably; return its size in bytes."""
    tmp = folder / f"{_TEMP_PREFIX}{os.getpid()}-{id(obj):x}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with open(fd, "wb", closefd=False) as handle:
            handle.write(_MAGIC)
            pickle.dump(header, handle, protocol=pickle.HIGHEST_PROTOCOL)
            cloudpickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
            size = handle.tell()
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, folder / STATE_FILE)
        fsync_directory(folder)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return size


def _header(handle: Any) -> dict | None:
    if handle.read(len(_MAGIC)) != _MAGIC:
        return None
    try:
        header = pickle.load(handle)
    except Exception:
        return None
    return header if isinstance(header, dict) else None


def read_state(folder: Path, search: str, tid: int, point: str) -> tuple[bool, Any]:
    """``(True, obj)`` for the state this very trial saved, else ``(False, None)``."""
    try:
        handle = open(folder / STATE_FILE, "rb")
    except FileNotFoundError:
        return False, None
    with handle:
        header = _header(handle)
        if header is None or (header.get("search"), header.get("tid"), header.get("point")) != (search, tid, point):
            return False, None
        try:
            return True, pickle.load(handle)
        except Exception as exc:
            raise ResumableOptError(
                f"{folder / STATE_FILE}: the state this trial saved cannot be loaded ({type(exc).__name__}: {exc}); "
                "is a module it needs missing here? Delete the file to run the trial from the start"
            ) from exc


def clean_up(checkpoint: Path, tid: int) -> None:
    """After the trial finished: remove its state (unless kept), stale temporary
    files, and its folder and the trials folder when they are left empty."""
    folder = trial_folder(checkpoint, tid)
    if not folder.is_dir():
        return
    for leftover in folder.glob(_TEMP_PREFIX + "*"):
        leftover.unlink(missing_ok=True)
    state = folder / STATE_FILE
    try:
        with open(state, "rb") as handle:
            header = _header(handle)
        if not (header and header.get("keep")):
            state.unlink()
    except FileNotFoundError:
        pass
    for empty in (folder, folder.parent):
        try:
            empty.rmdir()
        except OSError:  # not empty: the user's own files stay
            return
