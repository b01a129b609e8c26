"""``resumable-opt demo``: the demo search."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the demo search (tune gradient descent on x^2); Ctrl-C it and run again to resume",
        description="Tune the learning rate and start range of gradient descent on y = x^2. "
        "Press Ctrl-C at any time and run the same command again: it resumes where it stopped.",
    )
    demo.add_argument("--checkpoint", type=Path, default=Path("checkpoints/demo.ckpt"), help="checkpoint file (default: %(default)s)")
    demo.add_argument("--max-evals", type=int, default=30, help="total number of trials (default: %(default)s)")
    demo.add_argument("--delay", type=float, default=0.3, help="seconds each trial takes (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of a new search (default: %(default)s)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    state = run_demo(args.checkpoint, args.max_evals, args.delay, args.seed, progress=not args.quiet)
    print(f"Best loss {state.best_loss:.6g} after {state.n_finished} trials; best parameters:")
    for name, value in state.best.items():
        print(f"  {name} = {value}")
    print(f"Checkpoint: {state.path}  (inspect it with: resumable-opt show {state.path})")
    return 0
