"""Writing the rows of a search to a file: CSV, JSON or Parquet, by its suffix.

The file is replaced atomically (written beside it, fsynced, renamed), so a
reader never sees half an export.  Parquet needs pyarrow (the ``parquet``
extra); a parameter column whose values do not share one type (the options
of an ``hp.choice`` mixing text and structures) is stored as text there.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..checkpoint.store import write_file_atomically
from ..errors import ResumableOptError
from .extras import require
from .render import csv_text, csv_value, json_text
from .rows import TrialTable

FORMATS = (".csv", ".json", ".parquet")


def export_table(table: TrialTable, path: Path) -> str:
    """Write ``table`` to ``path`` in the format its suffix names; return that format."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        content = csv_text(table.columns, table.rows).encode()
    elif suffix == ".json":
        content = json_text(table.columns, table.rows).encode()
    elif suffix == ".parquet":
        content = parquet_bytes(table)
    else:
        raise ResumableOptError(
            f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}; "
            f"name the file with one of {', '.join(FORMATS)}"
        )
    if path.is_dir():
        raise ResumableOptError(f"{path} is a folder; give a file name ending in {', '.join(FORMATS)}")
    if not path.parent.is_dir():
        raise ResumableOptError(f"{path}: the folder {path.parent} does not exist")
    try:
        write_file_atomically(path, content)
    except OSError as exc:
        raise ResumableOptError(f"{path}: cannot write the export: {exc.strerror or exc}") from None
    return suffix[1:]


def parquet_bytes(table: TrialTable) -> bytes:
    """The rows as a Parquet file, one typed column per column."""
    pa = require("pyarrow", "parquet", "writing .parquet files")
    parquet = require("pyarrow.parquet", "parquet", "writing .parquet files")
    arrays = []
    for column in table.columns:
        values = [row.get(column) for row in table.rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            arrays.append(pa.array([None if value is None else csv_value(value) for value in values], pa.string()))
    out = io.BytesIO()
    parquet.write_table(pa.table(arrays, names=table.columns), out)
    return out.getvalue()
