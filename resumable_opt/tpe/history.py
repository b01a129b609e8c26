"""What ``tpe.suggest`` reads from a ``Trials``, kept between calls and brought up to date by what changed."""

from __future__ import annotations

import bisect
import logging
import math
import operator
import threading
import weakref
from typing import Any

import numpy as np
from hyperopt import JOB_STATE_NEW, JOB_STATE_RUNNING, STATUS_NEW
from hyperopt.base import miscs_to_idxs_vals
from hyperopt.pyll import scope

from .parzen import Split
from .posterior import DEFAULT_LF

logger = logging.getLogger(__name__)

_FLOAT, _INT, _OTHER = 0, 1, 2
_NO_POSITIONS, _NO_VALUES = np.empty(0, dtype=np.int64), np.empty(0)
#: How often a label's values were sorted whole and how often new ones were merged into the kept order;
#: how often the good trials were found among the last ones and the trials touched since ("followed") and
#: how often by a partition (or sort) of every loss ("partitioned"); how often a label's split was the
#: last one's brought up to date ("split kept") and how often it was made anew ("split anew").
counts = {"sorted": 0, "merged": 0, "followed": 0, "partitioned": 0, "split kept": 0, "split anew": 0}
#: At most this many touched trials (new ones, or with a new result) are looked at for the good trials;
#: past that, the partition of every loss costs about as much.
_MAX_TOUCHED = 256


def _kind(value: Any) -> int:
    """How ``np.asarray`` would hold a list of such values: float64, int64, or something to ask it about."""
    kind = type(value)
    if kind is float or kind is np.float64:
        return _FLOAT
    if (kind is int and -(2**63) <= value < 2**63) or kind is np.int64:
        return _INT
    return _OTHER


class _Growing:
    """A numpy array that grows at its end in amortised constant time."""

    def __init__(self, dtype: Any, values: np.ndarray = _NO_VALUES) -> None:
        self.data = np.empty(max(64, 2 * len(values)), dtype=dtype)
        self.n = len(values)
        self.data[: self.n] = values

    def append(self, value: Any) -> None:
        if self.n == len(self.data):
            self.data = np.concatenate([self.data, np.empty(len(self.data), dtype=self.data.dtype)])
        self.data[self.n] = value
        self.n += 1

    def truncate(self, n: int) -> None:
        self.n = min(self.n, n)

    def view(self) -> np.ndarray:
        return self.data[: self.n]


class _Label:
    """One label's observations: the slots (positions in ``trials.trials``) of
    the trials where it is active, ascending, and their values.

    While every value is a float, it also keeps their positions sorted by
    value (for the Parzen estimator of the bad trials, which would sort them
    at every call), merged with the values appended since the last call.
    Once two values tie (or one is NaN), argsort's order is not unique and
    the estimator sorts by itself: nothing is kept until a truncation removes
    the values that tied.

    It also keeps its last split (:meth:`split`): the good trials change
    rarely, and while they stay, the bad values and their order only grow by
    the values appended.
    """

    def __init__(self) -> None:
        self.slots = _Growing(np.int64)
        self.floats = _Growing(np.float64)
        self.ints = _Growing(np.int64)
        self.kinds = _Growing(np.int8)
        self.values: list = []
        self.n_not_float = 0
        self.n_int = 0
        self._kept: _KeptSplit | None = None
        self._n_sorted = 0  # how many of the first values the kept order holds (0: none kept)
        self._sorted = _NO_POSITIONS  # their positions, by value
        self._sorted_values = _NO_VALUES  # their values, in that order
        self._tied_within = 0  # the first this many values hold a tie or a NaN (0: none known)
        self._merged_at = (-1, 0)  # the position of the value merged last on its own, and its place

    def append(self, slot: int, value: Any) -> None:
        kind = _kind(value)
        self.slots.append(slot)
        self.kinds.append(kind)
        self.floats.append(float(value) if kind == _FLOAT else 0.0)
        self.ints.append(value if kind == _INT else 0)
        self.values.append(value)
        if kind != _FLOAT:
            self.n_not_float += 1
            self.n_int += kind == _INT

    def truncate(self, n_slots: int) -> None:
        keep = int(np.searchsorted(self.slots.view(), n_slots))
        if keep == self.slots.n:
            return
        for column in (self.slots, self.floats, self.ints, self.kinds):
            column.truncate(keep)
        del self.values[keep:]
        self.n_not_float = int(np.count_nonzero(self.kinds.view()))
        self.n_int = int(np.count_nonzero(self.kinds.view() == _INT))
        self._kept = None
        self._merged_at = (-1, 0)
        if keep < self._tied_within:
            self._tied_within = 0
        if keep < self._n_sorted:
            kept = self._sorted < keep  # the survivors stay in order
            self._sorted, self._sorted_values = self._sorted[kept], self._sorted_values[kept]
            self._n_sorted = keep

    def sorted_positions(self) -> np.ndarray | None:
        """All positions ordered by value, the values strictly increasing; None when
        some value is not a float, or two tie, or one is NaN."""
        n, n_sorted = self.slots.n, self._n_sorted
        if self.n_not_float or self._tied_within or n == 0:
            return None
        if n == n_sorted:
            return self._sorted
        floats = self.floats.view()
        if not n_sorted or n - n_sorted > max(16, n_sorted // 8):
            counts["sorted"] += 1
            order = np.argsort(floats)
            values = floats[order]
            increasing = values[1:] > values[:-1]
            if not increasing.all():
                # the first positions past which the tie (or NaN) stays, whatever is truncated after them
                at = np.flatnonzero(~increasing)
                self._tied(int(np.maximum(order[at], order[at + 1]).min()) + 1)
                return None
        else:  # merge the values appended since (most often one)
            counts["merged"] += 1
            kept, kept_values = self._sorted, self._sorted_values
            if n - n_sorted == 1:
                value = float(floats[n_sorted])
                i = int(kept_values.searchsorted(value))
                if not ((i == 0 or kept_values[i - 1] < value) and (i == n_sorted or value < kept_values[i])):
                    self._tied(n)
                    return None
                order = np.concatenate((kept[:i], (n_sorted,), kept[i:]))
                values = np.concatenate((kept_values[:i], (value,), kept_values[i:]))
                self._merged_at = (n_sorted, i)
            else:
                new = np.argsort(floats[n_sorted:]) + n_sorted
                new_values = floats[new]
                if not (new_values[1:] > new_values[:-1]).all():
                    self._tied(n)
                    return None
                at = kept_values.searchsorted(new_values)
                before, after = kept_values[np.maximum(at - 1, 0)], kept_values[np.minimum(at, n_sorted - 1)]
                if not (((at == 0) | (before < new_values)) & ((at == n_sorted) | (new_values < after))).all():
                    self._tied(n)
                    return None
                order = np.insert(kept, at, new)
                values = np.insert(kept_values, at, new_values)
        self._sorted, self._sorted_values, self._n_sorted = order, values, n
        return order

    def _tied(self, within: int) -> None:
        """Two of the first ``within`` values tie (or one is NaN): keep no order until they are truncated."""
        self._sorted, self._sorted_values, self._n_sorted = _NO_POSITIONS, _NO_VALUES, 0
        self._tied_within = within

    def array(self, positions: np.ndarray) -> np.ndarray:
        """``np.asarray`` of the values at ``positions``, as ``ap_split_trials`` makes it."""
        if len(positions) == 0:
            return np.asarray([])
        if not self.n_not_float:
            return self.floats.view()[positions]
        kinds = self.kinds.view()
        if (kinds == _INT).all():
            return self.ints.view()[positions]
        values = self.values
        return np.asarray([values[i] for i in positions])

    def split(self, good: np.ndarray, ordered: bool) -> tuple:
        """``ap_split_trials``' ``(below, above)`` for this label when its good values are those at
        ``good`` (positions, ascending) and all the others are bad; if ``ordered``, a
        :class:`~.parzen.Split` that also holds the order sorting ``above`` (None when values tie).

        While the good positions are the last call's and at most one value was appended since, the
        last call's arrays are brought up to date instead of gathered anew (in kept buffers of ours:
        the caller gets read-only views, which nothing changes afterwards).
        """
        n = self.slots.n
        kind = _FLOAT if not self.n_not_float else _INT if self.n_int == n else _OTHER
        kept, key = self._kept, good.tobytes()
        if kept is None or kept.good != key or kept.kind != kind or not 0 <= n - kept.n <= 1 or ordered > kept.ordered:
            counts["split anew"] += 1
            kept = self._split_anew(good, key, kind, ordered)
        else:
            counts["split kept"] += 1
            if n > kept.n:
                self._split_one_more(kept, good, ordered)
        # Read-only views, not copies: the kept arrays only ever grow past their ends (a truncation
        # makes a new split), so what a caller holds never changes under it.
        below = _read_only(kept.below)
        above = _read_only(kept.above.view()) if n > len(good) else np.asarray([])
        return Split(below, above, kept.order) if ordered else (below, above)

    def _split_anew(self, good: np.ndarray, key: bytes, kind: int, ordered: bool) -> _KeptSplit:
        n = self.slots.n
        bad = np.delete(_counting(n), good)
        values = self.values
        below = np.asarray([values[i] for i in good.tolist()])
        above = self.array(bad)
        dtype = np.float64 if kind == _FLOAT else np.int64 if kind == _INT else above.dtype
        kept = _KeptSplit(key, n, kind, ordered, below, _Growing(dtype, above))
        if ordered:
            kept.order = self._bad_order(bad)
            if kind == _FLOAT:
                kept.good_values = sorted(self.floats.view()[good].tolist())
        if kind != _OTHER:  # (values np.asarray must look at are gathered anew at every call)
            self._kept = kept
        return kept

    def _bad_order(self, bad: np.ndarray) -> np.ndarray | None:
        """The indices into the values at ``bad`` that sort them, from the kept order of all values."""
        by_value = self.sorted_positions() if len(bad) > 1 else None
        if by_value is None:
            return None
        order = _rank(self.slots.n, bad)[by_value]
        order = order[order >= 0]
        order.flags.writeable = False
        return order

    def _split_one_more(self, kept: _KeptSplit, good: np.ndarray, ordered: bool) -> None:
        """The value at position ``kept.n``, appended since, is bad: into the bad values and their order."""
        position = kept.n
        kept.n += 1
        value = (self.floats if kept.kind == _FLOAT else self.ints).data.item(position)
        kept.above.append(value)
        if not ordered:  # (another model on the same trials may want it again: made anew then)
            kept.ordered, kept.order = False, None
            return
        by_value = self.sorted_positions()
        if by_value is None or kept.order is None:
            kept.order = None if by_value is None else self._bad_order(np.delete(_counting(kept.n), good))
            return
        # the values strictly increase: the new one's place among the bad ones is its place among all
        # the values (found by the merge just made) less the good values below it
        merged, at = self._merged_at
        if merged != position:
            at = int(self._sorted_values.searchsorted(value))
        at -= bisect.bisect_left(kept.good_values, value)
        order = np.concatenate((kept.order[:at], (position - len(good),), kept.order[at:]))
        order.flags.writeable = False
        kept.order = order


class _KeptSplit:
    """A label's last split: for good values at the positions ``good`` (their bytes) among its first ``n``
    values (of ``kind``), its below values, its bad values (growing) and, if ``ordered``, their order."""

    __slots__ = ("good", "n", "kind", "ordered", "below", "above", "order", "good_values")

    def __init__(self, good: bytes, n: int, kind: int, ordered: bool, below: np.ndarray, above: _Growing) -> None:
        self.good, self.n, self.kind, self.ordered = good, n, kind, ordered
        self.below, self.above = below, above
        self.order: np.ndarray | None = None
        self.good_values: list = []  # (the good values, ascending, when ordered)


class _Irregular(Exception):
    """Trials this module's fast path does not follow (hyperopt's loops are used for them)."""


class _History:
    """What ``tpe.suggest`` reads from one ``Trials``, kept in step between calls.

    One slot per document of ``trials.trials``, in its order: the trial id,
    the loss hyperopt would read (inf when there is none, NaN excluded as
    hyperopt's ``<=`` excludes it) and, per label, the value.  Each call
    compares the documents and their result objects with those of the
    last call, by identity, and rereads only what differs: the documents
    at every call, the results of the trials that were new or in flight,
    and every result when the list is a new one (``trials.refresh()``).
    """

    def __init__(self, labels: list[str]) -> None:
        self.label_names = labels
        self.lock = threading.Lock()
        #: Trial documents (or their results) read so far: the work that grows with the history.
        self.reads = 0
        self.reset()

    def reset(self) -> None:
        self.docs: list = []
        self.results: list = []
        #: The list of documents read last (a new one: ``trials.refresh()`` ran, every result is looked at).
        self.listed: list | None = None
        #: Slots of the trials that were new or running when last read.
        self.pending: set[int] = set()
        self.tids = _Growing(np.int64)
        self.losses = _Growing(np.float64)
        self.included = _Growing(np.bool_)
        #: How many slots are not included (NaN loss) and how many have a tid not above the one before:
        #: kept up to date so that a call learns without a pass over the history that neither happens.
        self.n_excluded = 0
        self.n_unordered = 0
        self.labels = {label: _Label() for label in self.label_names}
        self.tid_set: set = set()
        self.irregular = False
        self._forget_best()

    def _forget_best(self) -> None:
        #: The slots of the last split's good trials (None: not known), how many it took, and, since
        #: then, the slots whose result was replaced and the first slot added.
        self.best: np.ndarray | None = None
        self.best_k = 0
        self.best_largest = -np.inf  # the largest of their losses
        self.touched: set[int] = set()
        self.added_from = 0

    def observations(self, docs: list) -> _Observations:
        try:
            if not self.irregular:
                self._follow(docs)
                return _FastObservations(self)
        except _Irregular:
            self.irregular = True
        except Exception:
            self.reset()
            raise
        # Unusual trials: read them all, with hyperopt's own loops, every call
        # (and try the fast path again once they are gone).
        observations = _ExactObservations(docs, self.label_names)
        self.reads += len(docs)
        self.reset()
        self.irregular = True  # read them this way from now on
        return observations

    def _follow(self, docs: list) -> None:
        # Lists of the whole history are compared by identity, element by element (C speed), but
        # never sliced or copied: a copy touches every document's reference count, and reaching
        # thousands of objects scattered in memory costs more than the comparison itself.
        n_old, n_new = len(self.docs), len(docs)
        kept = self.docs
        kept.extend(docs[n_old:])
        if kept == docs:  # trials were only added
            first_new = n_old
        else:
            del kept[n_old:]
            common = min(n_old, n_new)
            doc_ids = np.fromiter(map(id, docs[:common]), dtype=np.int64, count=common)
            old_ids = np.fromiter(map(id, self.docs[:common]), dtype=np.int64, count=common)
            differ = np.flatnonzero(doc_ids != old_ids)
            first_new = int(differ[0]) if len(differ) else common
            self._truncate(first_new)
        results = self.results
        del results[first_new:]
        results.extend(map(_RESULT, docs[first_new:]))
        changed = []
        # Results come to the trials that were in flight (the runner's way, and hyperopt's fmin's)...
        for slot in sorted(self.pending):
            result = docs[slot]["result"]
            if result is not results[slot]:
                changed.append(slot)
                results[slot] = result
            if not _awaits_result(docs[slot], result):
                self.pending.discard(slot)
        # ... and a finished trial's result replaced by hand is looked for when the list is a new one
        # (``trials.refresh()``, which hyperopt's fmin calls at every evaluation): looking at every
        # trial's result at every call would cost an eighth of a proposal (memory scattered over the
        # history), to see what the runner never does.
        if docs is not self.listed:
            self.listed = docs
            self.reads += n_new
            fresh = list(map(_RESULT, docs))
            if fresh != results:  # (C speed when every result is the same object)
                new_ids = np.fromiter(map(id, fresh), dtype=np.int64, count=n_new)
                old_ids = np.fromiter(map(id, results), dtype=np.int64, count=n_new)
                changed.extend(np.flatnonzero(new_ids != old_ids).tolist())
            self.results = results = fresh
        losses, included = self.losses.data, self.included.data
        self.reads += len(changed) + n_new - first_new
        for slot in changed:
            loss = _loss(results[slot])
            losses[slot] = loss
            self.n_excluded += bool(included[slot]) - (loss == loss)
            included[slot] = loss == loss
        for slot in range(first_new, n_new):
            self._append(slot, docs[slot], results[slot])
        if self.best is not None:
            self.touched.update(changed)
            if len(self.touched) > _MAX_TOUCHED:
                self._forget_best()
        if first_new != n_old:  # (otherwise the kept list was brought up to date above)
            self.docs = list(docs)

    def _truncate(self, n: int) -> None:
        self._forget_best()
        self.pending = {slot for slot in self.pending if slot < n}
        for tid in self.tids.view()[n:].tolist():
            self.tid_set.discard(tid)
        for column in (self.tids, self.losses, self.included):
            column.truncate(n)
        self.n_excluded = len(self.included.view()) - int(np.count_nonzero(self.included.view()))
        self.n_unordered = int(np.count_nonzero(np.diff(self.tids.view()) <= 0))
        for label in self.labels.values():
            label.truncate(n)

    def _append(self, slot: int, doc: dict, result: dict) -> None:
        tid = doc["tid"]
        misc = doc["misc"]
        if type(tid) is not int or "from_tid" in misc or misc.get("tid") != tid or tid in self.tid_set:
            raise _Irregular
        idxs, vals = misc["idxs"], misc["vals"]
        active = []
        for name in self.label_names:
            t_idxs, t_vals = idxs.get(name), vals.get(name)
            if t_idxs is None or t_vals is None or len(t_idxs) != len(t_vals) or t_idxs not in ([], [tid]):
                raise _Irregular
            if t_idxs:
                active.append((name, t_vals[0]))
        loss = _loss(result)
        if self.tids.n and tid <= self.tids.data[self.tids.n - 1]:
            self.n_unordered += 1
        self.tids.append(tid)
        self.losses.append(loss)
        self.included.append(loss == loss)
        self.n_excluded += loss != loss
        self.tid_set.add(tid)
        if _awaits_result(doc, result):
            self.pending.add(slot)
        for name, value in active:
            self.labels[name].append(slot, value)

    def smallest(self, k: int) -> np.ndarray:
        """``_smallest(losses, k)``, ascending, when every trial is included and in tid order (slot == position).

        The good trials rarely change from one call to the next: the k smallest
        losses are looked for among the last call's and those of the trials
        added or whose result was replaced since, then checked against all
        losses. The check makes it self-verifying: if exactly k losses are <=
        the largest one picked, the k picked are the k smallest, whatever the
        candidates were, and no tie at the k-th loss leaves argsort a choice.
        Otherwise (and after a truncation, with another k, or with too many
        trials touched) every loss is partitioned, as before.
        """
        losses = self.losses.view()
        n = len(losses)
        best, touched, added_from = self.best, self.touched, self.added_from
        picked = None
        if best is not None and self.best_k == k and 0 < k < n and len(touched) + n - added_from <= _MAX_TOUCHED:
            largest = self.best_largest
            if touched or not all(loss > largest for loss in losses[added_from:].tolist()):
                # best ⊆ [0, added_from): distinct from the added slots; a touched slot may be either
                candidates = np.concatenate((best, _counting(n)[added_from:]))
                if touched:
                    candidates = np.unique(np.concatenate((candidates, np.fromiter(touched, np.int64, len(touched)))))
                if len(candidates) > k:
                    candidates = np.sort(candidates[np.argpartition(losses[candidates], k - 1)[:k]])
                largest = float(losses[candidates].max())
            else:  # (most calls: nothing touched, no new loss among the good ones)
                candidates = best
            # The check that makes this self-verifying, whatever the candidates were:
            if len(candidates) == k and np.count_nonzero(losses <= largest) == k:
                picked = candidates
                counts["followed"] += 1
        if picked is None:
            counts["partitioned"] += 1
            picked = np.sort(_smallest(losses, k))
            largest = float(losses[picked].max()) if len(picked) else -np.inf
        self.best, self.best_k, self.best_largest, self.touched, self.added_from = picked, k, largest, set(), n
        return picked


_RESULT = operator.itemgetter("result")
_IN_FLIGHT = (JOB_STATE_NEW, JOB_STATE_RUNNING)


def _awaits_result(doc: dict, result: Any) -> bool:
    """Whether a trial's result may still arrive: it is in flight, or its result is still the
    placeholder (hyperopt's fmin and SparkTrials set the state before the result: a call may
    come between the two)."""
    return doc.get("state") in _IN_FLIGHT or (isinstance(result, dict) and result.get("status") == STATUS_NEW)


def _loss(result: dict) -> float:
    loss = result.get("loss")
    return float("inf") if loss is None else float(loss)


class _Observations:
    """The inputs of hyperopt's split: how many trials, their losses, and per
    label the (good, bad) observations ``ap_split_trials`` would return."""

    n: int

    def losses(self) -> np.ndarray:
        raise NotImplementedError

    def max_tid(self) -> int:
        raise NotImplementedError

    def split(self, gamma: float, ordered: frozenset = frozenset()) -> dict[str, tuple]:
        """Per label, ``ap_split_trials``' ``(below, above)``; for the labels in ``ordered``,
        when it can, a :class:`~.parzen.Split` that also holds the order sorting ``above``."""
        raise NotImplementedError


def _n_below(gamma: float, n: int) -> int:
    # ap_split_trials' own expression, with its gamma_cap; for a float gamma, the same float64
    # operations (correctly rounded sqrt and product, ceil) without numpy scalars
    if type(gamma) is float:
        return min(math.ceil(gamma * math.sqrt(n)), DEFAULT_LF)
    return min(int(np.ceil(gamma * np.sqrt(n))), DEFAULT_LF)


def _smallest(losses: np.ndarray, k: int) -> np.ndarray:
    """The positions of ``np.argsort(losses)[:k]``, in some order (the split uses them as a set).

    A partition finds them in linear time; when the k-th smallest loss ties
    with the next, which of the tied ones argsort puts first depends on its
    algorithm, so argsort itself decides.
    """
    if 0 < k < len(losses):
        part = np.argpartition(losses, k - 1)[:k]
        if np.count_nonzero(losses <= losses[part].max()) == k:
            return part
    return np.argsort(losses)[:k]


class _FastObservations(_Observations):
    def __init__(self, history: _History) -> None:
        self.history = history
        self.all_included = not history.n_excluded
        self.in_tid_order = not history.n_unordered
        n = history.tids.n
        self.slots = _counting(n) if self.all_included else np.flatnonzero(history.included.view())
        if not self.in_tid_order:
            self.slots = self.slots[np.argsort(history.tids.view()[self.slots], kind="stable")]
        self.n = len(self.slots)

    def losses(self) -> np.ndarray:
        losses = self.history.losses.view()
        return losses if self.all_included and self.in_tid_order else losses[self.slots]

    def max_tid(self) -> int:
        tids = self.history.tids.view()
        if self.all_included and self.in_tid_order:
            return int(tids[-1])
        return int(tids[self.slots].max())

    def split(self, gamma: float, ordered: frozenset = frozenset()) -> dict[str, tuple]:
        history = self.history
        k = _n_below(gamma, self.n)
        if self.all_included and self.in_tid_order:  # a position is a slot: each label splits by itself
            good_slots = history.smallest(k)
            n_slots = history.tids.n
            regular = {}
            for name, label in history.labels.items():
                slots = label.slots.view()
                good = good_slots if len(slots) == n_slots else _positions_of(slots, good_slots)
                regular[name] = label.split(good, name in ordered)
            return regular
        history._forget_best()
        below = np.zeros(history.tids.n, dtype=bool)
        below[self.slots[_smallest(self.losses(), k)]] = True
        included = history.included.view()
        tids = history.tids.view()
        splits: dict[str, tuple] = {}
        # The labels active in every trial share their good and bad positions.
        everywhere: tuple[np.ndarray, np.ndarray] | None = None
        for name, label in history.labels.items():
            slots = label.slots.view()
            active_everywhere = len(slots) == len(tids)
            if active_everywhere and everywhere is not None:
                good, bad = everywhere
            else:
                positions = np.arange(len(slots))
                if not self.all_included:
                    positions = positions[included[slots]]
                if not self.in_tid_order:
                    positions = positions[np.argsort(tids[slots[positions]], kind="stable")]
                is_below = below[slots[positions]]
                good, bad = positions[is_below], positions[~is_below]
                if active_everywhere:
                    everywhere = good, bad
            values = label.values
            below_values, above_values = np.asarray([values[i] for i in good]), label.array(bad)
            if name not in ordered:
                splits[name] = (below_values, above_values)
                continue
            splits[name] = Split(below_values, above_values, label._bad_order(bad))
        return splits


def _positions_of(slots: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The positions in ``slots`` (ascending) of those of the ``wanted`` slots (ascending) it holds."""
    at = slots.searchsorted(wanted)
    at = at[at < len(slots)]
    return at[slots[at] == wanted[: len(at)]]


def _read_only(values: np.ndarray) -> np.ndarray:
    view = values.view()
    view.flags.writeable = False
    return view


def _rank(n: int, positions: np.ndarray) -> np.ndarray:
    """Of each of ``n`` positions, its index in ``positions`` (distinct), or -1."""
    rank = np.full(n, -1)
    rank[positions] = _counting(len(positions))
    return rank


_COUNTING = np.arange(0)


def _counting(n: int) -> np.ndarray:
    """``np.arange(n)``, read-only, without making it anew at every call."""
    global _COUNTING
    counting = _COUNTING
    if len(counting) < n:
        counting = np.arange(max(n, 2 * len(counting)))
        counting.flags.writeable = False
        _COUNTING = counting
    return counting[:n]


class _ExactObservations(_Observations):
    """hyperopt's own reading of the trials (its loops, its ``ap_split_trials``), for unusual histories."""

    def __init__(self, docs: list, labels: list[str]) -> None:
        best_docs: dict = {}
        best_docs_loss: dict = {}
        tid_counts: dict = {}
        for doc in docs:
            tid = doc["misc"].get("from_tid", doc["tid"])
            tid_counts[tid] = tid_counts.get(tid, 0) + 1
            loss = doc["result"].get("loss")
            loss = float("inf") if loss is None else float(loss)
            best_docs_loss.setdefault(tid, loss)
            if loss <= best_docs_loss[tid]:
                best_docs_loss[tid] = loss
                best_docs[tid] = doc
        tid_docs = sorted(best_docs.items())
        self.loss_list = [best_docs_loss[tid] for tid, doc in tid_docs]
        self.tid_list, chosen = list(zip(*tid_docs, strict=True)) if tid_docs else ([], [])
        self.n = len(chosen)
        self.chosen, self.labels = chosen, labels
        self.irregular = any(count > 1 for count in tid_counts.values())

    def losses(self) -> np.ndarray:
        return np.asarray(self.loss_list)

    def max_tid(self) -> int:
        return max(self.tid_list)

    def split(self, gamma: float, ordered: frozenset = frozenset()) -> dict[str, tuple]:
        # read only now, as hyperopt reads them only once past the start-up trials
        obs_idxs, obs_vals = miscs_to_idxs_vals([doc["misc"] for doc in self.chosen], keys=self.labels)
        split = scope._impls["ap_split_trials"]
        return {name: split(obs_idxs[name], obs_vals[name], self.tid_list, self.loss_list, gamma) for name in obs_idxs}


HISTORIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def history_for(trials: Any, labels: list[str]) -> _History:
    """The kept state for ``trials`` (a new one when the labels differ)."""
    try:
        history = HISTORIES.get(trials)
        if history is None or history.label_names != labels:
            history = HISTORIES[trials] = _History(labels)
            logger.debug("resumable_opt.tpe: following a new Trials (labels %s)", ", ".join(labels))
    except TypeError:  # a Trials that cannot be weakly referenced or hashed: read it all every time
        history = _History(labels)
    return history
