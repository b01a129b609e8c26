"""What the commands share: the checkpoint argument, loading, argument types, output."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from ..checkpoint.store import PICKLE_FORMAT_NOTE
from ..errors import CheckpointNotFound
from ..reporting.progress import format_loss, format_params
from ..search_state import SearchState, load

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from ..reporting.rows import TrialTable  # only for this annotation: `best` needs no rows

#: The suffix the documentation gives checkpoints; a path typed without it is suggested with it.
CHECKPOINT_SUFFIX = ".ckpt"


def add_checkpoint_argument(
    parser: argparse.ArgumentParser, help: str = "the checkpoint file, e.g. checkpoints/demo.ckpt"
) -> None:
    """The ``CKPT`` positional argument every command that works on a checkpoint takes."""
    parser.add_argument("checkpoint", type=Path, metavar="CKPT", help=help)


def make_working_folder_importable() -> None:
    """Put the folder the command runs in on ``sys.path``, as ``python -m`` does,
    so that the user's own modules (an objective, a space) can be imported."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def load_search(path: Path) -> SearchState:
    """Read the checkpoint once, without its lock: never blocks or slows a run.

    The folder the command runs in is importable, as with ``python -m``, so
    an objective or a space that refers to the user's own modules can be
    unpickled when the command runs where the search was started.
    """
    make_working_folder_importable()
    try:
        state = load(path)
    except CheckpointNotFound:
        likely = with_checkpoint_suffix(path)
        if likely is None:
            raise
        raise CheckpointNotFound(path, "no such checkpoint", f"did you mean {likely}?") from None
    if state.format_version == 1:
        note(f"{path}: {PICKLE_FORMAT_NOTE}")
    return state


def with_checkpoint_suffix(path: Path) -> Path | None:
    """``checkpoints/long.ckpt`` for a missing ``checkpoints/long`` when that file exists."""
    candidate = path.with_name(path.name + CHECKPOINT_SUFFIX)
    return candidate if not path.name.endswith(CHECKPOINT_SUFFIX) and candidate.is_file() else None


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def print_run_result(state: SearchState) -> None:
    """What ``demo`` and ``resume`` print when their run ends: the best, decoded, and the checkpoint."""
    print(f"Best loss {format_loss(state.best_loss)} after {state.n_finished} trials ({state.n_failed} failed)")
    if state.best is not None:
        print(f"  best parameters: {format_params(state.best)}")
    print(f"Checkpoint: {state.path}  (inspect it with: resumable-opt show {shlex.quote(str(state.path))})")


def note(text: str) -> None:
    """A remark for the person at the terminal, on stderr so that stdout stays data."""
    print(f"note: {text}", file=sys.stderr)


def note_if_raw(table: TrialTable) -> None:
    """Say so when the parameters could not be decoded here."""
    if not table.decoded:
        note(
            "parameters are hyperopt's raw values (choice indexes): "
            f"the stored space cannot be loaded here ({table.why_raw})"
        )
