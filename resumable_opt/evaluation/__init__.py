"""Where evaluations run: in process (default), local worker processes, Dask."""

from .base import Evaluator
from .in_process import InProcessEvaluator
from .outcome import Outcome, evaluate, failure

__all__ = ["Evaluator", "InProcessEvaluator", "Outcome", "evaluate", "failure"]
