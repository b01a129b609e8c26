"""Spaces of every kind and every hyperopt algorithm, for the drop-in tests.

Run as a script, it runs ``resumable_opt.fmin`` on a checkpoint in a child
process, so that tests can interrupt it with real signals:

    python tests/dropin_spaces.py CHECKPOINT SPACE ALGO MAX_EVALS [--seed N] [--delay S] [--log FILE]

Each evaluation appends its point to ``--log`` (one JSON line) before it
returns.  ``--signature`` prints the signatures of all the spaces as JSON instead.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from hyperopt import anneal, atpe, hp, mix, rand, tpe
from hyperopt.pyll import scope


@scope.define
def halved(value):
    return value / 2


SPACES = {
    "choices": lambda: {
        "choice": hp.choice("choice", ["a", "bb", None]),
        "pchoice": hp.pchoice("pchoice", [(0.2, 1.5), (0.8, -2.0)]),
        "randint": hp.randint("randint", 6),
        "randint_range": hp.randint("randint_range", 3, 9),
    },
    "uniforms": lambda: {
        "uniform": hp.uniform("uniform", -2, 2),
        "quniform": hp.quniform("quniform", 0, 10, 2),
        "uniformint": hp.uniformint("uniformint", 1, 8),
        "loguniform": hp.loguniform("loguniform", -3, 1),
        "qloguniform": hp.qloguniform("qloguniform", 0, 3, 1),
    },
    "normals": lambda: {
        "normal": hp.normal("normal", 0, 1),
        "qnormal": hp.qnormal("qnormal", 5, 2, 1),
        "lognormal": hp.lognormal("lognormal", 0, 0.5),
        "qlognormal": hp.qlognormal("qlognormal", 1, 0.5, 1),
    },
    "nested": lambda: {
        "model": hp.choice(
            "model",
            [
                {
                    "type": "svm",
                    "C": hp.lognormal("svm_C", 0, 1),
                    "kernel": hp.choice("kernel", [("linear",), ("rbf", hp.uniform("gamma", 0, 1))]),
                },
                {
                    "type": "tree",
                    "depth": scope.int(hp.quniform("depth", 1, 10, 1)),
                    "half": halved(hp.uniform("h", 0, 4)),
                },
            ],
        ),
        "layers": [hp.uniform("l0", 0, 1), (hp.choice("l1", [1, 2]), 3)],
        "activation": hp.choice("activation", [np.tanh, np.sin]),
    },
}

ALGOS = {
    "tpe": tpe.suggest,
    "rand": rand.suggest,
    "anneal": anneal.suggest,
    "atpe": atpe.suggest,
    "mix": functools.partial(mix.suggest, p_suggest=[(0.3, rand.suggest), (0.3, anneal.suggest), (0.4, tpe.suggest)]),
    "tpe_partial": functools.partial(tpe.suggest, n_startup_jobs=4, gamma=0.3),
}


def numbers(value) -> list[float]:
    """Every leaf of a decoded point as a number (strings by length, functions by their value at 0.5)."""
    if isinstance(value, dict):
        return [n for key in sorted(value) for n in numbers(value[key])]
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in numbers(item)]
    if value is None:
        return [0.0]
    if isinstance(value, str):
        return [float(len(value))]
    if callable(value):
        return [float(value(0.5))]
    return [float(value)]


def loss_of(params) -> float:
    """A deterministic loss of any decoded point of any space above."""
    return sum(math.sin(1.7 * i + n) * (1 + abs(n)) ** 0.5 for i, n in enumerate(numbers(params)))


class LoggingObjective:
    def __init__(self, log: str | None = None, delay: float = 0.0) -> None:
        self.log = log
        self.delay = delay

    def __call__(self, params) -> float:
        if self.log:
            with open(self.log, "a") as handle:
                handle.write(json.dumps(numbers(params)) + "\n")
        if self.delay:
            time.sleep(self.delay)
        return loss_of(params)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("space")
    parser.add_argument("algo", nargs="?", default="tpe")
    parser.add_argument("max_evals", nargs="?", type=int, default=10)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--log")
    parser.add_argument("--signature", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    import resumable_opt
    from resumable_opt.space import signature

    if args.signature:  # of every space
        print(json.dumps({name: signature(make()) for name, make in SPACES.items()}))
        return
    resumable_opt.fmin(
        LoggingObjective(args.log, args.delay),
        SPACES[args.space](),
        ALGOS[args.algo],
        args.max_evals,
        rstate=np.random.default_rng(args.seed),
        show_progressbar=False,
        checkpoint=args.checkpoint,
    )


if __name__ == "__main__":
    main()
