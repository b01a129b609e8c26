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

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from .encoding import Decoder, Encoder, Extension, Pickled, Raw, naive_datetime, naive_microseconds

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any

# hyperopt's job states (hyperopt.base.JOB_STATE_*), here so that reading a
# checkpoint needs no hyperopt.
JOB_STATE_NEW, JOB_STATE_RUNNING, JOB_STATE_DONE, JOB_STATE_ERROR = 0, 1, 2, 3

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


class _Record:
    """Equality and ``repr`` from the attributes, as ``@dataclass`` gives them.

    Not a dataclass: the ``dataclasses`` module imports ``inspect`` (and with
    it ``ast``, ``dis``, ``tokenize``), about a fifth of the time
    ``resumable-opt best`` takes (``benchmarks/inspect_speed.py``).
    """

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: unhashable, as a dataclass

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in vars(self).items())})"


class RunRecord(_Record):
    """One invocation of the runner on a checkpoint (stored as ``vars(run)``)."""

    def __init__(
        self,
        started: float,
        host: str,
        pid: int,
        max_evals: int | None,
        n_done_at_start: int,
        ended: float | None = None,
        outcome: str | None = None,
    ) -> None:
        self.started = started
        self.host = host
        self.pid = pid
        self.max_evals = max_evals
        self.n_done_at_start = n_done_at_start
        self.ended = ended
        #: How the run ended ("budget reached", "interrupted by SIGINT", ...);
        #: None while it runs, or for a run that was killed or crashed.
        self.outcome = outcome


class SearchData(_Record):
    """Everything a checkpoint stores about one search.

    ``meta`` holds what does not change during a search: the seed, the
    space, objective and algorithm as :class:`~.encoding.Pickled` blobs
    (unpickled only when a search runs, or when asked), their names, and a
    text description of the space used to refuse a changed one.
    """

    def __init__(
        self,
        meta: dict[str, Any],
        docs: list[dict] | None = None,
        rng_state: dict | None = None,
        runs: list[RunRecord] | None = None,
        attempts: dict[int, int] | None = None,
        early_stop_args: list | None = None,
        stopped_because: str | None = None,
        intermediate: dict[int, dict[int, float]] | None = None,
        starts: dict[int, int] | None = None,
        params: dict[int, dict] | None = None,
        attachments: dict | None = None,
        format_version: int = 2,
    ) -> None:
        self.meta = meta
        self.docs: list[dict] = [] if docs is None else docs
        self.rng_state = rng_state
        self.runs: list[RunRecord] = [] if runs is None else runs
        #: Evaluations started and never finished, by trial id: a process that
        #: died in the objective leaves one here (see the poison-trial limit).
        self.attempts: dict[int, int] = {} if attempts is None else attempts
        #: The state hyperopt's ``early_stop_fn`` threads from call to call.
        self.early_stop_args: list = [] if early_stop_args is None else early_stop_args
        #: Why the search stopped before its budget, when it did.
        self.stopped_because = stopped_because
        #: Intermediate values reported by trials: {tid: {step: value}}.
        self.intermediate: dict[int, dict[int, float]] = {} if intermediate is None else intermediate
        #: How many times each unfinished trial was started (interruptions
        #: included, unlike ``attempts``): the trial's ``attempt`` number.
        self.starts: dict[int, int] = {} if starts is None else starts
        #: Each trial's parameters as the objective saw them, by trial id, as data
        #: (see :func:`resumable_opt.params.trial_params`), so that showing a
        #: trial needs neither the space nor hyperopt.
        self.params: dict[int, dict] = {} if params is None else params
        #: hyperopt's ``Trials.attachments`` (per-trial ones are ``ATTACH::tid::name``).
        self.attachments: dict = {} if attachments is None else attachments
        #: The format version of the file this was read from (not stored).
        self.format_version = format_version

    def doc_index(self) -> dict[int, dict]:
        return {doc["tid"]: doc for doc in self.docs}


_SNAPSHOT_FIELDS = (
    "meta", "docs", "rng_state", "attempts", "early_stop_args", "stopped_because", "params", "attachments",
    "intermediate", "starts",
)  # fmt: skip

_encoder = Encoder()


def encoder() -> Encoder:
    """The encoder records are written with (one per process: not thread-safe,
    and only the runner's thread writes)."""
    return _encoder


# A trial document as hyperopt makes it is stored as a list of its values
# (msgpack, unlike pickle, would repeat every key of every document): the
# times as microseconds, the parameter values as plain numbers with a flag for
# their numpy type, ``idxs`` left out when it is what hyperopt makes of the
# trial id, fmin's ``cmd`` as 0.  So reading one takes no per-value hooks.
# Any other document is stored as it is.
EXT_TRIAL_DOC = 16
_DOC_KEYS = ("state", "tid", "spec", "result", "misc", "exp_key", "owner", "version", "book_time", "refresh_time")
_MISC_KEYS = ("tid", "cmd", "workdir", "idxs", "vals")
#: hyperopt's ``misc["cmd"]`` of every trial ``fmin`` makes, stored as 0 (a cmd is never a number).
_FMIN_CMD = ("domain_attachment", "FMinIter_Domain")
_NUMPY_VALS, _IDXS_FROM_TID, _NUMPY_IDXS = 1, 2, 4


def _time_slot(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is datetime and value.tzinfo is None:
        return naive_microseconds(value)
    raise TypeError


def _pack_doc(doc: dict) -> Any:
    misc = doc.get("misc")
    if tuple(doc) != _DOC_KEYS or not isinstance(misc, dict) or tuple(misc)[:5] != _MISC_KEYS:
        return doc
    try:
        times = [_time_slot(doc["book_time"]), _time_slot(doc["refresh_time"])]
    except TypeError:
        return doc
    vals, idxs, tid = misc["vals"], misc["idxs"], doc["tid"]
    if not isinstance(vals, dict) or not all(type(values) is list for values in vals.values()):
        return doc
    kinds = {type(value) for values in vals.values() for value in values}
    np = sys.modules.get("numpy")
    flags = 0
    if np is not None and kinds and kinds <= {np.float64, np.int64}:
        flags |= _NUMPY_VALS
        # float() and int() give what .item() gives (exactly), in a tenth of its time.
        f64 = np.float64
        vals = {
            label: [float(value) if type(value) is f64 else int(value) for value in values]
            for label, values in vals.items()
        }
    elif not kinds <= {float, int}:
        return doc
    idxs_slot = idxs
    if isinstance(idxs, dict) and list(idxs) == list(vals) and all(len(values) <= 1 for values in vals.values()):
        index_kinds = {type(index) for indexes in idxs.values() if type(indexes) is list for index in indexes}
        derived = all(
            type(idxs[label]) is list and idxs[label] == ([tid] if values else []) for label, values in vals.items()
        )
        if derived and index_kinds <= {int}:
            flags |= _IDXS_FROM_TID
            idxs_slot = None
        elif derived and np is not None and index_kinds == {np.int64}:
            flags |= _IDXS_FROM_TID | _NUMPY_IDXS
            idxs_slot = None
    cmd = 0 if type(misc["cmd"]) is tuple and misc["cmd"] == _FMIN_CMD else misc["cmd"]
    extra = {key: value for key, value in misc.items() if key not in _MISC_KEYS}
    packed_misc = [misc["tid"], cmd, misc["workdir"], idxs_slot, vals, flags, extra]
    values = [doc[key] for key in _DOC_KEYS[:8]]
    values[4] = packed_misc
    return Extension(EXT_TRIAL_DOC, [*values, *times])


def _unpack_doc(payload: list, numpy: bool) -> dict:
    # Once per trial when a checkpoint is read, most of the time ``load`` takes: hence a loop
    # rather than a comprehension (a function call each) for a handful of labels.
    state, tid, spec, result, packed_misc, exp_key, owner, version, book, refresh = payload
    misc_tid, cmd, workdir, idxs, vals, flags, extra = packed_misc
    if numpy and flags & _NUMPY_VALS:
        import numpy as np

        vals = {
            label: [np.float64(v) if type(v) is float else np.int64(v) for v in values]
            for label, values in vals.items()
        }
    if flags & _IDXS_FROM_TID:
        if numpy and flags & _NUMPY_IDXS:
            import numpy as np

            index = np.int64(tid)
        else:
            index = tid
        idxs = {}
        for label, values in vals.items():
            idxs[label] = [index] if values else []
    misc = {"tid": misc_tid, "cmd": _FMIN_CMD if cmd == 0 else cmd, "workdir": workdir, "idxs": idxs, "vals": vals}
    if extra:
        misc.update(extra)
    return {
        "state": state, "tid": tid, "spec": spec, "result": result, "misc": misc, "exp_key": exp_key,
        "owner": owner, "version": version,
        "book_time": None if book is None else naive_datetime(book),
        "refresh_time": None if refresh is None else naive_datetime(refresh),
    }  # fmt: skip


def encode_op(op: tuple | list) -> bytes:
    """The payload of one operation: data only (see ``encoding.py``)."""
    op = list(op)
    if op[0] == ASKED:
        op[1] = [_pack_doc(doc) for doc in op[1]]
    elif op[0] == SNAPSHOT:
        op[1] = {**op[1], "docs": [_pack_doc(doc) for doc in op[1]["docs"]]}
    return _encoder.encode(op)


def snapshot_op(data: SearchData) -> tuple:
    """The operation that opens a checkpoint file: the whole search as plain data.

    Plain dicts and lists rather than our own classes, so that renaming a
    class never makes old checkpoints unreadable.
    """
    plain = {name: getattr(data, name) for name in _SNAPSHOT_FIELDS}
    plain["runs"] = [vars(run) for run in data.runs]
    return (SNAPSHOT, plain)


def finished_payload(result: dict, misc_update: dict, attachments: dict) -> Raw:
    """What a FINISHED operation records of an evaluation, encoded now:
    raises :class:`~.encoding.NotStorable` when the result cannot be stored."""
    return Raw((result, misc_update, attachments), _encoder)


def _from_snapshot(plain: dict, version: int) -> SearchData:
    fields = {name: plain[name] for name in _SNAPSHOT_FIELDS if name in plain}
    fields["runs"] = [RunRecord(**run) for run in plain["runs"]]
    data = SearchData(**fields, format_version=version)
    if version == 1:  # the blobs were bare cloudpickle bytes
        for name in ("space", "objective", "algo"):
            if isinstance(data.meta.get(name), bytes):
                data.meta[name] = Pickled(data.meta.get(f"{name}_name", name), data.meta[name])
    return data


def apply(data: SearchData, op: tuple | list, docs_by_tid: dict[int, dict]) -> None:
    """Replay one journal operation onto ``data`` (and its tid index)."""
    kind = op[0]
    if kind == ASKED:
        # (ASKED, new trial documents, random state after the draw, their params)
        new_docs, rng_state = op[1], op[2]
        params = op[3] if len(op) > 3 else [None] * len(new_docs)  # format 1 had no params
        for doc, point in zip(new_docs, params, strict=True):
            data.docs.append(doc)
            docs_by_tid[doc["tid"]] = doc
            if point is not None:
                data.params[doc["tid"]] = point
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
        # (FINISHED, tid, state, (result, misc additions, attachments), refresh time, early stop args);
        # format 1: (FINISHED, tid, state, result, misc additions, refresh time, early stop args)
        if len(op) == 7:
            _, tid, state, result, misc_update, when, early_stop_args = op
            attachments: dict = {}
        else:
            _, tid, state, payload, when, early_stop_args = op
            result, misc_update, attachments = payload.value if isinstance(payload, Raw) else payload
        doc = docs_by_tid[tid]
        doc["state"] = state
        doc["result"] = result
        doc["misc"].update(misc_update)
        doc["refresh_time"] = when
        for name, value in attachments.items():
            data.attachments[f"ATTACH::{tid}::{name}"] = value  # hyperopt's Trials.aname
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
    """Decoding thousands of trial dicts sets off collection after collection,
    each walking every object made so far, for nothing: none of them is garbage.
    Pausing the collector makes reading a checkpoint about three times faster."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def op_decoder(version: int, numpy: bool = True) -> Any:
    """The function that turns one payload of a file of ``version`` into its operation.

    Format 1 payloads are pickles: decoding them runs whatever they name.
    Only :func:`resumable_opt.checkpoint.store.parse_checkpoint` chooses to.
    """
    if version == 1:
        import pickle  # here: reading the current format needs no pickle module at all

        return pickle.loads
    return Decoder(numpy=numpy, handlers={EXT_TRIAL_DOC: _unpack_doc}).decode


def replay(payloads: list[bytes], version: int = 2, numpy: bool = True) -> SearchData:
    """Rebuild the search from a snapshot payload and the journal after it.

    ``numpy=False``: numpy scalars come back as equal Python numbers (for
    reading without importing numpy; see ``encoding.py``).
    """
    decode = op_decoder(version, numpy)
    with _garbage_collector_paused():
        first = decode(payloads[0])
        if not (isinstance(first, (tuple, list)) and first and first[0] == SNAPSHOT):
            raise ValueError("the first record is not a snapshot")
        data = _from_snapshot(first[1], version)
        docs_by_tid = data.doc_index()
        for payload in payloads[1:]:
            apply(data, decode(payload), docs_by_tid)
    return data
