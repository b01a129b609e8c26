"""How long ``resumable-opt best CKPT --json`` takes, against ``python -c pass`` and reading the file
(and, for a look at the other inspecting commands, ``show`` and ``trials --format json``).

    python benchmarks/inspect_speed.py CKPT [CODE_FOLDER ...]

A 2000-trial CKPT to measure (a few seconds: random search, a cheap objective)::

    python -c "from hyperopt import hp, rand; import resumable_opt; resumable_opt.minimize(
        lambda p: (p['x'] - 1) ** 2 + p['y'] + len(p['c']), {'x': hp.uniform('x', -5, 5),
        'y': hp.loguniform('y', -3, 2), 'c': hp.choice('c', ['a', 'bb', 'ccc'])},
        '/tmp/inspect-2000.ckpt', 2000, algo=rand.suggest, seed=0, progress=False)"

Each command runs 9 times in a fresh process (medians); with CODE_FOLDERs,
once per folder of resumable-opt code (PYTHONPATH), e.g. a checkout of the
previous release, side by side.  The issue's target: within 2x the time of
``python -c pass`` plus reading the file.

The commands run with Python's bytecode cache, as an installed package does
(pip compiles it): ``PYTHONDONTWRITEBYTECODE`` is dropped and each folder's
``__pycache__`` is written by an untimed first run.  Without the cache every
run compiles resumable-opt's modules again, which an installed package never does.
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
        # In the code's folder: ``python -m`` puts the working folder first on sys.path, before PYTHONPATH.
        subprocess.run(command, env=env, cwd=env["PYTHONPATH"], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    ckpt, folders = os.path.abspath(sys.argv[1]), [os.path.abspath(folder) for folder in sys.argv[2:] or ["."]]
    python = sys.executable
    for folder in folders:
        env = dict(os.environ, PYTHONPATH=folder)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        median_seconds([python, "-m", "resumable_opt", "best", ckpt, "--json"], env, repeats=1)  # writes the cache
        bare = median_seconds([python, "-c", "pass"], env)
        reading = median_seconds([python, "-c", f"open({ckpt!r}, 'rb').read()"], env)
        best = median_seconds([python, "-m", "resumable_opt", "best", ckpt, "--json"], env)
        show = median_seconds([python, "-m", "resumable_opt", "show", ckpt], env)
        trials = median_seconds([python, "-m", "resumable_opt", "trials", ckpt, "--format", "json"], env)
        print(
            f"{folder}: python -c pass {bare:.3f} s, python reading the file {reading:.3f} s, "
            f"best --json {best:.3f} s ({best / reading:.2f}x reading); "
            f"also show {show:.3f} s, trials --format json {trials:.3f} s"
        )


if __name__ == "__main__":
    main()
