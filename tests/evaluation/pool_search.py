"""A search with several trials in flight, run as a child process by the tests:

    python tests/evaluation/pool_search.py CHECKPOINT MAX_EVALS --log FILE
        [--n-jobs K] [--scheduler ADDRESS] [--delay S] [--slow-delay S] [--trial-timeout S]
        [--max-attempts N] [--kill-worker-at X]

Each evaluation appends one JSON line to ``--log`` when it starts: its
parameters and the pid of the process evaluating it, so a test can see which
points ran where, how often, and kill that process.  ``--slow-delay``: points
with x < 0 sleep that long instead of ``--delay``.  ``--kill-worker-at X``:
the evaluation of points with x < X kills its own process (a poison trial).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from searches import SPACES, loss_of  # noqa: E402


class PidLoggingObjective:
    def __init__(self, log: str, delay: float, slow_delay: float | None, kill_below: float | None) -> None:
        self.log = log
        self.delay = delay
        self.slow_delay = slow_delay
        self.kill_below = kill_below

    def __call__(self, params: dict) -> float:
        with open(self.log, "a") as handle:
            handle.write(json.dumps({"params": params, "pid": os.getpid()}, sort_keys=True) + "\n")
        if self.kill_below is not None and params["x"] < self.kill_below:
            os.kill(os.getpid(), signal.SIGKILL)
        slow = self.slow_delay is not None and params["x"] < 0
        time.sleep(self.slow_delay if slow else self.delay)
        with open(self.log + ".returned", "a") as handle:  # (an evaluation stopped midway never gets here)
            handle.write(json.dumps({"params": params, "pid": os.getpid()}, sort_keys=True) + "\n")
        return loss_of(params)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("max_evals", type=int)
    parser.add_argument("--log", required=True)
    parser.add_argument("--n-jobs", type=int)
    parser.add_argument("--scheduler")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--slow-delay", type=float)
    parser.add_argument("--trial-timeout", type=float)
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--kill-worker-at", type=float)
    args = parser.parse_args()
    import resumable_opt

    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    resumable_opt.minimize(
        PidLoggingObjective(args.log, args.delay, args.slow_delay, args.kill_worker_at),
        SPACES["mixed"](),
        args.checkpoint,
        args.max_evals,
        seed=7,
        n_jobs=args.n_jobs,
        executor=client,
        trial_timeout=args.trial_timeout,
        max_attempts=args.max_attempts,
    )


if __name__ == "__main__":
    main()
