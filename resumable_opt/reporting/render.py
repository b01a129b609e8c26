"""Rows as text: an aligned table for people, CSV and JSON for programs.

The table is drawn by ``tabulate``.  On a terminal it has a header rule,
numbers to 6 significant digits and long values cut to :data:`CELL_WIDTH`;
piped to another program it is plain (no rules, values whole), so ``awk``,
``sort`` and ``grep`` see one trial per line.  CSV and JSON keep every value
whole and every float at full precision.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..values import to_jsonable

#: Longest cell of a table on a terminal; longer values end in "…".
CELL_WIDTH = 28
#: Shortest that cells are cut to, to fit a table to a narrow terminal.
MIN_CELL_WIDTH = 8


def cell_text(value: Any, width: int | None = None) -> str:
    """One value as a table cell: empty for None, ``.6g`` floats, local time to the second."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, (dict, list, tuple)):
        text = compact_json(value)
    else:
        text = str(value)
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def _cell(row: dict, column: str, parameter: bool, width: int | None) -> str:
    if column not in row:
        return ""
    value = row[column]
    return "None" if parameter and value is None else cell_text(value, width)


def compact_json(value: Any) -> str:
    """A structured value (e.g. the chosen option of an ``hp.choice``) on one line."""
    return json.dumps(to_jsonable(value), separators=(", ", ": "))


def fit_table(columns: list[str], rows: list[dict], parameters: list[str], width: int) -> tuple[str, list[str]]:
    """The terminal table within ``width`` columns, and the columns left out to get there.

    Long parameter values are cut shorter first (down to :data:`MIN_CELL_WIDTH`),
    then ``started`` and the last parameter columns are left out; ``tid``,
    ``status``, ``loss`` and ``duration`` always stay.
    """
    shown = list(columns)
    droppable = [column for column in ["started", *reversed(parameters)] if column in shown]
    while True:
        for cell_width in range(CELL_WIDTH, MIN_CELL_WIDTH - 1, -4):
            text = render_table(shown, rows, True, parameters, cell_width)
            if max(map(len, text.splitlines()), default=0) < width:
                return text, [column for column in columns if column not in shown]
        if not droppable:
            return text, [column for column in columns if column not in shown]
        shown.remove(droppable.pop(0))


def render_table(
    columns: list[str], rows: list[dict], terminal: bool, parameters: Iterable[str] = (), cell_width: int = CELL_WIDTH
) -> str:
    """An aligned table of ``rows``: numbers right-aligned, text left-aligned.

    A ``parameters`` column shows a chosen option None as ``None``, and is
    empty where the trial did not use it (the key is absent from its row).
    """
    width = cell_width if terminal else None
    options = set(parameters)
    cells = [[_cell(row, column, column in options, width) for column in columns] for row in rows]
    align = ["right" if _is_numeric(row.get(column) for row in rows) else "left" for column in columns]
    from tabulate import tabulate  # here: with wcwidth it takes longer to import than `best` takes to run

    return tabulate(
        cells,
        headers=columns,
        tablefmt="simple" if terminal else "plain",
        colalign=align,
        disable_numparse=True,  # the cells are formatted already; "1e3" as a choice stays text
    )


def _is_numeric(values: Iterable[Any]) -> bool:
    present = [value for value in values if value is not None]
    return bool(present) and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in present)


def plain_value(value: Any) -> Any:
    """A value as JSON holds it: datetimes in ISO 8601 with their offset, NaN as text."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return to_jsonable(value)


def json_text(columns: list[str], rows: list[dict], parameters: Iterable[str] = ()) -> str:
    """A JSON array with one object per row, keys in column order; a ``parameters``
    column a trial did not use is left out of its object (a chosen None is ``null``)."""
    options = set(parameters)
    objects = [
        {column: plain_value(row.get(column)) for column in columns if column in row or column not in options}
        for row in rows
    ]
    return json.dumps(objects, indent=2, allow_nan=False) + "\n"


def csv_value(value: Any, parameter: bool = False) -> str:
    """A CSV cell: floats at full precision, structured values as JSON; None is
    empty, but ``None`` for a ``parameter`` (an option None, chosen)."""
    if value is None:
        return "None" if parameter else ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list, tuple)):
        return compact_json(value)
    plain = plain_value(value)
    return plain if isinstance(plain, str) else str(plain)


def csv_text(columns: list[str], rows: list[dict], parameters: Iterable[str] = ()) -> str:
    """CSV with a header line, as ``csv`` writes it (RFC 4180 quoting).  A
    ``parameters`` cell is empty where the trial did not use it, ``None`` where
    it chose the option None."""
    options = set(parameters)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_value(row[column], column in options) if column in row else "" for column in columns])
    return out.getvalue()
