"""hyperopt ``Trials`` kept in step with the checkpoint, without rescans.

``hyperopt.fmin`` calls ``Trials.refresh()``, which rebuilds the list of
valid trials from scratch, several times per evaluation: O(n) work per trial.
The runner instead updates the same lists in place as trials are added and
finish.  The result is the same ``Trials`` object fmin would hold.
"""

from __future__ import annotations

import math

from .checkpoint.journal import JOB_STATE_ERROR, JOB_STATE_NEW, JOB_STATE_RUNNING

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from hyperopt import Trials

STATUS_OK = "ok"  # hyperopt.STATUS_OK; the functions below but the first need no hyperopt


def trials_from_docs(docs: list[dict], into: Trials | None = None) -> Trials:
    """A real ``hyperopt.Trials`` over ``docs`` (the list itself, not a copy).

    With ``into``, that ``Trials`` object (a user's, passed to ``fmin``) is
    made to hold exactly ``docs`` instead of a new one.
    """
    from hyperopt import Trials

    trials = Trials() if into is None else into
    trials._dynamic_trials = docs
    trials._ids = {doc["tid"] for doc in docs}
    trials.refresh()
    return trials


def add_to_valid(trials: Trials, docs: list[dict]) -> None:
    """Show documents just appended to ``trials._dynamic_trials`` as ``refresh`` would."""
    trials._trials.extend(docs)
    trials._ids.update(doc["tid"] for doc in docs)


def drop_from_valid(trials: Trials, doc: dict) -> None:
    """A trial that ended in error leaves ``trials.trials``, as ``refresh`` would do."""
    valid = trials._trials
    for index in range(len(valid) - 1, -1, -1):  # it is almost always the newest
        if valid[index] is doc:
            del valid[index]
            return


def is_pending(doc: dict) -> bool:
    """Asked and not finished: new, or running when its process stopped."""
    return doc["state"] in (JOB_STATE_NEW, JOB_STATE_RUNNING)


def is_ok(doc: dict) -> bool:
    """A trial with a usable loss, as hyperopt's ``best_trial`` counts them."""
    result = doc["result"]
    if doc["state"] == JOB_STATE_ERROR or result.get("status") != STATUS_OK:
        return False
    try:
        return not math.isnan(float(result["loss"]))
    except (TypeError, ValueError, KeyError):  # hyperopt makes an ok loss a float; a foreign document may not
        return False


def best_of(docs: list[dict]) -> dict | None:
    """The trial with the lowest usable loss (the first of equal ones, as
    hyperopt's ``Trials.best_trial``), or None when no trial has one."""
    best, best_loss = None, 0.0
    for doc in docs:
        if is_ok(doc):
            loss = float(doc["result"]["loss"])
            if best is None or loss < best_loss:
                best, best_loss = doc, loss
    return best


def is_failed(doc: dict) -> bool:
    """Finished without a usable loss (an error, a bad result, a ``fail`` status)."""
    return not is_pending(doc) and not is_ok(doc)
