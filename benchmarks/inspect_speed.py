"""How long ``resumable-opt best CKPT --json`` takes, against ``python -c pass`` and reading the file.

    python benchmarks/inspect_speed.py CKPT [CODE_FOLDER ...]

Each command runs 9 times in a fresh process (medians); with CODE_FOLDERs,
once per folder of resumable-opt code (PYTHONPATH), e.g. a checkout of the
previous release, side by side.  The issue's target: within 2x the time of
``python -c pass`` plus reading the file.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def median_seconds(command: list[str], env: dict, repeats: int = 9) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    ckpt, folders = sys.argv[1], sys.argv[2:] or [os.getcwd()]
    python = sys.executable
    for folder in folders:
        env = dict(os.environ, PYTHONPATH=folder)
        bare = median_seconds([python, "-c", "pass"], env)
        reading = median_seconds([python, "-c", f"open({ckpt!r}, 'rb').read()"], env)
        best = median_seconds([python, "-m", "resumable_opt", "best", ckpt, "--json"], env)
        print(
            f"{folder}: python -c pass {bare:.3f} s, python reading the file {reading:.3f} s, "
            f"best --json {best:.3f} s ({best / reading:.2f}x reading)"
        )


if __name__ == "__main__":
    main()
