"""How long the inspection commands take to answer, on a large checkpoint.

    python benchmarks/cli_response.py [--trials 2000] [--repeat 3]

Builds a search of ``--trials`` trials over a five-label space with a
conditional branch (random search, so that building it is quick), then runs
each command ``--repeat`` times in a child process, as a user would, and
prints the best wall time of each.  The first line is the floor: a child
Python that only imports resumable_opt (and so hyperopt).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hyperopt import hp, rand
from hyperopt.pyll import scope

import resumable_opt

SPACE = {
    "optimizer": hp.choice("optimizer", [{"name": "sgd", "momentum": hp.uniform("momentum", 0, 1)}, {"name": "adam"}]),
    "layers": scope.int(hp.quniform("layers", 1, 4, 1)),
    "width": hp.choice("width", [32, 64, 128]),
    "lr": hp.loguniform("lr", -7, 0),
}


def objective(params: dict) -> float:
    return params["lr"] * params["layers"] + params["width"] / 1000


def best_time(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.ckpt"
        resumable_opt.minimize(objective, SPACE, path, args.trials, algo=rand.suggest, seed=0, progress=False)
        print(f"checkpoint: {args.trials} trials, {path.stat().st_size / 1e6:.1f} MB; best of {args.repeat} runs each")
        cli = [sys.executable, "-m", "resumable_opt"]
        commands = {
            "python -c 'import resumable_opt'": [sys.executable, "-c", "import resumable_opt"],
            "show": [*cli, "show", str(path)],
            "best --json": [*cli, "best", str(path), "--json"],
            "trials --sort loss --top 10": [*cli, "trials", str(path), "--sort", "loss", "--top", "10"],
            "trials --format csv": [*cli, "trials", str(path), "--format", "csv"],
            "export -o x.parquet": [*cli, "export", str(path), "-o", str(Path(folder) / "x.parquet")],
            "plot -o x.png": [*cli, "plot", str(path), "-o", str(Path(folder) / "x.png")],
        }
        for name, argv in commands.items():
            print(f"{name:<34} {best_time(argv, args.repeat):6.2f} s")


if __name__ == "__main__":
    main()
