"""Where evaluations run: in process (default), local worker processes, Dask."""

from .base import Evaluator, Lost
from .in_process import InProcessEvaluator
from .outcome import Outcome, evaluate, failure

__all__ = ["Evaluator", "InProcessEvaluator", "Lost", "Outcome", "evaluate", "failure"]
