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
from ..errors import CheckpointWriteError, ResumableOptError
from .extras import require
from .render import csv_text, csv_value, json_text
from .rows import TrialTable

FORMATS = (".csv", ".json", ".parquet")


def export_table(table: TrialTable, path: Path) -> str:
    """Write ``table`` to ``path`` in the format its suffix names; return that format."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        content = csv_text(table.columns, table.rows, table.parameters).encode()
    elif suffix == ".json":
        content = json_text(table.columns, table.rows, table.parameters).encode()
    elif suffix == ".parquet":
        content = parquet_bytes(table)
    else:
        raise ResumableOptError(
            f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}; "
            f"name the file with one of {', '.join(FORMATS)}"
        )
    write_output(path, content, "the export", f"a file name ending in {', '.join(FORMATS)}")
    return suffix[1:]


def write_output(path: Path, content: bytes, what: str, name_advice: str) -> None:
    """Replace the file a command was asked to write (an export, a plot), atomically.

    A folder in the way, a missing folder or a failed write is one clear
    error about that file (not about the checkpoint, which is only read).
    """
    if path.is_dir():
        raise ResumableOptError(f"{path} is a folder; give {name_advice}")
    if not path.parent.is_dir():
        raise ResumableOptError(f"{path}: the folder {path.parent} does not exist")
    try:
        write_file_atomically(path, content)
    except CheckpointWriteError as exc:
        raise ResumableOptError(
            f"{path}: cannot write {what}: {getattr(exc.cause, 'strerror', None) or exc.cause}"
        ) from None


def parquet_bytes(table: TrialTable) -> bytes:
    """The rows as a Parquet file, one typed column per column."""
    pa = require("pyarrow", "parquet", "writing .parquet files")
    parquet = require("pyarrow.parquet", "parquet", "writing .parquet files")
    arrays = []
    for column in table.columns:
        values = [row.get(column) for row in table.rows]
        if column in table.parameters and any(column in row and row[column] is None for row in table.rows):
            # A chosen None must stay apart from "not used" (null): the column as text, "None".
            texts = [csv_value(row[column], parameter=True) if column in row else None for row in table.rows]
            arrays.append(pa.array(texts, pa.string()))
            continue
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            arrays.append(pa.array([None if value is None else csv_value(value) for value in values], pa.string()))
    out = io.BytesIO()
    parquet.write_table(pa.table(arrays, names=table.columns), out)
    return out.getvalue()
