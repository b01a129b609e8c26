"""resumable-opt: long hyperopt searches that survive Ctrl-C, kills and crashes.

>>> import resumable_opt
>>> state = resumable_opt.minimize(objective, space, "checkpoints/run.ckpt", max_evals=200, seed=0)
>>> resumable_opt.load("checkpoints/run.ckpt").best   # any time, also while it runs

The names below are imported when first used, so that looking at a checkpoint
(``load``, the inspecting commands) never imports hyperopt.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    INTERRUPTED,
    CheckpointCorrupt,
    CheckpointError,
    CheckpointLocked,
    CheckpointNotFound,
    CheckpointUndecodable,
    CheckpointVersionError,
    CheckpointWriteError,
    LockLost,
    ObjectiveAlwaysFails,
    ResumableOptError,
    SearchInterrupted,
    SearchInterruptedInteractive,
    SeedMismatch,
    SpaceMismatch,
)

#: Where each public name lives.
_LAZY = {
    "VerifyReport": ".checkpoint.recovery",
    "recover": ".checkpoint.recovery",
    "verify": ".checkpoint.recovery",
    "minimize": ".runner",
    "fmin": ".fmin",
    "TrialsDontFit": ".importing",
    "add_points": ".importing",
    "import_trials": ".importing",
    "SearchState": ".search_state",
    "load": ".search_state",
    "ForkResult": ".fork",
    "fork": ".fork",
    "TrialPruned": ".trial",
    "current_trial": ".trial",
    "MedianPruner": ".pruners",
    "Pruner": ".pruners",
    "SuccessiveHalvingPruner": ".pruners",
}

# ``typing.TYPE_CHECKING`` without importing ``typing``, which takes longer than
# any other module on the way to ``resumable-opt best`` (benchmarks/inspect_speed.py):
# the modules that looking at a checkpoint imports take their typing names this
# way, for the type checkers only (mypy and ruff treat this name as typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .checkpoint.recovery import VerifyReport, recover, verify
    from .fmin import fmin
    from .fork import ForkResult, fork
    from .importing import TrialsDontFit, add_points, import_trials
    from .pruners import MedianPruner, Pruner, SuccessiveHalvingPruner
    from .runner import minimize  # type: ignore[no-redef]
    from .search_state import SearchState, load
    from .trial import TrialPruned, current_trial


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'resumable_opt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CheckpointCorrupt",
    "CheckpointError",
    "CheckpointLocked",
    "CheckpointNotFound",
    "CheckpointUndecodable",
    "CheckpointVersionError",
    "CheckpointWriteError",
    "LockLost",
    "ForkResult",
    "ObjectiveAlwaysFails",
    "ResumableOptError",
    "INTERRUPTED",
    "SearchInterrupted",
    "SearchInterruptedInteractive",
    "SearchState",
    "SeedMismatch",
    "SpaceMismatch",
    "SuccessiveHalvingPruner",
    "TrialPruned",
    "TrialsDontFit",
    "VerifyReport",
    "__version__",
    "add_points",
    "current_trial",
    "fmin",
    "fork",
    "import_trials",
    "load",
    "MedianPruner",
    "minimize",
    "Pruner",
    "recover",
    "verify",
]
