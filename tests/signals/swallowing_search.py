"""A search whose objective has a bare ``except:``, run as a child process by the tests:

    python tests/signals/swallowing_search.py CHECKPOINT MAX_EVALS --log FILE --mode MODE [--n-jobs K]

Each evaluation appends its parameters to ``--log`` when it starts, and a line
to ``FILE.swallowed`` each time its bare ``except:`` swallows something.
``--mode``: what the objective does with a stop signal it catches:

* ``return``: returns a made-up loss at once (``except: return 1e9``);
* ``raise``: raises an error of its own (``except: raise RuntimeError``);
* ``continue``: goes on with its work and returns a loss in a second or two;
* ``forever``: goes on with its work for good (only a further signal stops it);
* ``ok``: no ``except:``, a quick evaluation (to finish a search).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from searches import SPACES, loss_of  # noqa: E402


class SwallowingObjective:
    def __init__(self, log: str, mode: str) -> None:
        self.log = log
        self.mode = mode

    def _swallowed(self) -> None:
        with open(self.log + ".swallowed", "a") as handle:
            handle.write("swallowed\n")

    def __call__(self, params: dict) -> float:
        with open(self.log, "a") as handle:
            handle.write(json.dumps(params, sort_keys=True) + "\n")
        if self.mode == "ok":
            return loss_of(params)
        if self.mode in ("return", "raise"):
            try:
                time.sleep(120)
            except:  # noqa: E722 -- what the test is about
                self._swallowed()
                if self.mode == "raise":
                    raise RuntimeError("the training failed") from None
                return 1e9
        steps = 40 if self.mode == "continue" else 10**9
        for _ in range(steps):  # a training loop that survives anything
            try:
                time.sleep(0.05)
            except:  # noqa: E722
                self._swallowed()
        return loss_of(params)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("max_evals", type=int)
    parser.add_argument("--log", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--n-jobs", type=int)
    args = parser.parse_args()
    import resumable_opt

    resumable_opt.minimize(
        SwallowingObjective(args.log, args.mode),
        SPACES["mixed"](),
        args.checkpoint,
        args.max_evals,
        seed=7,
        n_jobs=args.n_jobs,
    )


if __name__ == "__main__":
    main()
