"""One row per trial: the data behind ``trials``, ``export``, ``plot`` and ``to_dataframe()``.

Every view of the trials of a search is built from :func:`trial_table`, so
the command line, the files it exports, the plot and a notebook's data frame
always agree.  A row holds:

* ``tid``: hyperopt's trial id;
* ``status``: ``ok``, ``pruned`` (stopped early by the pruner: finished, its
  loss is its last reported value), ``fail``, ``running`` (being evaluated by
  the run going on now) or ``pending`` (asked and not finished: it is
  evaluated first when the search is resumed);
* ``loss``: the loss of an ``ok`` or ``pruned`` trial, else None;
* ``step`` (only in a search whose trials report intermediate values): the
  last step the trial reported (for a pruned trial, the one it stopped at);
* one column per hyperopt label, decoded by ``resumable_opt.space.decoder(space).by_label``
  (the chosen option of an ``hp.choice``, not its index; an ``int`` for
  ``scope.int(hp.quniform(...))``; nothing of the space is run).  A label that
  a conditional branch did not use in that trial is *absent* from its row, so
  that it stays distinct from a chosen option ``None`` (the value None in the
  row): CSV writes an empty cell and ``None``, JSON leaves the key out and
  writes ``null``, a data frame has NaN and the object None;
* ``duration``: seconds the evaluation took (millisecond resolution, as
  hyperopt keeps its times), None while not finished;
* ``started``: when the evaluation started, a timezone-aware ``datetime``.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from ..checkpoint.journal import JOB_STATE_RUNNING
from ..params import label_values
from ..trials import is_ok, is_pending
from ..values import active_values

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any

    from ..search_state import SearchState

#: The columns every row has, around the parameter columns.
LEADING_COLUMNS = ("tid", "status", "loss")
TRAILING_COLUMNS = ("duration", "started")

STATUS_OK, STATUS_FAIL, STATUS_RUNNING, STATUS_PENDING = "ok", "fail", "running", "pending"
STATUS_PRUNED = "pruned"
#: The column of the last reported step, after the loss, in searches with intermediate values.
STEP_COLUMN = "step"


class TrialTable:
    """The rows of a search, and what its columns are.

    (A plain class, not a dataclass: see ``checkpoint.journal._Record``.)"""

    def __init__(
        self,
        columns: list[str],
        parameters: list[str],
        rows: list[dict[str, Any]],
        decoded: bool = True,
        why_raw: str = "",
    ) -> None:
        #: Every column, in order: tid, status, loss, the parameters, duration, started.
        self.columns = columns
        #: The parameter columns (hyperopt labels, renamed only if a label clashes with a fixed column).
        self.parameters = parameters
        #: One dict per trial, keyed by column, in trial id order.
        self.rows = rows
        #: False when the stored space could not be loaded here: parameters are hyperopt's raw values.
        self.decoded = decoded
        #: Why the parameters are not decoded (the error loading the space), if they are not.
        self.why_raw = why_raw


def trial_table(state: SearchState) -> TrialTable:
    """The rows of every trial of ``state``; see the module doc for what they hold.

    The decoded values are those stored with each trial (format 2: no space,
    no hyperopt, nothing unpickled); a trial stored without them is given raw.
    For a checkpoint of the first format they are decoded with its space;
    never raises because it cannot be unpickled here (a module it needs is
    missing): the parameters are then given raw, as ``hyperopt.fmin``
    returns them, and :attr:`TrialTable.decoded` is False.
    """
    docs = sorted(state.docs, key=lambda doc: doc["tid"])
    points = [active_values(doc["misc"]["vals"]) for doc in docs]
    try:
        if state.format_version >= 2:
            labels = list(state.meta.get("space_signature", {}).get("parameters", {}))
            stored = [label_values(state.params.get(doc["tid"], {}), labels) for doc in docs]
            decoded_points = [
                _raw_point(point) if values is None else values for point, values in zip(points, stored, strict=True)
            ]
        else:
            from ..space import decoder  # here: it imports hyperopt, which format 2 needs not

            decode = decoder(state.space)
            labels = decode.labels
            decoded_points = [decode.by_label(point) for point in points]
        decoded, why_raw = True, ""
    except Exception as exc:  # the space could not be unpickled or understood here: all raw, never a mix
        labels = sorted({label for doc in docs for label in doc["misc"]["vals"]})
        decoded_points = [_raw_point(point) for point in points]
        decoded, why_raw = False, f"{type(exc).__name__}: {exc}"
    names = {label: _column_name(label) for label in labels}
    reported = state.intermediate()
    rows = []
    for doc, values in zip(docs, decoded_points, strict=True):
        row: dict[str, Any] = {
            "tid": doc["tid"],
            "status": trial_status(doc, running=state.running is not None),
            "loss": float(doc["result"]["loss"]) if is_ok(doc) else None,
        }
        if reported:
            row[STEP_COLUMN] = last_step(doc, reported.get(doc["tid"], {}))
        for label in labels:
            if label in values:  # absent: not used in this trial (see the module doc)
                row[names[label]] = values[label]
        row["duration"] = _duration(doc)
        row["started"] = as_local_time(doc.get("book_time"))
        rows.append(row)
    parameters = [names[label] for label in labels]
    columns = [*LEADING_COLUMNS, *([STEP_COLUMN] if reported else []), *parameters, *TRAILING_COLUMNS]
    return TrialTable(columns, parameters, rows, decoded, why_raw)


STEP_TABLE_COLUMNS = ["tid", "status", STEP_COLUMN, "value"]


def step_table(state: SearchState) -> TrialTable:
    """One row per intermediate value reported (``trials --steps``): tid, status, step, value."""
    docs = {doc["tid"]: doc for doc in state.trials._dynamic_trials}
    rows = []
    for tid, values in state.intermediate().items():
        status = trial_status(docs[tid], running=state.running is not None) if tid in docs else STATUS_PENDING
        rows += [{"tid": tid, "status": status, STEP_COLUMN: step, "value": value} for step, value in values.items()]
    return TrialTable(list(STEP_TABLE_COLUMNS), [], rows)


def trial_status(doc: dict, running: bool) -> str:
    """``ok``/``fail``/``running``/``pending`` of one trial document.

    A trial marked as being evaluated is ``running`` only while a run is
    going on; otherwise its process stopped and it is ``pending`` (it is run
    again first on resume).
    """
    if is_pending(doc):
        return STATUS_RUNNING if running and doc["state"] == JOB_STATE_RUNNING else STATUS_PENDING
    if not is_ok(doc):
        return STATUS_FAIL
    return STATUS_PRUNED if doc["result"].get("pruned") else STATUS_OK


def last_step(doc: dict, values: dict[int, float]) -> int | None:
    """The step a pruned trial stopped at, or the last step a trial reported."""
    if doc["result"].get("pruned") and "step" in doc["result"]:
        return int(doc["result"]["step"])
    return max(values) if values else None


def sort_rows(rows: list[dict], column: str, descending: bool = False) -> list[dict]:
    """``rows`` ordered by ``column``; empty values (e.g. the loss of a failure) always last."""
    present = [row for row in rows if not _is_empty(row.get(column))]
    empty = [row for row in rows if _is_empty(row.get(column))]
    try:
        present.sort(key=lambda row: row[column], reverse=descending)
    except TypeError:  # mixed types in one column (e.g. the options of a choice): by text
        present.sort(key=lambda row: str(row[column]), reverse=descending)
    return present + empty


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _column_name(label: str) -> str:
    """A label as a column name; ``param:loss`` for a label that clashes with a fixed column."""
    return f"param:{label}" if label in (*LEADING_COLUMNS, STEP_COLUMN, *TRAILING_COLUMNS) else label


def _duration(doc: dict) -> float | None:
    started, ended = doc.get("book_time"), doc.get("refresh_time")
    if is_pending(doc) or started is None or ended is None:
        return None
    return max(0.0, (ended - started).total_seconds())


def as_local_time(when: datetime | None) -> datetime | None:
    """hyperopt's naive UTC times as aware local times."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone()


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # a numpy scalar (numpy is not imported to ask)
    return item() if item is not None and type(value).__module__ == "numpy" else value


def _raw_point(point: dict[str, Any]) -> dict[str, Any]:
    return {label: _plain(value) for label, value in point.items()}
