"""How long ``resumable-opt best CKPT --json`` takes, against ``python -c pass`` and reading the file
(and, for a look at the other inspecting commands, ``show`` and ``trials --format json``).

    python benchmarks/inspect_speed.py [--phases] CKPT [CODE_FOLDER ...]

A 2000-trial CKPT to measure (a few seconds: random search, a cheap objective)::

    python -c "from hyperopt import hp, rand; import resumable_opt; resumable_opt.minimize(
        lambda p: (p['x'] - 1) ** 2 + p['y'] + len(p['c']), {'x': hp.uniform('x', -5, 5),
        'y': hp.loguniform('y', -3, 2), 'c': hp.choice('c', ['a', 'bb', 'ccc'])},
        '/tmp/inspect-2000.ckpt', 2000, algo=rand.suggest, seed=0, progress=False)"

``--phases`` (before CKPT) shows where the time of ``best --json`` goes instead: the
same medians for a process that stops after each step (imports, the argument
parser, ``load()``), its objects frozen at exit as the command's are.

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


def phases(python: str, ckpt: str, env: dict) -> None:
    """Medians of processes that stop after each step of ``best --json``."""
    frozen = "import gc; gc.freeze()"  # as the command's own process ends (cli.main)
    steps = [
        ("imports", "import resumable_opt.cli, resumable_opt.cli.best"),
        ("+ parser", f"resumable_opt.cli.build_parser('best').parse_args(['best', {ckpt!r}, '--json'])"),
        ("+ load() and freeing it", f"import resumable_opt; state = resumable_opt.load({ckpt!r}); del state"),
    ]
    code = []
    for name, step in steps:
        code.append(step)
        seconds = median_seconds([python, "-c", "\n".join([*code, frozen])], env)
        print(f"  {name}: {seconds:.3f} s")


def main() -> None:
    args = sys.argv[1:]
    show_phases = args[:1] == ["--phases"]
    args = args[1:] if show_phases else args
    ckpt, folders = os.path.abspath(args[0]), [os.path.abspath(folder) for folder in args[1:] or ["."]]
    python = sys.executable
    for folder in folders:
        env = dict(os.environ, PYTHONPATH=folder)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        median_seconds([python, "-m", "resumable_opt", "best", ckpt, "--json"], env, repeats=1)  # writes the cache
        if show_phases:
            print(f"{folder}: python -c pass {median_seconds([python, '-c', 'pass'], env):.3f} s")
            phases(python, ckpt, env)
            continue
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
