"""``resumable-opt fork OLD NEW --space FILE:NAME``: go on with a changed space, keeping the history."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..reporting.progress import format_loss, format_params, plural
from .common import load_search, make_working_folder_importable
from .importing import load_object

#: Left-out trials listed one per line; the rest are counted.
LISTED = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fork",
        help="start a new checkpoint with a changed space, bringing over every old trial that fits it",
        description="Start the checkpoint NEW over a new search space with every trial of the search OLD that "
        "fits it (every label it used is in the new space, choices mean the same options, values within the new "
        "ranges), so the search goes on from its history after its space was widened or changed. The trials "
        "that do not fit are listed. OLD is only read; NEW must not exist. The objective and algorithm are "
        "OLD's unless given.",
    )
    parser.add_argument("old", type=Path, metavar="OLD", help="the checkpoint of the search so far")
    parser.add_argument("new", type=Path, metavar="NEW", help="the new checkpoint to create (never written over)")
    parser.add_argument(
        "--space", required=True, metavar="FILE:NAME", help="the new space, as path/to/file.py:NAME or module:NAME"
    )
    parser.add_argument("--objective", metavar="FILE:NAME", help="the objective (default: the one stored in OLD)")
    parser.add_argument("--seed", type=int, help="seed of the rest of the search (default: its first run chooses)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..fork import fork

    load_search(args.old)  # a missing or mistyped OLD: the usual one-line error, with its suggestion
    make_working_folder_importable()
    space = load_object(args.space)
    objective = load_object(args.objective) if args.objective else None
    result = fork(args.old, args.new, space, fn=objective, seed=args.seed)
    state = result.state
    total = len(result.brought) + len(result.left_out)
    print(f"Forked {args.old} into {state.path}: {len(result.brought)} of {plural(total, 'trial')} brought over.")
    if result.left_out:
        print(f"{plural(len(result.left_out), 'trial')} left out (not in the new space):")
        for tid, why in result.left_out[:LISTED]:
            print(f"  trial {tid}: {why}")
        if len(result.left_out) > LISTED:
            print(f"  ... and {len(result.left_out) - LISTED} more")
    if state.best_trial is not None:
        print(
            f"Best loss {format_loss(state.best_loss)} at trial {state.best_trial['tid']}: {format_params(state.best)}"
        )
    go_on = f"resumable-opt resume {shlex.quote(str(state.path))} --max-evals N"
    if state.meta.get("objective") is None:  # could not be pickled: it must be passed
        go_on = f"resumable_opt.minimize(objective, space, {str(state.path)!r}, max_evals=N)"
    print(f"Go on with: {go_on}")
    return 0
