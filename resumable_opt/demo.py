"""The demo search: tune gradient descent on y = x^2.

Ten epochs of gradient descent from a start in [-m, m]; the hyperparameters
are the learning rate (1.0, 0.1 or 0.01) and m (10.0 or 1.0); the loss is the
final x^2.  The start is drawn from a generator seeded by m, so the objective
is deterministic (a resumed demo is exactly the same search as an
uninterrupted one) and the learning rates are compared from the same start.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .search_state import SearchState

DEFAULT_CHECKPOINT = Path("checkpoints") / "demo.ckpt"
DEFAULT_MAX_EVALS = 30
#: Seconds each trial takes: time enough to press Ctrl-C in the middle of one.
DEFAULT_DELAY = 0.3


def demo_space() -> dict:
    """The demo's search space (made on demand: importing this module imports no hyperopt)."""
    from hyperopt import hp

    return {
        "learning_rate": hp.choice("learning_rate", [1.0, 0.1, 0.01]),
        "m": hp.choice("m", [10.0, 1.0]),
    }


def final_square(params: dict, epochs: int = 10, delay: float = 0.0) -> float:
    """The loss of one demo trial: x^2 after ``epochs`` steps of gradient descent."""
    learning_rate, m = params["learning_rate"], params["m"]
    x = random.Random(f"start in [-{m}, {m}]").uniform(-m, m)
    for _ in range(epochs):
        x -= learning_rate * 2 * x  # the gradient of x^2 is 2x
        if delay:
            time.sleep(delay / epochs)  # stands in for a real training epoch
    return x * x


class DemoObjective:
    """``final_square`` with a pause per trial, so there is time to press Ctrl-C."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __call__(self, params: dict) -> float:
        return final_square(params, delay=self.delay)


def run_demo(
    checkpoint: Path = DEFAULT_CHECKPOINT,
    max_evals: int = DEFAULT_MAX_EVALS,
    delay: float = DEFAULT_DELAY,
    seed: int | None = 0,
    progress: bool = True,
) -> SearchState:
    """Run (or resume) the demo search on ``checkpoint``."""
    from hyperopt import tpe

    from .runner import minimize

    return minimize(
        DemoObjective(delay), demo_space(), checkpoint, max_evals, algo=tpe.suggest, seed=seed, progress=progress
    )
