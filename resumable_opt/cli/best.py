"""``resumable-opt best CKPT [--json]``: the best trial, decoded."""

from __future__ import annotations

import argparse
import json

from ..errors import ResumableOptError
from ..reporting.best_file import best_record
from ..reporting.progress import format_loss
from ..search_state import SearchState
from ..values import to_jsonable
from .common import add_checkpoint_argument, load_search


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "best",
        help="the best trial: loss, trial id and decoded parameters",
        description="Print the best trial of a search: its loss, its trial id and its parameters as the "
        "objective saw them (the chosen value of an hp.choice, not its index). Exits with 1 when no trial "
        "has succeeded yet.",
    )
    add_checkpoint_argument(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (loss, tid, params, argmin, found_at, trials_done_when_written, written_at), "
        "e.g. for jq",
    )
    parser.set_defaults(handler=run)


def decoded_best(state: SearchState) -> object:
    """The best point decoded; a clear error when the stored space cannot be loaded here."""
    try:
        return state.best
    except Exception as exc:
        raise ResumableOptError(
            f"{state.path}: cannot decode the best parameters, the search space cannot be loaded here "
            f"({type(exc).__name__}: {exc}); run from the folder the search ran in. Raw values: {state.argmin}"
        ) from None


def run(args: argparse.Namespace) -> int:
    state = load_search(args.checkpoint)
    if state.best_trial is None:
        raise ResumableOptError(
            f"{state.path}: no successful trial yet ({state.n_finished} finished, {state.n_failed} failed)"
        )
    params = decoded_best(state)
    tid = state.best_trial["tid"]
    if args.json:
        finished = state.best_trial.get("refresh_time")
        loss, raw = state.best_loss, state.argmin
        assert loss is not None and raw is not None  # there is a best trial
        record = best_record(loss, tid, params, raw, finished, state.n_finished)
        print(json.dumps(record, indent=2, allow_nan=False))
        return 0
    print(f"Best loss {format_loss(state.best_loss)} at trial {tid} (of {state.n_finished} finished)")
    if isinstance(params, dict):
        for name, value in params.items():
            print(f"  {name} = {json.dumps(to_jsonable(value)) if isinstance(value, (dict, list, tuple)) else value}")
    else:
        print(f"  {params!r}")
    return 0
