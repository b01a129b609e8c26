"""A space with a ``scope.define``d function that counts its calls, in any process.

Each call appends a line (the calling pid) to the counter's file, so calls in
worker processes and in command-line processes are counted too.  The counter
is a literal of the space, so a process that unpickles the space imports this
module, which registers the function: a command that ran the space would call
it and be counted.

Run as a script, it runs a search (for worker processes, which import it):

    python counting_space.py CHECKPOINT MAX_EVALS COUNT_FILE [--n-jobs K] [--progress]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hyperopt import hp
from hyperopt.pyll import scope


class Counter:
    """Where the calls are counted: one line per call."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)

    def calls(self) -> int:
        return len(Path(self.path).read_text().splitlines()) if os.path.exists(self.path) else 0

    def pids(self) -> set[int]:
        return {int(line) for line in Path(self.path).read_text().split()} if os.path.exists(self.path) else set()

    def __repr__(self) -> str:
        return "Counter()"


@scope.define
def counted_double(x, counter):
    with open(counter.path, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    return 2 * x


def make_space(counter: Counter) -> dict:
    """Label a always goes through the counted function; label b only when its second option is chosen."""
    return {
        "a": scope.counted_double(hp.uniform("a", 0, 1), counter),
        "b": hp.choice("b", [1.0, scope.counted_double(hp.uniform("c", 0, 1), counter)]),
    }


def objective(params: dict) -> float:
    return (params["a"] - 0.6) ** 2 + params["b"]


def calls_for(vals: dict) -> int:
    """How often evaluating the point ``vals`` (a trial's misc vals) calls the function."""
    return 1 + (list(vals["b"]) == [1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("max_evals", type=int)
    parser.add_argument("count_file")
    parser.add_argument("--n-jobs", type=int)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    import resumable_opt

    space = make_space(Counter(args.count_file))
    resumable_opt.minimize(
        objective, space, args.checkpoint, args.max_evals, seed=1, n_jobs=args.n_jobs, progress=args.progress
    )


if __name__ == "__main__":
    main()
