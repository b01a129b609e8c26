"""``resumable-opt export CKPT -o FILE``: the rows of ``trials`` to CSV, JSON or Parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..reporting.export import FORMATS, export_table
from ..reporting.rows import trial_table
from .common import add_checkpoint_argument, load_search, note_if_raw


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write every trial to a .csv, .json or .parquet file",
        description="Write the rows of `resumable-opt trials` (every trial, every column, values whole) to a "
        "file whose suffix chooses the format: .csv, .json, or .parquet (needs pyarrow: "
        "pip install 'resumable-opt[parquet]'). The file is replaced atomically.",
    )
    add_checkpoint_argument(parser)
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help=f"the file to write ({', '.join(FORMATS)})"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    table = trial_table(load_search(args.checkpoint))
    note_if_raw(table)
    written = export_table(table, args.output)
    print(f"Wrote {len(table.rows)} trials to {args.output} ({written})")
    return 0
