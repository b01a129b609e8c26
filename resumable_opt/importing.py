"""Bringing hyperopt searches over, and adding hand-picked points to a search.

* :func:`import_trials` starts a checkpoint from a ``hyperopt.Trials``: a
  pickled one, a ``trials_save_file``, or an object in memory.  Its trials
  become the search's history, which TPE learns from when the search goes on
  (``resumable_opt.minimize``/``fmin`` with the new checkpoint).
* :func:`add_points` appends points to an existing checkpoint; the next run
  evaluates them first, then goes on with the algorithm.

Both check that the trials or points fit the search space (its labels, and
that each point decodes in it) and refuse with a message that says which
trial is wrong and how, before anything is written.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
from hyperopt import JOB_STATE_ERROR, Trials, base, tpe
from hyperopt.fmin import generate_trial

from .checkpoint import records
from .checkpoint.lock import RunLock
from .checkpoint.store import CheckpointStore, make_folder, read_checkpoint, real_path
from .errors import CheckpointError, CheckpointNotFound, ResumableOptError
from .params import fill_missing
from .runner.minimize import new_search
from .search_state import SearchState
from .space import active_values, check_point, decode, parameters, to_jsonable
from .trials import trials_from_docs


class TrialsDontFit(ResumableOptError):
    """Trials or points that were not made with the search space given."""


def load_trials(source: str | Path) -> Trials:
    """Read a pickled ``hyperopt.Trials`` (``pickle.dump(trials, f)``, or a ``trials_save_file``)."""
    path = Path(source)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(path, "no such file", "check the path of the pickled Trials") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read: {exc.strerror or exc}") from None
    if content.startswith(records.MAGIC):
        raise CheckpointError(path, "is already a resumable-opt checkpoint", "resume it directly; nothing to import")
    try:
        trials = cloudpickle.loads(content)
    except Exception as exc:
        raise CheckpointError(
            path, f"is not a readable pickle ({type(exc).__name__}: {exc})",
            "it may have been cut short by a kill while hyperopt rewrote it; a copy from before is needed",
        ) from None  # fmt: skip
    if not isinstance(trials, Trials):
        raise CheckpointError(path, f"holds a {type(trials).__name__}, not a hyperopt Trials")
    return trials


def check_fits(docs: list[dict], space: Any, source: str, all_labels_used: bool = True) -> None:
    """Refuse trial documents that were not made with ``space``.

    Every label of a trial must be a label of the space, and every point that
    was evaluated (or is to be) must decode in it (a choice index in range, a
    value for each label the point uses).  With ``all_labels_used``, a label
    of the space that no trial has is refused too: hyperopt's algorithms
    record every label in every trial, so the space has changed since.
    """
    labels = set(parameters(space))
    used: set[str] = set()
    for doc in docs:
        unknown = sorted(doc["misc"]["vals"].keys() - labels)
        if unknown:
            raise TrialsDontFit(
                f"{source}: trial {doc['tid']} has label(s) {', '.join(map(repr, unknown))}, which the space "
                f"does not have (its labels: {', '.join(sorted(labels))}); give the space the trials were made with"
            )
        used.update(doc["misc"]["vals"])
    missing = sorted(labels - used)
    if all_labels_used and docs and missing:
        raise TrialsDontFit(
            f"{source}: no trial has the label(s) {', '.join(map(repr, missing))} of the space; the trials "
            "were made with another space: give the space they were made with"
        )
    for doc in docs:
        if doc["state"] == JOB_STATE_ERROR:
            continue  # a failed trial's point may be the very reason it failed
        try:
            check_point(space, doc["misc"]["vals"])
            decode(space, doc["misc"]["vals"])
        except Exception as exc:
            given = to_jsonable(active_values(doc["misc"]["vals"]))
            raise TrialsDontFit(
                f"{source}: trial {doc['tid']} ({given}) does not fit the space ({type(exc).__name__}: {exc}); "
                "give a value for each label the point uses, choices as indexes"
            ) from None


def trial_documents(trials: Trials, space: Any, source: str) -> list[dict]:
    """Copies of the trial documents of ``trials``, checked against ``space``."""
    docs = copy.deepcopy(list(trials._dynamic_trials))
    tids = [doc["tid"] for doc in docs]
    if len(set(tids)) != len(tids):
        raise TrialsDontFit(f"{source}: some trial ids occur twice; these are not the trials of one search")
    check_fits(docs, space, source)
    return docs


def import_trials(
    source: str | Path | Trials,
    space: Any,
    checkpoint: str | Path,
    fn: Callable | None = None,
    seed: int | None = None,
    algo: Callable = tpe.suggest,
) -> SearchState:
    """Start a new checkpoint whose history is the trials of ``source``.

    ``source`` is a ``hyperopt.Trials`` or the path of one pickled (a
    ``trials_save_file`` too); ``space`` is the space it was made with.
    ``fn`` and ``algo`` are stored so the search can be resumed without the
    script; ``seed`` seeds the rest of the search (None: its first run
    chooses, from its own ``seed``/``rstate`` or at random).  Trials that were
    not finished are evaluated first when the search goes on.  An existing
    checkpoint is never written over.  ``trials.attachments`` come along.
    Returns the new search as ``load`` does.
    """
    path = real_path(checkpoint)
    name = str(source) if isinstance(source, (str, Path)) else "the Trials given"
    trials = source if isinstance(source, Trials) else load_trials(source)
    docs = trial_documents(trials, space, name)
    make_folder(path)
    with RunLock(path) as lock:
        if path.exists() or Path(checkpoint).is_symlink():
            raise CheckpointError(
                path, "already exists", "import into a new checkpoint path: an import never writes over a search"
            )
        data = new_search(fn, space, algo, seed, None if seed is None else np.random.default_rng(seed))
        data.docs.extend(docs)
        data.attachments.update(copy.deepcopy(trials.attachments))
        fill_missing(data.params, data.docs, space)
        write_checkpoint(path, data, lock)
    return SearchState(path, data)


def add_points(checkpoint: str | Path, points: list[dict]) -> list[int]:
    """Append hand-picked points to a search; its next run evaluates them first.

    Each point maps labels to values as ``fmin``'s ``points_to_evaluate``
    does (a choice as its index).  Takes the checkpoint's lock (so never
    while a run is going) and refuses points that do not fit the search's
    space before writing anything.  Returns the new trials' ids.
    """
    path = real_path(checkpoint)
    if not isinstance(points, list) or not all(isinstance(point, dict) for point in points):
        raise TypeError("points must be a list of dicts {label: value}")
    if not path.exists():  # before the lock: a mistyped path leaves no lock file behind
        raise CheckpointNotFound(path, "no such checkpoint", "check the path")
    with RunLock(path) as lock:
        data = read_checkpoint(path).data
        trials = trials_from_docs(list(data.docs))
        docs = [
            trials.assert_valid_trial(base.SONify(generate_trial(tid, point)))
            for tid, point in zip(trials.new_trial_ids(len(points)), points, strict=True)
        ]
        space = SearchState(path, data).space
        check_fits(docs, space, "the points given", all_labels_used=False)
        data.docs.extend(docs)
        fill_missing(data.params, data.docs, space)
        data.stopped_because = None  # new points to evaluate: a search that had stopped goes on
        write_checkpoint(path, data, lock)
    return [doc["tid"] for doc in docs]


def write_checkpoint(path: Path, data: Any, lock: RunLock) -> None:
    """Write the whole search ``data`` to ``path`` as one snapshot (the caller holds its lock)."""
    store = CheckpointStore(path, check_lock=lock.check)
    try:
        store.write_snapshot(data)
    finally:
        store.close()


__all__ = ["TrialsDontFit", "add_points", "check_fits", "import_trials", "load_trials", "trial_documents"]
