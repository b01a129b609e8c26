"""Pruners: stop hopeless trials early, from their intermediate values.

``minimize(..., pruner=MedianPruner())``; in the objective,
``current_trial().report(step, value)`` then ``current_trial().should_prune()``.

The runner asks the pruner once per report, with the checkpoint's data
(:class:`History`): every trial's reported values and which trials finished.
A decision depends on nothing else (no state kept in the pruner between
calls, no clock), and a trial's own values after the step being decided are
ignored, so a resumed search makes the same decisions as an uninterrupted
one.  Values are losses: lower is better.

The rules are Optuna's (``optuna.pruners.MedianPruner``,
``optuna.pruners.SuccessiveHalvingPruner``); where Optuna keeps state in the
pruner, it is derived from the checkpoint's data here instead (see each class).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable

import cloudpickle
import numpy as np

from .checkpoint.encoding import Pickled
from .trials import is_ok, is_pending


class History:
    """What a pruner may look at: the checkpoint's intermediate values and trials."""

    def __init__(self, intermediate: dict[int, dict[int, float]], docs_by_tid: dict[int, dict]) -> None:
        self._intermediate = intermediate
        self._docs = docs_by_tid

    def values(self, tid: int, up_to: int | None = None) -> dict[int, float]:
        """The values trial ``tid`` reported, by step (only steps <= ``up_to`` if given)."""
        values = self._intermediate.get(tid, {})
        if up_to is None:
            return values
        return {step: value for step, value in values.items() if step <= up_to}

    def reporting(self) -> Iterable[int]:
        """The trials that reported at least one value."""
        return self._intermediate.keys()

    def completed(self) -> list[int]:
        """Trials that finished with a loss and were not pruned (Optuna's COMPLETE), by tid."""
        return sorted(
            tid
            for tid, doc in self._docs.items()
            if not is_pending(doc) and is_ok(doc) and not doc["result"].get("pruned")
        )


class Pruner(ABC):
    """Base of the pruners: subclass it and define :meth:`prune` for a rule of your own."""

    @abstractmethod
    def prune(self, history: History, tid: int, step: int) -> bool:
        """Whether trial ``tid``, which just reported ``step``, should stop.

        Must depend only on ``history`` (and on the trial's own values up to
        ``step``), so that the decision is the same after a resume.
        """

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({args})"


def _whole(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return int(value)


class MedianPruner(Pruner):
    """Prune a trial whose best value so far is worse than the median of the
    completed trials' values at the same step (Optuna's ``MedianPruner``).

    Never prunes before ``n_startup_trials`` trials have completed (finished
    and not pruned), before step ``n_warmup_steps``, nor at steps that are
    not the first of an ``interval_steps`` interval, nor when fewer than
    ``n_min_trials`` completed trials reported this step.  A trial whose
    values are all NaN is pruned.
    """

    def __init__(
        self, n_startup_trials: int = 5, n_warmup_steps: int = 0, interval_steps: int = 1, *, n_min_trials: int = 1
    ) -> None:
        self.n_startup_trials = _whole("n_startup_trials", n_startup_trials, 0)
        self.n_warmup_steps = _whole("n_warmup_steps", n_warmup_steps, 0)
        self.interval_steps = _whole("interval_steps", interval_steps, 1)
        self.n_min_trials = _whole("n_min_trials", n_min_trials, 1)

    def prune(self, history: History, tid: int, step: int) -> bool:
        completed = history.completed()
        if not completed or len(completed) < self.n_startup_trials or step < self.n_warmup_steps:
            return False
        own = history.values(tid, up_to=step)
        if not self._first_in_interval(step, own):
            return False
        finite = [value for value in own.values() if not math.isnan(value)]
        if not finite:
            return True
        at_step = [history.values(other)[step] for other in completed if step in history.values(other)]
        at_step = [value for value in at_step if not math.isnan(value)]
        if len(at_step) < self.n_min_trials or not at_step:
            return False
        return min(finite) > float(np.percentile(at_step, 50))

    def _first_in_interval(self, step: int, own: dict[int, float]) -> bool:
        """Optuna's rule: decide only at the first reported step of each interval."""
        nearest_lower = (step - self.n_warmup_steps) // self.interval_steps * self.interval_steps + self.n_warmup_steps
        previous = max((s for s in own if s != step), default=-1)
        return previous < nearest_lower


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA), with Optuna's rule.

    Rung ``r`` is reached at step ``min_resource * reduction_factor **
    (min_early_stopping_rate + r)``.  A trial reaching a rung competes with
    every other trial that reached it (running or finished), by the value
    each reported at its first step at or past the rung: it goes on only if
    it is in the best ``1/reduction_factor`` of them (while fewer than
    ``reduction_factor`` compete, only if it is the best), and is pruned
    when no more than ``bootstrap_count`` values compete.

    ``min_resource="auto"``: as Optuna, ``max(1, last step // 100)`` of a
    completed trial, taken here from the completed trial with the lowest
    tid that reported values (Optuna estimates it from the trials completed
    at its first decision and keeps it; deriving it from the checkpoint keeps
    decisions the same after a resume); no decision until one exists.  Unlike
    Optuna, the trials that reported before the resource was known compete at
    the rungs they reached too (Optuna never records their rungs), as in ASHA.
    """

    def __init__(
        self,
        min_resource: int | str = "auto",
        reduction_factor: int = 4,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
    ) -> None:
        if min_resource != "auto":
            min_resource = _whole("min_resource", min_resource, 1)
        self.min_resource = min_resource
        self.reduction_factor = _whole("reduction_factor", reduction_factor, 2)
        self.min_early_stopping_rate = _whole("min_early_stopping_rate", min_early_stopping_rate, 0)
        self.bootstrap_count = _whole("bootstrap_count", bootstrap_count, 0)

    def _resource(self, history: History) -> int | None:
        if self.min_resource != "auto":
            return int(self.min_resource)
        for tid in history.completed():
            values = history.values(tid)
            if values:
                return max(max(values) // 100, 1)
        return None

    def rung_step(self, resource: int, rung: int) -> int:
        """The step at which rung ``rung`` is reached."""
        return resource * self.reduction_factor ** (self.min_early_stopping_rate + rung)

    @staticmethod
    def _value_at_rung(values: dict[int, float], rung_step: int) -> float | None:
        past = [step for step in values if step >= rung_step]
        return values[min(past)] if past else None

    def prune(self, history: History, tid: int, step: int) -> bool:
        resource = self._resource(history)
        if resource is None:
            return False
        own = history.values(tid, up_to=step)
        value = own[step]
        earlier = max((s for s in own if s < step), default=-1)
        rung = 0
        while self.rung_step(resource, rung) <= earlier:  # rungs passed at earlier reports
            rung += 1
        while step >= self.rung_step(resource, rung):
            if math.isnan(value):
                return True
            at = self.rung_step(resource, rung)
            competing = [value]
            for other in history.reporting():
                if other != tid:
                    reached = self._value_at_rung(history.values(other), at)
                    if reached is not None and not math.isnan(reached):  # NaN does not sort
                        competing.append(reached)
            if len(competing) <= self.bootstrap_count:
                return True
            index = max(len(competing) // self.reduction_factor - 1, 0)
            if not value <= sorted(competing)[index]:
                return True
            rung += 1
        return False


def record_pruner(meta: dict, pruner: Pruner | None) -> None:
    """Keep the run's pruner with the search (``resumable-opt resume`` uses it again)."""
    meta["pruner"] = None if pruner is None else Pickled.of(pruner)
    meta["pruner_name"] = None if pruner is None else repr(pruner)


def stored_pruner(meta: dict) -> Pruner | None:
    """The pruner the latest run of the search used (None: none, or a search made before pruners)."""
    blob = meta.get("pruner")
    if isinstance(blob, bytes):  # written before pruners were stored as Pickled
        return cloudpickle.loads(blob)
    return None if blob is None else blob.load()


def check_pruner(pruner: object) -> Pruner | None:
    """``pruner`` as given to ``minimize``/``fmin``, refused when it is not a :class:`Pruner`."""
    if pruner is None or isinstance(pruner, Pruner):
        return pruner
    raise TypeError(
        f"pruner must be a resumable_opt pruner (MedianPruner(), SuccessiveHalvingPruner(), or a subclass of "
        f"resumable_opt.Pruner), or None; not {type(pruner).__name__}"
    )


__all__ = [
    "History",
    "MedianPruner",
    "Pruner",
    "SuccessiveHalvingPruner",
    "check_pruner",
    "record_pruner",
    "stored_pruner",
]
