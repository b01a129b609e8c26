"""``minimize``: open or create a checkpoint, then run the search on it."""

from __future__ import annotations

import secrets
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import cloudpickle
import hyperopt
import numpy as np
from hyperopt import base, tpe

from .. import __version__
from ..checkpoint.journal import SearchData
from ..checkpoint.lock import RunLock
from ..checkpoint.store import CheckpointStore, read_checkpoint
from ..errors import CheckpointNotFound, ResumableOptError, SeedMismatch, SpaceMismatch
from ..evaluation.factory import evaluator_factory
from ..search_state import SearchState
from ..space import differences, signature
from .run import Run, RunOptions, rng_from_state


def callable_name(obj: Any) -> str:
    """``module.qualname`` of a function (or of a functools.partial's function)."""
    target = getattr(obj, "func", obj)
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(target).__name__)}"
    return name + "(partial)" if target is not obj else name


def _pickle_objective(fn: Callable) -> bytes | None:
    try:
        return cloudpickle.dumps(fn)
    except Exception as exc:
        warnings.warn(
            f"the objective cannot be pickled ({type(exc).__name__}: {exc}); the checkpoint stores "
            "everything else, and resuming needs the objective passed again",
            stacklevel=4,
        )
        return None


def new_search(fn: Callable, space: Any, algo: Callable, seed: int | None, rng: np.random.Generator) -> SearchData:
    """The data of a search that has no trial yet."""
    meta = {
        "created": time.time(),
        "seed": seed,
        "space": cloudpickle.dumps(space),
        "space_signature": signature(space),
        "objective": _pickle_objective(fn),
        "objective_name": callable_name(fn),
        "algo": cloudpickle.dumps(algo),
        "algo_name": callable_name(algo),
        "versions": {"resumable_opt": __version__, "hyperopt": hyperopt.__version__},
    }
    return SearchData(meta=meta, rng_state=rng.bit_generator.state)


def minimize(
    fn: Callable | None,
    space: Any,
    checkpoint: str | Path,
    max_evals: int,
    algo: Callable = tpe.suggest,
    seed: int | None = None,
    *,
    timeout: float | None = None,
    loss_threshold: float | None = None,
    early_stop_fn: Callable | None = None,
    progress: bool = True,
    max_attempts: int = 3,
    stop_after_initial_failures: int | None = 3,
    n_jobs: int | None = None,
    executor: Any = None,
    trial_timeout: float | None = None,
) -> SearchState:
    """Minimise ``fn`` over ``space`` with hyperopt, resumably, in ``checkpoint``.

    Creates the checkpoint when it does not exist and resumes it when it
    does; ``max_evals`` counts every evaluation across all runs of it.  With
    ``seed=S`` the trials are exactly those of ``hyperopt.fmin(fn, space,
    algo, max_evals, rstate=numpy.random.default_rng(S))``, however often the
    run is interrupted and resumed.  Without a seed one is drawn and recorded.

    ``fn`` and ``space`` may be None when resuming: the ones stored in the
    checkpoint are used.  Resuming with a different space is refused
    (:class:`~resumable_opt.errors.SpaceMismatch`) before anything is written.

    ``timeout`` (seconds, this run), ``loss_threshold`` and ``early_stop_fn``
    mean what they mean to ``hyperopt.fmin``.  ``max_attempts``: how many
    times a trial may kill the whole process before it is recorded as failed.
    ``stop_after_initial_failures``: stop when the first this-many trials of a
    search all fail (None to never stop for that).  ``progress=False`` turns
    the progress bar and the per-trial lines off.

    Where trials run: by default one at a time in this process (the history
    is then exactly fmin's).  ``n_jobs=K``: up to K at once in local worker
    processes.  ``executor``: a ``dask.distributed.Client`` or any
    ``concurrent.futures.Executor`` (up to ``n_jobs`` at once, by default as
    many as it has workers).  With more than one trial in flight, the history
    depends on the order in which they finish.  ``trial_timeout`` (seconds):
    a longer evaluation is stopped and recorded as failed with the reason
    ``timeout`` (alone, it runs the trials in one worker process, so that one
    can be stopped).  A worker that dies in a trial makes it run again,
    counted toward ``max_attempts``.

    Ctrl-C or SIGTERM stops the run cleanly after saving and raises
    :class:`~resumable_opt.errors.SearchInterrupted` (a ``SystemExit`` with
    status 130 or 143).  Returns the search as :func:`resumable_opt.load` would.
    """
    if not isinstance(max_evals, (int, np.integer)) or isinstance(max_evals, bool) or max_evals < 0:
        raise ValueError(f"max_evals must be a whole number >= 0, not {max_evals!r}")
    base.validate_timeout(timeout)
    base.validate_loss_threshold(loss_threshold)
    make_evaluator = evaluator_factory(n_jobs, executor, trial_timeout)
    path = Path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = RunOptions(
        max_evals=int(max_evals),
        timeout=timeout,
        loss_threshold=loss_threshold,
        early_stop_fn=early_stop_fn,
        max_attempts=max_attempts,
        stop_after_initial_failures=stop_after_initial_failures,
        progress=progress,
    )
    with RunLock(path):
        torn_bytes = 0
        if path.exists() or path.is_symlink():
            loaded = read_checkpoint(path)
            data, torn_bytes = loaded.data, loaded.torn_bytes
            stored = SearchState(path, data)
            if space is None:
                space = stored.space
            else:
                found = differences(data.meta["space_signature"], space)
                if found:
                    raise SpaceMismatch(path, found)
            if fn is None:
                fn = stored.objective
                if fn is None:
                    raise ResumableOptError(f"{path}: the checkpoint holds no objective (it could not be pickled); pass it to resume")
            if seed is not None and data.meta.get("seed") not in (None, seed):
                raise SeedMismatch(
                    f"{path}: this search was started with seed {data.meta['seed']}, not {seed}; "
                    "resume it with its own seed (or none), or start a new checkpoint"
                )
            rng = rng_from_state(data.rng_state)
        else:
            if fn is None or space is None:
                raise CheckpointNotFound(path, "no such checkpoint to resume", "check the path")
            if seed is None:
                seed = secrets.randbits(32)
            rng = np.random.default_rng(seed)
            data = new_search(fn, space, algo, seed, rng)
        domain = base.Domain(fn, space)
        run = Run(path, data, CheckpointStore(path), domain, algo, rng, options, make_evaluator, torn_bytes)
        run.execute()
        return SearchState(path, data)
