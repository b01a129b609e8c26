"""An objective that captures a large dataset, run with worker processes.

A closure over a 64 MB array, 40 trivial trials, ``n_jobs=2``: how long the
search takes, and how large the checkpoint (and its ``.bak``) end up, with
the objective stored and with ``store_objective=False``::

    python benchmarks/large_objective.py [--mb 64] [--trials 40] [--n-jobs 2]

Before the objective was sent to each worker once, it was sent with every trial.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from hyperopt import hp

import resumable_opt


def make_objective(data: np.ndarray):
    def objective(params):
        return (params["x"] - 1) ** 2 + float(data[0])

    return objective


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    objective = make_objective(np.zeros(args.mb << 17))
    space = {"x": hp.uniform("x", -3, 3)}
    print(f"{args.mb} MB captured, {args.trials} trials, n_jobs={args.n_jobs}")
    for store in (True, False):
        with tempfile.TemporaryDirectory() as folder:
            ckpt = Path(folder) / "big.ckpt"
            kwargs = {} if store else {"store_objective": False}
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                resumable_opt.minimize(
                    objective,
                    space,
                    ckpt,
                    args.trials,
                    seed=0,
                    progress=False,
                    n_jobs=args.n_jobs,
                    **kwargs,  # type: ignore[arg-type]
                )
            took = time.perf_counter() - started
            backup = ckpt.with_name(ckpt.name + ".bak")
            size = ckpt.stat().st_size / 2**20
            bak = backup.stat().st_size / 2**20 if backup.exists() else 0.0
            print(f"  store_objective={store!s:<5}  {took:6.2f} s  checkpoint {size:6.1f} MB  .bak {bak:6.1f} MB")


if __name__ == "__main__":
    main()
