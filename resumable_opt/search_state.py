"""A read-only view of a search, as ``resumable_opt.load`` returns it."""

from __future__ import annotations

import math
import sys
from functools import cached_property
from pathlib import Path

from .checkpoint import journal
from .checkpoint.journal import RunRecord, SearchData
from .checkpoint.lock import read_with_owner
from .checkpoint.records import FORMAT_VERSION
from .trials import best_of, is_ok, is_pending
from .values import active_values

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any

    from hyperopt import Trials


class SearchState:
    """A snapshot of a search: its trials, its best point, its runs.

    Reading a checkpoint never blocks or disturbs a run that is writing it;
    the snapshot shows the search as it was when it was read.  Nothing here
    unpickles anything or imports hyperopt, except on explicit request:
    :attr:`objective`, :attr:`space`, :attr:`algo` (unpickled from the
    checkpoint: they run its code) and :attr:`trials`, a real
    ``hyperopt.Trials`` (so hyperopt's own tools work on it) where result
    values that are not data stay placeholders (``encoding.Pickled``; call
    ``.load()`` on one to unpickle it).
    """

    def __init__(
        self,
        path: Path,
        data: SearchData,
        running: dict | None = None,
        torn_bytes: int = 0,
        payloads: list[bytes] | None = None,
    ) -> None:
        self.path = Path(path)
        self._data = data
        #: The records as read, when ``data`` was decoded without numpy (see :attr:`trials`).
        self._payloads = payloads
        #: The owner note (pid, host, since) of the run going on now, or None.
        self.running = running
        #: Bytes of an unfinished write at the end of the file that were ignored.
        self.torn_bytes = torn_bytes
        #: The file's format version: 2 is data only, 1 is pickled records (converted by the next run).
        self.format_version = data.format_version
        self.best_trial: dict | None = best_of(data.docs)
        self.n_trials = len(data.docs)
        self.n_pending = sum(1 for doc in data.docs if is_pending(doc))
        self.n_finished = self.n_trials - self.n_pending
        self.n_ok = sum(1 for doc in data.docs if is_ok(doc))
        self.n_failed = self.n_finished - self.n_ok

    @property
    def docs(self) -> list[dict]:
        """The trial documents (hyperopt's), in the order they were asked for."""
        return self._data.docs

    @cached_property
    def trials(self) -> Trials:
        """The trials as a real ``hyperopt.Trials`` (imports hyperopt), with numpy
        values where hyperopt had them and its ``attachments``."""
        from .trials import trials_from_docs

        data = self._data
        if self._payloads is not None:  # read without numpy: decode again, with it
            data = journal.replay(self._payloads, data.format_version, numpy=True)
        trials = trials_from_docs(list(data.docs))
        trials.attachments = dict(data.attachments)
        return trials

    @property
    def params(self) -> dict[int, dict]:
        """Each trial's stored parameters by trial id (``point``, ``labels``; see ``resumable_opt.params``)."""
        return self._data.params

    @property
    def attachments(self) -> dict:
        """hyperopt's ``Trials.attachments`` of the search (values that are not data as placeholders)."""
        return self._data.attachments

    # -- what the search is ---------------------------------------------

    @property
    def meta(self) -> dict:
        return self._data.meta

    @property
    def seed(self) -> int | None:
        return self.meta.get("seed")

    @property
    def created(self) -> float:
        return self.meta["created"]

    @property
    def algo_name(self) -> str:
        return self.meta.get("algo_name", "?")

    @property
    def objective_name(self) -> str:
        return self.meta.get("objective_name", "?")

    @property
    def runs(self) -> list[RunRecord]:
        return list(self._data.runs)

    @property
    def max_evals(self) -> int | None:
        """The budget of the latest run (all evaluations across runs)."""
        return self._data.runs[-1].max_evals if self._data.runs else None

    @property
    def stopped_because(self) -> str | None:
        """Why the search stopped before its budget (early stop, loss threshold), if it did."""
        return self._data.stopped_because

    @property
    def attempts(self) -> dict[int, int]:
        """Evaluations started and never finished, by trial id (crashes)."""
        return dict(self._data.attempts)

    def intermediate(self, tid: int | None = None) -> dict:
        """The intermediate values trial ``tid`` reported (``current_trial().report``),
        ``{step: value}`` in step order; without ``tid``, ``{tid: {step: value}}`` for
        every trial that reported."""
        if tid is None:
            return {tid: self.intermediate(tid) for tid in sorted(self._data.intermediate)}
        return dict(sorted(self._data.intermediate.get(tid, {}).items()))

    @cached_property
    def space(self) -> Any:
        """The search space, unpickled from the checkpoint (runs its code: for files you trust)."""
        return self.meta["space"].load()

    @cached_property
    def objective(self) -> Any:
        """The objective, unpickled from the checkpoint (runs its code: for files you trust);
        None if it was not stored (it could not be pickled, or ``store_objective=False``)."""
        blob = self.meta.get("objective")
        return None if blob is None else blob.load()

    @cached_property
    def pruner(self) -> Any:
        """The pruner of the latest run, unpickled from the checkpoint (None: no pruner)."""
        from .pruners import stored_pruner  # here: pruners import numpy

        return stored_pruner(self.meta)

    @cached_property
    def algo(self) -> Any:
        """The algorithm, unpickled from the checkpoint (runs its code: for files you trust)."""
        return self.meta["algo"].load()

    @property
    def rng_state(self) -> dict | None:
        return self._data.rng_state

    # -- the best point ---------------------------------------------------

    @property
    def best_loss(self) -> float | None:
        return None if self.best_trial is None else float(self.best_trial["result"]["loss"])

    @property
    def argmin(self) -> dict | None:
        """The best point raw, as ``hyperopt.fmin`` returns it (choice indexes), as plain Python numbers."""
        if self.best_trial is None:
            return None
        raw = active_values(self.best_trial["misc"]["vals"])
        return {label: value.item() if type(value).__module__ == "numpy" else value for label, value in raw.items()}

    @cached_property
    def best(self) -> Any:
        """The best point as the objective received it (as ``hyperopt.space_eval`` decodes it:
        real values, not choice indexes), from what the checkpoint stores."""
        return None if self.best_trial is None else self.decoded(self.best_trial)

    def decoded(self, doc: dict) -> Any:
        """Any trial's point as the objective received it, as stored with the trial.

        Values that were not data are their ``repr`` (``encoding.Shown``).  A
        point stored without its decoded form (it did not decode when it was
        asked for) is given raw, as ``argmin``.  For a checkpoint of the first
        format, decoded with the stored space (unpickling it).
        """
        stored = self._data.params.get(doc["tid"], {})
        if "point" in stored:
            return stored["point"]
        if self.format_version < FORMAT_VERSION:
            from .space import decode

            return decode(self.space, doc["misc"]["vals"])
        return active_values(doc["misc"]["vals"])

    def __repr__(self) -> str:
        from .reporting.summary import summary_text

        return summary_text(self)

    def _repr_html_(self) -> str:
        """The same summary as ``repr``, as HTML for Jupyter."""
        from .reporting.summary import summary_html

        return summary_html(self)

    def to_dataframe(self) -> Any:
        """The trials as a ``pandas.DataFrame``: one row per trial, indexed by nothing in particular.

        The columns are those of ``resumable-opt trials``: ``tid``,
        ``status`` (ok/fail/running/pending), ``loss``, one column per
        hyperopt label with the value the objective saw, ``duration``
        (seconds) and ``started`` (timezone-aware).  Where a conditional
        branch did not use a label the value is NaN; a chosen option None is
        the object None (``frame[label].map(lambda v: v is None)`` finds
        them; ``isna()`` is true for both).  Needs pandas (the ``pandas`` extra).
        """
        from .reporting.extras import require
        from .reporting.rows import trial_table

        pandas = require("pandas", "pandas", "SearchState.to_dataframe()")
        table = trial_table(self)
        frame = pandas.DataFrame(table.rows, columns=table.columns)
        for column in table.parameters:
            if any(column in row and row[column] is None for row in table.rows):
                # A chosen None stays the object None; "not used" is NaN (pandas would make both NaN).
                frame[column] = pandas.Series([row.get(column, math.nan) for row in table.rows], dtype=object)
        frame["started"] = pandas.to_datetime(frame["started"])
        return frame


def load(path: str | Path) -> SearchState:
    """Read a checkpoint into a :class:`SearchState`, at any time.

    Safe while a run is going on: the file is read once, without the lock,
    and an append that is being written at that moment is simply not seen.
    Raises a :class:`~resumable_opt.errors.CheckpointError` subclass naming
    the file when it is missing, damaged or not a checkpoint.  Never unpickles
    anything from a checkpoint of the current format (see docs/format.md);
    one of the first format (``state.format_version == 1``) is made of pickles.
    """
    path = Path(path)
    # Numpy values as numpy values where numpy is imported already (then
    # ``trials`` needs no second decoding); as equal Python numbers where it
    # is not, so that looking at a search does not import it.
    with_numpy = "numpy" in sys.modules
    loaded, owner = read_with_owner(path, numpy=with_numpy)
    payloads = None if with_numpy else loaded.payloads
    return SearchState(path, loaded.data, owner, loaded.torn_bytes, payloads)
