"""resumable-opt: long hyperopt searches that survive Ctrl-C, kills and crashes.

>>> import resumable_opt
>>> state = resumable_opt.minimize(objective, space, "checkpoints/run.ckpt", max_evals=200, seed=0)
>>> resumable_opt.load("checkpoints/run.ckpt").best   # any time, also while it runs

The names below are imported when first used, not with the package: the
command line installs its stop-signal handling before hyperopt, numpy and
scipy are loaded, so that a Ctrl-C during those imports ends it cleanly.
"""

from __future__ import annotations

import copyreg
import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module (under this package) it comes from.
_EXPORTS = {
    **dict.fromkeys(
        [
            "CheckpointCorrupt",
            "CheckpointError",
            "CheckpointLocked",
            "CheckpointNotFound",
            "CheckpointVersionError",
            "CheckpointWriteError",
            "ObjectiveAlwaysFails",
            "ResumableOptError",
            "INTERRUPTED",
            "SearchInterrupted",
            "SearchInterruptedInteractive",
            "SeedMismatch",
            "SpaceMismatch",
        ],
        "errors",
    ),
    **dict.fromkeys(["VerifyReport", "recover", "verify"], "checkpoint.recovery"),
    "minimize": "runner",
    "fmin": "fmin",
    **dict.fromkeys(["TrialsDontFit", "add_points", "import_trials"], "importing"),
    **dict.fromkeys(["ForkResult", "fork"], "fork"),
    **dict.fromkeys(["SearchState", "load"], "search_state"),
    **dict.fromkeys(["TrialPruned", "current_trial"], "trial"),
    **dict.fromkeys(["MedianPruner", "Pruner", "SuccessiveHalvingPruner"], "pruners"),
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # Importing the submodule resumable_opt.fmin sets the package's
        # attribute "fmin" to that module: the name stays the function.
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            value = getattr(value, name, value)
        super().__setattr__(name, value)


def _import_package(name: str) -> types.ModuleType:
    return importlib.import_module(name)


def _reduce_package(package: types.ModuleType) -> tuple[Any, tuple[str]]:
    return _import_package, (package.__name__,)


sys.modules[__name__].__class__ = _Package
# Pickled by reference, as pickle and cloudpickle do for a plain module (the
# objective of a test or a notebook may refer to ``resumable_opt``).
copyreg.pickle(_Package, _reduce_package)

if TYPE_CHECKING:  # what the names are, for type checkers (re-exported: "as")
    from .checkpoint.recovery import VerifyReport as VerifyReport
    from .checkpoint.recovery import recover as recover
    from .checkpoint.recovery import verify as verify
    from .errors import INTERRUPTED as INTERRUPTED
    from .errors import CheckpointCorrupt as CheckpointCorrupt
    from .errors import CheckpointError as CheckpointError
    from .errors import CheckpointLocked as CheckpointLocked
    from .errors import CheckpointNotFound as CheckpointNotFound
    from .errors import CheckpointVersionError as CheckpointVersionError
    from .errors import CheckpointWriteError as CheckpointWriteError
    from .errors import ObjectiveAlwaysFails as ObjectiveAlwaysFails
    from .errors import ResumableOptError as ResumableOptError
    from .errors import SearchInterrupted as SearchInterrupted
    from .errors import SearchInterruptedInteractive as SearchInterruptedInteractive
    from .errors import SeedMismatch as SeedMismatch
    from .errors import SpaceMismatch as SpaceMismatch
    from .fmin import fmin as fmin
    from .fork import ForkResult as ForkResult
    from .fork import fork as fork
    from .importing import TrialsDontFit as TrialsDontFit
    from .importing import add_points as add_points
    from .importing import import_trials as import_trials
    from .pruners import MedianPruner as MedianPruner
    from .pruners import Pruner as Pruner
    from .pruners import SuccessiveHalvingPruner as SuccessiveHalvingPruner
    from .runner.minimize import minimize as minimize
    from .search_state import SearchState as SearchState
    from .search_state import load as load
    from .trial import TrialPruned as TrialPruned
    from .trial import current_trial as current_trial
