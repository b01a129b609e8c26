"""``resumable-opt resume CKPT [--max-evals N]``: go on with a search, no script needed."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ResumableOptError
from ..search_state import SearchState
from .common import add_checkpoint_argument, load_search, note, positive_int, print_run_result


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "resume",
        help="continue a search with the objective, space and algorithm stored in its checkpoint",
        description="Continue a search with the objective, search space and algorithm stored in its checkpoint, "
        "exactly as the original script would. Run it from the folder the search was started in if the "
        "objective comes from your own module. Ctrl-C stops it cleanly; run the command again to go on.",
    )
    add_checkpoint_argument(parser)
    parser.add_argument(
        "--max-evals",
        type=positive_int,
        metavar="N",
        help="total trials across all runs (default: the budget of the last run); raise it to extend a finished search",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=run)


def stored(state: SearchState, what: str) -> Any:
    """The objective, space or algorithm unpickled from the checkpoint, or a clear error."""
    try:
        value = getattr(state, what)
    except Exception as exc:
        raise ResumableOptError(
            f"{state.path}: the {what} stored in the checkpoint cannot be loaded here ({type(exc).__name__}: {exc}); "
            "run this command from the folder the search was started in, or resume from Python with "
            "resumable_opt.minimize(objective, space, checkpoint, max_evals)"
        ) from None
    if value is None:
        raise ResumableOptError(
            f"{state.path}: the checkpoint holds no {what} (it could not be pickled); resume from Python with "
            "resumable_opt.minimize(objective, space, checkpoint, max_evals)"
        )
    return value


def run(args: argparse.Namespace) -> int:
    state = load_search(args.checkpoint)
    max_evals = args.max_evals or state.max_evals
    if max_evals is None:
        raise ResumableOptError(f"{state.path}: no run recorded a budget; pass --max-evals N")
    if state.n_finished >= max_evals and state.n_pending == 0 and state.running is None:
        note(
            f"{state.path} already has {state.n_finished} finished trials, its budget of {max_evals}; "
            f"pass --max-evals N with N above {state.n_finished} to go on"
        )
        return 0
    if state.stopped_because:
        note(f"this search had stopped ({state.stopped_because}); it goes on now up to {max_evals} trials")
    objective, space, algo = (stored(state, what) for what in ("objective", "space", "algo"))
    from ..runner import minimize  # here: the inspecting commands import no hyperopt

    # The stored algorithm, not minimize's default: the resumed search is the same search.
    # and its pruner, so that the trials are stopped as before
    pruner = stored(state, "pruner") if state.meta.get("pruner") is not None else None
    final = minimize(objective, space, args.checkpoint, max_evals, algo=algo, progress=not args.quiet, pruner=pruner)
    print_run_result(final)
    return 0
