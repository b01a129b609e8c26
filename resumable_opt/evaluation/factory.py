"""Which evaluator a search uses, from ``minimize``'s ``n_jobs``, ``executor``
and ``trial_timeout``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hyperopt import base

from .base import Evaluator
from .in_process import InProcessEvaluator

EvaluatorFactory = Callable[[base.Domain, base.Trials], Evaluator]


def evaluator_factory(
    n_jobs: int | None = None, executor: Any = None, trial_timeout: float | None = None
) -> EvaluatorFactory:
    """Check the options and return how to build the run's evaluator.

    - nothing given: serial, in this process (the default; exactly fmin's history);
    - ``executor``: a Dask Client or a ``concurrent.futures.Executor``, with up
      to ``n_jobs`` trials in flight (default: the workers it has);
    - ``n_jobs=K`` (or a ``trial_timeout``, which needs a process it can stop):
      K local worker processes (K=1 by default).

    Raises ValueError/TypeError with what is wrong, before anything runs.
    """
    if n_jobs is not None and (not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs < 1):
        raise ValueError(f"n_jobs must be a whole number >= 1, not {n_jobs!r}")
    if trial_timeout is not None and (
        isinstance(trial_timeout, bool) or not isinstance(trial_timeout, (int, float)) or not trial_timeout > 0
    ):
        raise ValueError(f"trial_timeout must be a number of seconds > 0, not {trial_timeout!r}")
    if executor is not None:
        from .dask import ExecutorEvaluator, is_dask_client

        if not is_dask_client(executor):
            import concurrent.futures as cf

            if not isinstance(executor, cf.Executor):
                raise TypeError(
                    "executor must be a dask.distributed.Client or a concurrent.futures.Executor, "
                    f"not {type(executor).__name__}"
                )
        return lambda domain, trials: ExecutorEvaluator(domain, executor, n_jobs, trial_timeout)
    if (n_jobs or 1) > 1 or trial_timeout is not None:
        from .processes import ProcessEvaluator, refuse_in_worker_bootstrap

        refuse_in_worker_bootstrap()
        return lambda domain, trials: ProcessEvaluator(domain, n_jobs or 1, trial_timeout)
    return InProcessEvaluator
