"""A search of long trials, in a child process, for the tests with real signals.

    python long_search.py CKPT MAX_EVALS EPOCH_LOG [--mode serial|n_jobs|dask]
        [--pruner none|median|sha] [--epochs N] [--epoch-seconds S]

The objective trains a deterministic "model" epoch by epoch: it writes
``tid attempt epoch pid`` to EPOCH_LOG when it starts an epoch, reports the
epoch's loss, asks the pruner and saves its state after every epoch.  So the
log counts the epochs computed, and a run interrupted anywhere and resumed
must end with the same history as one never interrupted.
"""

import argparse
import os
import sys
import time

import numpy as np
from hyperopt import hp

import resumable_opt

SPACE = {"lr": hp.loguniform("lr", -4, 0), "width": hp.choice("width", [2, 4, 8])}


class Objective:
    def __init__(self, epoch_log: str, epochs: int, epoch_seconds: float) -> None:
        self.epoch_log = epoch_log
        self.epochs = epochs
        self.epoch_seconds = epoch_seconds

    def __call__(self, params: dict) -> float:
        trial = resumable_opt.current_trial()
        assert params == trial.params, (params, trial.params)
        state = trial.load_state(default=None)
        if state is None:
            weights, start, loss = np.full(params["width"], 3.0), 0, float("nan")
        else:
            weights, start, loss = state
        for epoch in range(start, self.epochs):
            with open(self.epoch_log, "a") as log:
                log.write(f"{trial.tid} {trial.attempt} {epoch} {os.getpid()}\n")
            deadline = time.monotonic() + self.epoch_seconds
            while time.monotonic() < deadline:  # the epoch's work: a signal lands in here
                time.sleep(0.005)
            weights = weights - params["lr"] * (weights - 1.0) * (1 + 0.1 * np.arange(len(weights)))
            loss = float(np.sum((weights - 1.0) ** 2))
            trial.report(epoch, loss)
            if trial.should_prune():
                raise resumable_opt.TrialPruned()
            trial.save_state((weights, epoch + 1, loss))
        return loss


PRUNERS = {
    "none": lambda: None,
    "median": lambda: resumable_opt.MedianPruner(n_startup_trials=2),
    "sha": lambda: resumable_opt.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("max_evals", type=int)
    parser.add_argument("epoch_log")
    parser.add_argument("--mode", default="serial", choices=["serial", "n_jobs", "dask"])
    parser.add_argument("--pruner", default="median", choices=sorted(PRUNERS))
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--epoch-seconds", type=float, default=0.1)
    args = parser.parse_args()
    objective = Objective(args.epoch_log, args.epochs, args.epoch_seconds)
    options = dict(seed=3, pruner=PRUNERS[args.pruner](), progress=False)
    if args.mode == "n_jobs":
        options["n_jobs"] = 2
    if args.mode == "dask":
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                resumable_opt.minimize(objective, SPACE, args.checkpoint, args.max_evals, executor=client, **options)
        return
    resumable_opt.minimize(objective, SPACE, args.checkpoint, args.max_evals, **options)


if __name__ == "__main__":
    sys.exit(main())
