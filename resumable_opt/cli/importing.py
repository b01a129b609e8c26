"""``resumable-opt import`` and ``resumable-opt add-points``: bring hyperopt searches over, warm-start."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ResumableOptError
from .common import add_checkpoint_argument, make_working_folder_importable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="start a checkpoint from a pickled hyperopt Trials or a trials_save_file",
        description="Start a new checkpoint whose history is the trials of a pickled hyperopt.Trials "
        "(or an fmin trials_save_file). The search goes on from it with resumable_opt.fmin(..., "
        "checkpoint=CHECKPOINT) or minimize(); TPE learns from the imported trials.",
    )
    parser.add_argument("source", type=Path, help="the pickled Trials / trials_save_file")
    add_checkpoint_argument(parser, help="the new checkpoint to create (never written over)")
    parser.add_argument(
        "--space",
        required=True,
        metavar="MODULE:NAME",
        help="the space the trials were made with, "
        "as module:attribute or path/to/file.py:attribute (the module is imported)",
    )
    parser.add_argument(
        "--objective", metavar="MODULE:NAME", help="the objective, stored so the search resumes without its script"
    )
    parser.add_argument("--seed", type=int, help="seed of the rest of the search (default: its first run chooses)")
    parser.set_defaults(handler=run_import)

    points = subparsers.add_parser(
        "add-points",
        help="add hand-picked points to a checkpoint; its next run evaluates them first",
        description="Append points to a search. Each point is a JSON object {label: value} as fmin's "
        "points_to_evaluate takes it (a choice as its index). The next run evaluates them first.",
    )
    add_checkpoint_argument(points)
    points.add_argument(
        "points", nargs="+", metavar="JSON", help='a point, e.g. \'{"x": 0.5, "kind": 1}\', or a JSON list of points'
    )
    points.set_defaults(handler=run_add_points)


def load_object(spec: str) -> Any:
    """The object named by ``module:attribute`` or ``path/to/file.py:attribute``."""
    where, _, attribute = spec.rpartition(":")
    if not where or not attribute:
        raise ResumableOptError(f"{spec!r}: give it as module:attribute or path/to/file.py:attribute")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise ResumableOptError(f"{where}: no such file")
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or module_spec.loader is None:
                raise ResumableOptError(f"{where}: not a Python file that can be imported")
            module = importlib.util.module_from_spec(module_spec)
            sys.path.insert(0, str(path.parent.resolve()))
            module_spec.loader.exec_module(module)
        else:
            make_working_folder_importable()
            module = importlib.import_module(where)
    except ResumableOptError:
        raise
    except Exception as exc:
        raise ResumableOptError(f"{where}: cannot be imported ({type(exc).__name__}: {exc})") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ResumableOptError(f"{where} has no {attribute!r}") from None


def run_import(args: argparse.Namespace) -> int:
    from ..importing import import_trials

    space = load_object(args.space)
    objective = load_object(args.objective) if args.objective else None
    state = import_trials(args.source, space, args.checkpoint, fn=objective, seed=args.seed)
    print(
        f"Imported {state.n_trials} trials ({state.n_failed} failed, {state.n_pending} not finished) into {state.path}."
    )
    if state.best_trial is not None:
        print(f"Best loss {state.best_loss:.6g} at trial {state.best_trial['tid']}: {state.best}")
    print(f"Go on with resumable_opt.fmin(objective, space, ..., checkpoint={str(state.path)!r}).")
    return 0


def run_add_points(args: argparse.Namespace) -> int:
    from ..importing import add_points

    points: list[dict] = []
    for text in args.points:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResumableOptError(f"{text!r} is not JSON ({exc}); write a point as '{{\"label\": value}}'") from None
        points.extend(value if isinstance(value, list) else [value])
    if not all(isinstance(point, dict) for point in points):
        raise ResumableOptError("each point must be a JSON object {label: value}")
    tids = add_points(args.checkpoint, points)
    print(
        f"Added {len(tids)} point(s) to {args.checkpoint} as trial(s) {', '.join(map(str, tids))};"
        " the next run evaluates them first."
    )
    return 0
