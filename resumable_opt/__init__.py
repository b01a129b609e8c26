"""resumable-opt: long hyperopt searches that survive Ctrl-C, kills and crashes.

>>> import resumable_opt
>>> state = resumable_opt.minimize(objective, space, "checkpoints/run.ckpt", max_evals=200, seed=0)
>>> resumable_opt.load("checkpoints/run.ckpt").best   # any time, also while it runs
"""

__version__ = "0.1.0"

from .checkpoint.recovery import VerifyReport, recover, verify  # noqa: E402
from .errors import (  # noqa: E402
    INTERRUPTED,
    CheckpointCorrupt,
    CheckpointError,
    CheckpointLocked,
    CheckpointNotFound,
    CheckpointVersionError,
    CheckpointWriteError,
    ObjectiveAlwaysFails,
    ResumableOptError,
    SearchInterrupted,
    SearchInterruptedInteractive,
    SeedMismatch,
    SpaceMismatch,
)
from .fmin import fmin  # noqa: E402
from .fork import ForkResult, fork  # noqa: E402
from .importing import TrialsDontFit, add_points, import_trials  # noqa: E402
from .pruners import MedianPruner, Pruner, SuccessiveHalvingPruner  # noqa: E402
from .runner import minimize  # noqa: E402
from .search_state import SearchState, load  # noqa: E402
from .trial import TrialPruned, current_trial  # noqa: E402

__all__ = [
    "CheckpointCorrupt",
    "CheckpointError",
    "CheckpointLocked",
    "CheckpointNotFound",
    "CheckpointVersionError",
    "CheckpointWriteError",
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
