"""The search as data: a snapshot plus a journal of small operations.

A checkpoint file holds one :class:`SearchData` snapshot followed by journal
operations, each a small tuple that :func:`apply` replays onto the snapshot.
The runner appends one operation per event (a point asked, an evaluation
started, finished or abandoned, a run started or ended), so the cost of making
a trial durable does not depend on how many trials came before it.  Now and
then the store folds the journal into a fresh snapshot (see ``store.py``).

The trial documents are hyperopt's own (``hyperopt.Trials._dynamic_trials``),
so replaying a checkpoint rebuilds exactly the ``Trials`` the search had.
"""

from __future__ import annotations

import copyreg
import gc
import io
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import numpy as np
from hyperopt import JOB_STATE_NEW, JOB_STATE_RUNNING

# Journal operation names.  Each operation is a tuple whose first item is one
# of these; the rest is documented in :func:`apply`.
RUN_STARTED = "run_started"
RUN_ENDED = "run_ended"
ASKED = "asked"
STARTED = "started"
FINISHED = "finished"
RELEASED = "released"
SNAPSHOT = "snapshot"
#: An intermediate value a trial reported (``current_trial().report``): plain numbers only.
REPORTED = "reported"


@dataclass
class RunRecord:
    """One invocation of the runner on a checkpoint."""

    started: float
    host: str
    pid: int
    max_evals: int | None
    n_done_at_start: int
    ended: float | None = None
    #: How the run ended ("budget reached", "interrupted by SIGINT", ...);
    #: None while it runs, or for a run that was killed or crashed.
    outcome: str | None = None


@dataclass
class SearchData:
    """Everything a checkpoint stores about one search.

    ``meta`` holds what does not change during a search: the seed, the
    pickled space, objective and algorithm (kept as bytes, so that reading a
    checkpoint never runs user code until asked to), and a text description
    of the space used to refuse a changed one.
    """

    meta: dict[str, Any]
    docs: list[dict] = field(default_factory=list)
    rng_state: dict | None = None
    runs: list[RunRecord] = field(default_factory=list)
    #: Evaluations started and never finished, by trial id: a process that
    #: died in the objective leaves one here (see the poison-trial limit).
    attempts: dict[int, int] = field(default_factory=dict)
    #: The state hyperopt's ``early_stop_fn`` threads from call to call.
    early_stop_args: list = field(default_factory=list)
    #: Why the search stopped before its budget, when it did.
    stopped_because: str | None = None
    #: Intermediate values reported by trials: {tid: {step: value}}.
    intermediate: dict[int, dict[int, float]] = field(default_factory=dict)
    #: How many times each unfinished trial was started (interruptions
    #: included, unlike ``attempts``): the trial's ``attempt`` number.
    starts: dict[int, int] = field(default_factory=dict)

    def doc_index(self) -> dict[int, dict]:
        return {doc["tid"]: doc for doc in self.docs}


# hyperopt's parameter values are numpy scalars.  numpy pickles each one with
# its whole dtype (about 100 bytes in a small record); as ``float64(x)`` it
# takes 20, the value is the same bit for bit (a Python float *is* a C
# double) and pickling is twice as fast.  Local to our pickler: the process's
# own pickling (copyreg) is left alone.
_DISPATCH_TABLE = copyreg.dispatch_table.copy()
_DISPATCH_TABLE[np.float64] = lambda value: (np.float64, (float(value),))
_DISPATCH_TABLE[np.int64] = lambda value: (np.int64, (int(value),))


def dumps(obj: Any) -> bytes:
    """Pickle an operation; fall back to cloudpickle for exotic result values."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH_TABLE
    try:
        pickler.dump(obj)
    except (pickle.PicklingError, TypeError, AttributeError):
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()


def snapshot_op(data: SearchData) -> tuple:
    """The operation that opens a checkpoint file: the whole search as plain data.

    Plain dicts and lists rather than our own classes, so that renaming a
    class never makes old checkpoints unreadable.
    """
    plain = dict(vars(data))
    plain["runs"] = [vars(run) for run in data.runs]
    return (SNAPSHOT, plain)


def _from_snapshot(plain: dict) -> SearchData:
    fields = dict(plain)
    fields["runs"] = [RunRecord(**run) for run in plain["runs"]]
    return SearchData(**fields)


def apply(data: SearchData, op: tuple, docs_by_tid: dict[int, dict]) -> None:
    """Replay one journal operation onto ``data`` (and its tid index)."""
    kind = op[0]
    if kind == ASKED:
        # (ASKED, new trial documents, random state after the draw)
        _, new_docs, rng_state = op
        for doc in new_docs:
            data.docs.append(doc)
            docs_by_tid[doc["tid"]] = doc
        data.rng_state = rng_state
    elif kind == STARTED:
        # (STARTED, tids, book time)
        _, tids, when = op
        for tid in tids:
            doc = docs_by_tid[tid]
            doc["state"] = JOB_STATE_RUNNING
            doc["book_time"] = when
            doc["refresh_time"] = when
            data.attempts[tid] = data.attempts.get(tid, 0) + 1
            data.starts[tid] = data.starts.get(tid, 0) + 1
    elif kind == RELEASED:
        # (RELEASED, tids): evaluations abandoned on purpose (Ctrl-C, cancel);
        # they do not count as attempts that crashed the process.
        _, tids = op
        for tid in tids:
            docs_by_tid[tid]["state"] = JOB_STATE_NEW
            if data.attempts.get(tid, 0) > 0:
                data.attempts[tid] -= 1
    elif kind == FINISHED:
        # (FINISHED, tid, state, result, misc additions, refresh time, early stop args)
        _, tid, state, result, misc_update, when, early_stop_args = op
        doc = docs_by_tid[tid]
        doc["state"] = state
        doc["result"] = result
        doc["misc"].update(misc_update)
        doc["refresh_time"] = when
        data.attempts.pop(tid, None)
        data.starts.pop(tid, None)
        data.early_stop_args = early_stop_args
        stopped = result.get("step") if isinstance(result, dict) and result.get("pruned") else None
        if stopped is not None and tid in data.intermediate:
            # values past the step it was pruned at are left from an earlier evaluation, cut short
            data.intermediate[tid] = {step: value for step, value in data.intermediate[tid].items() if step <= stopped}
    elif kind == REPORTED:
        # (REPORTED, tid, step, value): a later report of the same step replaces it
        _, tid, step, value = op
        data.intermediate.setdefault(tid, {})[step] = value
    elif kind == RUN_STARTED:
        _, run = op
        data.runs.append(RunRecord(**run))
        data.stopped_because = None
    elif kind == RUN_ENDED:
        # (RUN_ENDED, end time, outcome, reason the search stopped or None)
        _, when, outcome, stopped_because = op
        data.runs[-1].ended = when
        data.runs[-1].outcome = outcome
        data.stopped_because = stopped_because
    else:
        raise ValueError(f"unknown journal operation {kind!r}")


@contextmanager
def _garbage_collector_paused() -> Iterator[None]:
    """Unpickling thousands of trial dicts sets off collection after collection,
    each walking every object made so far, for nothing: none of them is garbage.
    Pausing the collector makes reading a checkpoint about three times faster."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def replay(payloads: list[bytes]) -> SearchData:
    """Rebuild the search from a snapshot payload and the journal after it."""
    with _garbage_collector_paused():
        first = pickle.loads(payloads[0])
        if not (isinstance(first, tuple) and first and first[0] == SNAPSHOT):
            raise ValueError("the first record is not a snapshot")
        data = _from_snapshot(first[1])
        docs_by_tid = data.doc_index()
        for payload in payloads[1:]:
            apply(data, pickle.loads(payload), docs_by_tid)
    return data
