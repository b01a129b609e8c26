"""Each trial's parameters as data, worked out once by the writer and stored with the trial.

A checkpoint keeps, per trial, ``{"point": ..., "labels": {...}}``:

* ``point``: the point as the objective received it (``resumable_opt.space.decode``);
* ``labels``: each hyperopt label's value as the trials table shows it (the
  chosen option of an ``hp.choice``, not its index), see ``reporting/rows.py``;
  left out when the point is a dict that has each of these under the label's
  own name (a flat space): :func:`label_values` gives them back.

Values that are not data (an estimator chosen by an ``hp.choice``...) are kept
as their ``repr`` (``encoding.Shown``).  So every reader shows parameters
without the space, without hyperopt and without unpickling anything.  A point
that does not decode is stored without them, and shown raw.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

from .checkpoint.encoding import displayable
from .values import active_values

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any

    TrialParams = dict[str, Any]


def params_recorder(space: Any) -> Callable[[dict[str, list]], TrialParams]:
    """A function from a trial's ``misc["vals"]`` to what is stored of its parameters."""
    from .space import decode, decoder  # here: reading stored parameters needs no hyperopt

    try:
        by_label = decoder(space)
        all_labels, decode_labels = by_label.labels, by_label.by_label
    except Exception:
        all_labels, decode_labels = [], None

    def record(vals: dict[str, list]) -> TrialParams:
        stored: TrialParams = {}
        with contextlib.redirect_stdout(io.StringIO()):  # pyll prints the node that fails
            try:
                stored["point"] = displayable(decode(space, vals))
            except Exception:
                pass
            if decode_labels is not None:
                try:
                    labels = displayable(decode_labels(active_values(vals)))
                except Exception:
                    pass
                else:
                    if not _shown_by_point(stored, labels, all_labels):
                        stored["labels"] = labels
        return stored

    return record


def _shown_by_point(stored: TrialParams, labels: dict[str, Any], all_labels: list[str]) -> bool:
    """Whether :func:`label_values` gives ``labels`` back from the point alone."""
    try:
        from_point = label_values(stored, all_labels)
        return (
            from_point is not None
            and list(from_point) == list(labels)
            and all(
                type(from_point[label]) is type(value) and from_point[label] == value for label, value in labels.items()
            )
        )
    except Exception:  # values that do not compare (arrays)
        return False


def label_values(stored: TrialParams, all_labels: list[str]) -> dict[str, Any] | None:
    """Each label's value of a trial from what is stored (None when nothing is).

    ``all_labels`` are the space's labels: a flat point holds the active ones."""
    if "labels" in stored:
        return stored["labels"]
    point = stored.get("point")
    if not isinstance(point, dict):
        return None
    return {label: point[label] for label in all_labels if label in point}


def fill_missing(params: dict[int, TrialParams], docs: list[dict], space: Any) -> None:
    """Work out the stored parameters of the trials that have none (new trials
    brought in, a checkpoint of the first format being converted)."""
    missing = [doc for doc in docs if doc["tid"] not in params]
    if not missing:
        return
    record = params_recorder(space)
    for doc in missing:
        params[doc["tid"]] = record(doc["misc"]["vals"])
