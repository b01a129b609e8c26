"""Throughput of parallel evaluation: serial vs local worker processes vs Dask.

    python benchmarks/parallel.py [--trials 12] [--sleep 0.5] [--workers 2] [--repeat 3]

Runs the same search (an objective that sleeps ``--sleep`` seconds, TPE,
``--trials`` trials, each on a fresh checkpoint) serially in process, with
``n_jobs=K`` local worker processes, and on a K-worker Dask LocalCluster
(started beforehand, as a running cluster would be).  Prints a Markdown table
of the wall time of ``minimize`` and its ratio to serial (ideal: 1/K), twice:

- cold: the first search of the process; the local fork server and workers
  start from nothing, the (restarted) Dask workers have imported nothing yet;
- warm: the median of the ``--repeat`` searches after it (the fork server is
  kept for the life of the runner's process; Dask workers keep their imports).

"start-up" is the time from calling ``minimize`` to the first evaluation.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


class SleepyObjective:
    """Sleeps, then returns x squared; notes when its first evaluation began."""

    def __init__(self, seconds: float, starts: str) -> None:
        self.seconds = seconds
        self.starts = starts

    def __call__(self, params: dict) -> float:
        with open(self.starts, "a") as handle:
            handle.write(f"{time.time()}\n")
        time.sleep(self.seconds)
        return params["x"] ** 2


def timed_search(folder: Path, name: str, trials: int, sleep: float, **options) -> tuple[float, float]:
    """(wall time, time to the first evaluation) of one search."""
    from hyperopt import hp

    import resumable_opt

    starts = folder / f"{name}.starts"
    objective = SleepyObjective(sleep, str(starts))
    began = time.time()
    resumable_opt.minimize(
        objective, {"x": hp.uniform("x", -1, 1)}, folder / f"{name}.ckpt", trials, seed=0, progress=False, **options
    )
    wall = time.time() - began
    first = min(float(line) for line in starts.read_text().split())
    return wall, first - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--sleep", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    setups = {
        "serial, in process (default)": {},
        f"n_jobs={args.workers}, local processes": {"n_jobs": args.workers},
        f"Dask LocalCluster, {args.workers} worker processes": "dask",
    }
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        folder = Path(tmp)
        for label, options in setups.items():
            if options == "dask":
                options = {"executor": client}
                client.restart()  # cold workers: nothing imported yet
            runs = [
                timed_search(folder, f"{len(rows)}-{i}", args.trials, args.sleep, **options)
                for i in range(1 + args.repeat)
            ]
            warm = runs[1:]
            rows.append(
                (label, runs[0], (statistics.median(w for w, _ in warm), statistics.median(s for _, s in warm)))
            )
    serial_cold, serial_warm = rows[0][1][0], rows[0][2][0]
    print(f"{args.trials} trials, objective sleeping {args.sleep} s; warm: median of {args.repeat} runs\n")
    print("| evaluation | cold: wall time | ratio | start-up | warm: wall time | ratio | start-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, (cold, cold_start), (warm, warm_start) in rows:
        print(
            f"| {label} | {cold:.2f} s | {cold / serial_cold:.2f}x | {cold_start:.2f} s "
            f"| {warm:.2f} s | {warm / serial_warm:.2f}x | {warm_start:.2f} s |"
        )
    print(f"\nideal ratio with {args.workers} workers: {1 / args.workers:.2f}x")


if __name__ == "__main__":
    main()
