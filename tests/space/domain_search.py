"""One of hyperopt's test domains searched on a checkpoint, in a child process (for real signals):

    python domain_search.py CHECKPOINT DOMAIN ALGO MAX_EVALS LOG [--delay S]

DOMAIN is a domain of hyperopt's ``tests/unit/test_domains.py`` (its loss is
computed by the space itself; ``n_arms`` and ``gauss_wave2`` draw from a
generator of their own); the objective passes it through, as hyperopt's tests
do, after appending the trial's loss to LOG and sleeping ``--delay`` seconds.
The search is hyperopt's ``fmin(..., rstate=np.random.default_rng(SEED))``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from hyperopt import anneal, rand, tpe
from hyperopt.tests.unit import test_domains

SEED = 8
ALGOS = {"tpe": tpe.suggest, "anneal": anneal.suggest, "rand": rand.suggest}


class SlowPassthrough:
    def __init__(self, log: str | None = None, delay: float = 0.0) -> None:
        self.log = log
        self.delay = delay

    def __call__(self, result: dict) -> dict:
        if self.log:
            with open(self.log, "a") as handle:
                handle.write(json.dumps(float(result["loss"])) + "\n")
        time.sleep(self.delay)
        return result


def domain_space(name: str):
    return getattr(test_domains, name)().expr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("domain")
    parser.add_argument("algo")
    parser.add_argument("max_evals", type=int)
    parser.add_argument("log")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    import resumable_opt

    resumable_opt.fmin(
        SlowPassthrough(args.log, args.delay), domain_space(args.domain), ALGOS[args.algo], args.max_evals,
        rstate=np.random.default_rng(SEED), checkpoint=args.checkpoint,
    )  # fmt: skip


if __name__ == "__main__":
    main()
