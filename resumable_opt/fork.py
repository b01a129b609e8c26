"""Going on with a changed search space, keeping the history: :func:`fork`.

Resuming a search with another space is refused (``SpaceMismatch``): its
trials were drawn from the old one.  ``fork`` starts a *new* checkpoint with
the new space and brings over every trial of the old search that fits it, so
TPE learns from them; the old checkpoint is only read.  A trial fits when

* the new space gives its point the very values the objective saw (every
  label it used is there, a choice index means the same option), and
* each numeric value lies within the new bounds (a narrowed range leaves out
  the trials outside it).

The others are listed with the reason, never silently dropped.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hyperopt import JOB_STATE_NEW, pyll, tpe

from .checkpoint.lock import RunLock
from .errors import CheckpointError, ResumableOptError
from .importing import write_checkpoint
from .params import fill_missing
from .runner.minimize import new_search
from .search_state import SearchState, load
from .space import active_values, decode, parameters
from .trials import is_pending

#: Distributions whose values lie within their first two arguments (True: those are logarithms).
_BOUNDED = {"uniform": False, "quniform": False, "loguniform": True, "qloguniform": True}


@dataclass
class ForkResult:
    """What :func:`fork` did."""

    #: The new search, as ``load`` would return it.
    state: SearchState
    #: Old trial id -> new trial id of each trial brought over (the new ids run 0, 1, 2, ...).
    brought: dict[int, int] = field(default_factory=dict)
    #: (old trial id, why it does not fit) of each trial left out.
    left_out: list[tuple[int, str]] = field(default_factory=list)


def fork(
    old: str | Path,
    new: str | Path,
    space: Any,
    fn: Callable | None = None,
    seed: int | None = None,
    algo: Callable | None = None,
) -> ForkResult:
    """Start the checkpoint ``new`` over ``space`` with every trial of ``old`` that fits it.

    ``old`` is only read (also while a run is going on it).  ``fn`` and
    ``algo`` default to the old search's own, stored so that ``new`` resumes
    without a script; ``seed`` seeds the rest of the search (None: its first
    run chooses).  Trials that were not finished are evaluated first when the
    new search runs.  ``new`` must not exist: a fork never writes over a search.
    Returns the new search with the trials brought over and those left out.
    """
    old_state = load(old)
    new_path = Path(new)
    if new_path.exists() or new_path.is_symlink():
        raise CheckpointError(
            new_path, "already exists", "fork into a new checkpoint path: a fork never writes over a search"
        )
    try:
        old_space = old_state.space
    except Exception as exc:
        raise ResumableOptError(
            f"{old_state.path}: its search space cannot be loaded here ({type(exc).__name__}: {exc}); "
            "fork it from the folder the search ran in"
        ) from None
    bounds = _bounds(space)
    labels = set(parameters(space))
    result_docs: list[dict] = []
    brought: dict[int, int] = {}
    left_out: list[tuple[int, str]] = []
    for doc in sorted(old_state.trials._dynamic_trials, key=lambda doc: doc["tid"]):
        why = _misfit(doc, old_space, space, labels, bounds)
        if why:
            left_out.append((doc["tid"], why))
            continue
        brought[doc["tid"]] = len(result_docs)
        result_docs.append(_renumbered(doc, len(result_docs)))
    new_path.parent.mkdir(parents=True, exist_ok=True)
    with RunLock(new_path) as lock:
        if new_path.exists():
            raise CheckpointError(
                new_path, "already exists", "fork into a new checkpoint path: a fork never writes over a search"
            )
        data = new_search(fn, space, algo or tpe.suggest, seed, None if seed is None else np.random.default_rng(seed))
        # Not given: the old search's own, as stored (whether or not they can be unpickled here).
        for given, keys in ((fn, ("objective", "objective_name")), (algo, ("algo", "algo_name"))):
            if given is None:
                data.meta.update({key: old_state.meta.get(key) for key in keys})
        data.meta["forked_from"] = {
            "path": str(old_state.path.resolve()),
            "brought": len(brought),
            "left_out": len(left_out),
        }
        data.docs.extend(result_docs)
        fill_missing(data.params, data.docs, space)  # decoded in the new space, as import_trials does
        write_checkpoint(new_path, data, lock)
    return ForkResult(SearchState(new_path, data), brought, left_out)


def _misfit(doc: dict, old_space: Any, space: Any, labels: set[str], bounds: dict) -> str:
    """Why the trial ``doc`` does not fit ``space`` ("" when it does)."""
    point = active_values(doc["misc"]["vals"])
    unknown = sorted(point.keys() - labels)
    if unknown:
        return f"the new space has no label {', '.join(map(repr, unknown))}"
    for label, value in point.items():
        if label in bounds:
            low, high = bounds[label]
            try:
                checked = float(value)
            except (TypeError, ValueError):
                return f"{label}={value!r} is not a number"
            slack = 1e-9 * max(1.0, abs(low), abs(high))
            if not low - slack <= checked <= high + slack:
                shown = f"{value:.6g}" if isinstance(value, (float, np.floating)) else str(value)
                return f"{label}={shown} is outside the new range"
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pyll prints the failing node
            then = decode(old_space, doc["misc"]["vals"])
            now = decode(space, doc["misc"]["vals"])
    except Exception as exc:
        return f"its point does not decode in the new space ({type(exc).__name__}: {exc})"
    if now != then:
        return "the new space gives its point other values (a choice's options changed?)"
    return ""


def _bounds(space: Any) -> dict[str, tuple[float, float]]:
    """The (low, high) values each label of a bounded distribution with literal bounds can take."""
    found = {}
    for node in pyll.dfs(pyll.as_apply(space)):
        if node.name != "hyperopt_param":
            continue
        dist = node.arg["obj"]
        if (
            dist.name not in _BOUNDED
            or len(dist.pos_args) < 2
            or not all(arg.name == "literal" for arg in dist.pos_args[:2])
        ):
            continue
        low, high = (float(arg.obj) for arg in dist.pos_args[:2])
        if _BOUNDED[dist.name]:  # hyperopt's bounds of a log distribution are logarithms
            low, high = math.exp(low), math.exp(high)
        step = dist.pos_args[2] if len(dist.pos_args) > 2 else dict(dist.named_args).get("q")
        if dist.name.startswith("q") and step is not None and step.name == "literal" and float(step.obj) > 0:
            q = float(step.obj)  # the values drawn are rounded to a multiple of q
            low, high = round(low / q) * q, round(high / q) * q
        found[node.arg["label"].obj] = (low, high)
    return found


def _renumbered(doc: dict, tid: int) -> dict:
    """A copy of a trial document as trial ``tid`` of the new search."""
    doc = copy.deepcopy(doc)
    doc["tid"] = tid
    doc["misc"]["tid"] = tid
    doc["misc"]["idxs"] = {label: [tid] if values else [] for label, values in doc["misc"]["vals"].items()}
    if is_pending(doc):
        doc["state"] = JOB_STATE_NEW  # evaluated first by the new search's first run
    return doc


__all__ = ["ForkResult", "fork"]
