"""A read-only view of a search, as ``resumable_opt.load`` returns it."""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
from hyperopt import Trials

from .checkpoint.journal import RunRecord, SearchData
from .checkpoint.lock import running_owner
from .checkpoint.store import read_checkpoint
from .pruners import stored_pruner
from .space import active_values, decode
from .trials import best_of, is_ok, is_pending, trials_from_docs


class SearchState:
    """A snapshot of a search: its trials, its best point, its runs.

    Reading a checkpoint never blocks or disturbs a run that is writing it;
    the snapshot shows the search as it was when it was read.  ``trials`` is
    a real ``hyperopt.Trials``, so hyperopt's own tools work on it.
    """

    def __init__(self, path: Path, data: SearchData, running: dict | None = None, torn_bytes: int = 0) -> None:
        self.path = Path(path)
        self._data = data
        #: The owner note (pid, host, since) of the run going on now, or None.
        self.running = running
        #: Bytes of an unfinished write at the end of the file that were ignored.
        self.torn_bytes = torn_bytes
        self.trials: Trials = trials_from_docs(list(data.docs))
        self.best_trial: dict | None = best_of(data.docs)
        self.n_trials = len(data.docs)
        self.n_pending = sum(1 for doc in data.docs if is_pending(doc))
        self.n_finished = self.n_trials - self.n_pending
        self.n_ok = sum(1 for doc in data.docs if is_ok(doc))
        self.n_failed = self.n_finished - self.n_ok

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
        """The search space, unpickled from the checkpoint."""
        return cloudpickle.loads(self.meta["space"])

    @cached_property
    def objective(self) -> Any:
        """The objective, unpickled from the checkpoint (None if it could not be stored)."""
        blob = self.meta.get("objective")
        return None if blob is None else cloudpickle.loads(blob)

    @cached_property
    def pruner(self) -> Any:
        """The pruner of the latest run, unpickled from the checkpoint (None: no pruner)."""
        return stored_pruner(self.meta)

    @cached_property
    def algo(self) -> Any:
        return cloudpickle.loads(self.meta["algo"])

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
        return {label: value.item() if isinstance(value, np.generic) else value for label, value in raw.items()}

    @cached_property
    def best(self) -> Any:
        """The best point decoded as ``hyperopt.space_eval`` decodes it (real values)."""
        return None if self.best_trial is None else decode(self.space, self.best_trial["misc"]["vals"])

    def decoded(self, doc: dict) -> Any:
        """Any trial's point, decoded."""
        return decode(self.space, doc["misc"]["vals"])

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
    the file when it is missing, damaged or not a checkpoint.
    """
    path = Path(path)
    loaded = read_checkpoint(path)
    return SearchState(path, loaded.data, running_owner(path), loaded.torn_bytes)
