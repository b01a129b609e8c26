"""Searches the tests run, in this process and in child processes.

Run as a script, it runs one search on a checkpoint, so that tests can
interrupt it with real signals:

    python tests/searches.py CHECKPOINT MAX_EVALS [--delay S] [--log FILE] [--seed N] [--space NAME]

Each evaluation appends its tid-free parameters to ``--log`` (one JSON line)
before it returns, so a test can see which points were evaluated, how often.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from hyperopt import hp
from hyperopt.pyll import scope

SPACES = {
    "mixed": lambda: {
        "x": hp.uniform("x", -5, 5),
        "y": hp.loguniform("y", -3, 2),
        "kind": hp.choice("kind", ["linear", {"name": "poly", "degree": scope.int(hp.quniform("degree", 1, 5, 1))}]),
    },
    "mixed_wider": lambda: {
        "x": hp.uniform("x", -10, 5),
        "y": hp.loguniform("y", -3, 2),
        "kind": hp.choice("kind", ["linear", {"name": "poly", "degree": scope.int(hp.quniform("degree", 1, 5, 1))}]),
    },
    # A conditional choice of nested dicts and a None option, with long names:
    # its per-trial lines are wider than a terminal.
    "wide": lambda: {
        "learning_rate": hp.loguniform("learning_rate", -5, 0),
        "max_depth_of_each_tree": scope.int(hp.quniform("max_depth_of_each_tree", 2, 12, 1)),
        "sampling": hp.choice(
            "sampling",
            [
                {"mode": "full", "min_samples_leaf": scope.int(hp.quniform("min_samples_leaf", 1, 10, 1))},
                {"mode": "subsample", "fraction_of_rows": hp.uniform("fraction_of_rows", 0.1, 1)},
                None,
            ],
        ),
    },
}


def loss_of(params: dict) -> float:
    """A deterministic objective over the "mixed" space (and the "wide" one)."""
    if "sampling" in params:
        sampling = params["sampling"] or {}
        depth = params["max_depth_of_each_tree"]
        return (math.log(params["learning_rate"]) + 2) ** 2 + 0.01 * depth + 0.1 * len(sampling)
    kind = params["kind"]
    penalty = 0.0 if kind == "linear" else 0.1 * kind["degree"]
    return (params["x"] - 1.0) ** 2 + math.log(params["y"]) ** 2 + penalty


class LoggingObjective:
    """``loss_of`` that records each call in a file and takes ``delay`` seconds."""

    def __init__(self, log: str | None = None, delay: float = 0.0) -> None:
        self.log = log
        self.delay = delay

    def __call__(self, params: dict) -> float:
        if self.log:
            with open(self.log, "a") as handle:
                handle.write(json.dumps(params, sort_keys=True) + "\n")
        if self.delay:
            time.sleep(self.delay)
        return loss_of(params)


def history(trials) -> list[tuple]:
    """What must match between two searches: ids, parameter values, losses."""
    return [
        (doc["tid"], {k: [float(v) for v in vs] for k, vs in doc["misc"]["vals"].items()}, doc["result"].get("loss"))
        for doc in sorted(trials._dynamic_trials, key=lambda d: d["tid"])
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("max_evals", type=int)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--log")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    import resumable_opt

    resumable_opt.minimize(
        LoggingObjective(args.log, args.delay),
        SPACES[args.space](),
        args.checkpoint,
        args.max_evals,
        seed=args.seed,
        progress=not args.quiet,
    )


if __name__ == "__main__":
    main()
