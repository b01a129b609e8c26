"""``minimize``: open or create a checkpoint, then run the search on it."""

from __future__ import annotations

import functools
import inspect
import secrets
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import hyperopt
import numpy as np
from hyperopt import base, tpe

from .. import __version__
from .. import tpe as fast_tpe_module
from ..checkpoint.encoding import NotStorable, Pickled, unpickle_all
from ..checkpoint.journal import SearchData
from ..checkpoint.lock import RunLock
from ..checkpoint.store import CheckpointStore, backup_path, make_folder, read_checkpoint, real_path
from ..errors import CheckpointNotFound, ResumableOptError, SeedMismatch, SpaceMismatch, search_interrupted
from ..evaluation import InProcessEvaluator
from ..evaluation.factory import EvaluatorFactory, evaluator_factory
from ..interrupts import Interrupt, InterruptGuard, signal_name, tell
from ..pruners import Pruner, check_pruner, record_pruner
from ..search_state import SearchState
from ..space import differences, signature
from .run import Run, RunOptions, rng_from_state

P = ParamSpec("P")
R = TypeVar("R")


def stops_cleanly(function: Callable[P, R]) -> Callable[P, R]:
    """Makes a stop signal end ``minimize`` or ``fmin`` cleanly from their first
    line (see :func:`stop_signals_end_cleanly`).  ``fmin`` without a checkpoint
    is ``hyperopt.fmin``, and keeps hyperopt's handling of signals."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            checkpoint = signature.bind_partial(*args, **kwargs).arguments.get("checkpoint")
        except TypeError:  # wrong arguments: let the function say so
            checkpoint = None
        if checkpoint is None:
            return function(*args, **kwargs)
        with stop_signals_end_cleanly(checkpoint):
            return function(*args, **kwargs)

    return wrapper


@contextmanager
def stop_signals_end_cleanly(checkpoint: str | Path) -> Iterator[InterruptGuard]:
    """From here on, Ctrl-C, SIGTERM and SIGHUP end the call with one line and
    :class:`~resumable_opt.errors.SearchInterrupted` (status 130, 143, 129;
    in IPython :class:`~resumable_opt.errors.SearchInterruptedInteractive`).

    A stop before the run begins (while hyperopt loads, the checkpoint is read,
    the stored objective is unpickled, worker processes start) leaves the
    checkpoint as it was; during the run, the run saves and reports (see
    :class:`~resumable_opt.runner.run.Run`).  A stop signal that came while a run
    that ended by itself was saving its end is honoured once the save is done.
    """
    with InterruptGuard() as guard:
        try:
            yield guard
        except Interrupt as stop:
            guard.acknowledge()
            guard.stop_raising()  # one line, even if more signals come
            tell(f"Stopped by {stop.signal_name} before the search started; {checkpoint} was not changed.")
            raise search_interrupted(stop.signum) from None
        late = guard.pending
        if late is not None:
            guard.acknowledge()
            tell(f"Stopped by {signal_name(late)} as the run ended; every trial is saved in {checkpoint}.")
            raise search_interrupted(late)


def callable_name(obj: Any) -> str:
    """``module.qualname`` of a function (or of a functools.partial's function)."""
    target = getattr(obj, "func", obj)
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', type(target).__name__)}"
    return name + "(partial)" if target is not obj else name


#: A stored objective larger than this gets a warning: it is written into
#: every snapshot of the checkpoint (and its backup).
LARGE_OBJECTIVE_BYTES = 10 << 20


def _pickle_objective(fn: Callable) -> Pickled | None:
    try:
        pickled = Pickled.of(fn)
    except NotStorable as exc:
        warnings.warn(
            f"the objective cannot be pickled ({exc}); the checkpoint stores "
            "everything else, and resuming needs the objective passed again",
            stacklevel=5,
        )
        return None
    if len(pickled.data) > LARGE_OBJECTIVE_BYTES:
        warnings.warn(
            f"the objective takes {len(pickled.data) / 2**20:.0f} MB pickled (it holds or refers to large data), "
            "and the checkpoint keeps a copy of it in every snapshot; pass store_objective=False to store it by "
            "name only (resuming then needs the objective passed again), or load the data inside the objective",
            stacklevel=5,
        )
    return pickled


def new_search(
    fn: Callable | None,
    space: Any,
    algo: Callable,
    seed: int | None,
    rng: np.random.Generator | None,
    store_objective: bool = True,
) -> SearchData:
    """The data of a search that has no trial yet (``rng=None``: its first run chooses the random state).

    The space, objective and algorithm are stored pickled, apart from the
    data (:class:`~resumable_opt.checkpoint.encoding.Pickled`); the objective
    only with ``store_objective``.
    """
    meta: dict[str, Any] = {
        "created": time.time(),
        "seed": seed,
        "space": Pickled.of(space),
        "space_signature": signature(space),
        "objective": None if fn is None or not store_objective else _pickle_objective(fn),
        "objective_name": "?" if fn is None else callable_name(fn),
        "algo": Pickled.of(algo),
        "algo_name": callable_name(algo),
        "versions": {"resumable_opt": __version__, "hyperopt": hyperopt.__version__},
    }
    rng_state = None if rng is None else dict(rng.bit_generator.state)
    meta["rng_state_at_start"] = rng_state
    return SearchData(meta=meta, rng_state=rng_state)


def _first_rng(seed: int | None, rstate: np.random.Generator | None) -> tuple[int | None, np.random.Generator]:
    """The seed to record and the Generator a search starts from: ``rstate``, ``seed``, or a drawn seed."""
    if rstate is not None:
        return None, rstate
    if seed is None:
        seed = secrets.randbits(32)
    return seed, np.random.default_rng(seed)


def _resumed_rng(
    path: Path, data: SearchData, seed: int | None, rstate: np.random.Generator | None
) -> np.random.Generator:
    """The Generator a resumed search continues with: the checkpoint's random state.

    A search made by ``import_trials`` without a seed has no random state yet:
    its first run chooses it.  A given ``rstate`` must be the one the search
    started with (or one already in step with it); it is then set to the
    checkpoint's state, so the caller's Generator ends where fmin's would.
    """
    if data.rng_state is None:
        seed, rng = _first_rng(seed, rstate)
        data.meta.update(seed=seed, rng_state_at_start=rng.bit_generator.state)
        data.rng_state = dict(rng.bit_generator.state)
        return rng
    if seed is not None and data.meta.get("seed") not in (None, seed):
        raise SeedMismatch(
            f"{path}: this search was started with seed {data.meta['seed']}, not {seed}; "
            "resume it with its own seed (or none), or start a new checkpoint"
        )
    if rstate is None:
        return rng_from_state(data.rng_state)
    at_start = data.meta.get("rng_state_at_start") or np.random.default_rng(data.meta["seed"]).bit_generator.state
    if rstate.bit_generator.state not in (at_start, data.rng_state):
        raise SeedMismatch(
            f"{path}: the rstate given is not in the state this search started from; resume it with a "
            "Generator made as the first time (e.g. the same numpy.random.default_rng(SEED)), or with "
            "rstate=None, or start a new checkpoint"
        )
    rstate.bit_generator.state = data.rng_state
    return rstate


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _refuse_to_start_afresh(path: Path, can_start: bool) -> None:
    """For a missing checkpoint: refuse to start a new search when its backup
    is there, or when there is no objective and space to start one with."""
    if backup_path(path).exists():
        # The checkpoint was deleted or lost but its previous state is
        # there: starting afresh would silently throw that history away.
        raise CheckpointNotFound(
            path,
            f"the checkpoint is missing, but its backup {backup_path(path).name} is there",
            "restore it with `resumable-opt recover FILE`, or delete the backup to start a new search",
        )
    if not can_start:
        raise CheckpointNotFound(path, "no such checkpoint to resume", "check the path")


def _check_trials_belong(path: Path, data: SearchData, trials: base.Trials | None) -> None:
    """A Trials object passed to a resumed search may only hold trials of that search."""
    if trials is None:
        return
    stored = data.doc_index()
    for doc in trials._dynamic_trials:
        same = stored.get(doc["tid"])
        if same is None or same["misc"]["vals"] != doc["misc"]["vals"]:
            raise ResumableOptError(
                f"{path}: the trials object passed in holds trial {doc['tid']}, which is not in this checkpoint. "
                "Pass an empty hyperopt.Trials() (it is filled with the checkpoint's trials), or bring "
                "those trials into a new checkpoint with resumable_opt.import_trials"
            )


def _unpickle_results(path: Path, data: SearchData) -> None:
    """Give a resumed search its result values and attachments back as objects, as fmin's Trials holds them."""
    failures: list[str] = []
    for doc in data.docs:
        doc["result"] = unpickle_all(doc["result"], failures)
    for name, value in data.attachments.items():
        data.attachments[name] = unpickle_all(value, failures)
    if failures:
        warnings.warn(
            f"{path}: {len(failures)} stored value(s) cannot be unpickled here and stay placeholders "
            f"(first: {failures[0]})",
            stacklevel=4,
        )


@stops_cleanly
def minimize(
    fn: Callable | None,
    space: Any,
    checkpoint: str | Path,
    max_evals: int,
    algo: Callable | None = None,
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
    pruner: Pruner | None = None,
    store_objective: bool = True,
    fast_tpe: bool | None = None,
) -> SearchState:
    """Minimise ``fn`` over ``space`` with hyperopt, resumably, in ``checkpoint``.

    Creates the checkpoint when it does not exist and resumes it when it
    does; ``max_evals`` counts every evaluation across all runs of it.  With
    ``seed=S`` the trials are exactly those of ``hyperopt.fmin(fn, space,
    algo, max_evals, rstate=numpy.random.default_rng(S))``, however often the
    run is interrupted and resumed.  Without a seed one is drawn and recorded.

    ``algo`` is TPE for a new search; on resume, ``None`` means the algorithm
    stored in the checkpoint.  ``fn`` and ``space`` may be None when
    resuming: the ones stored in the checkpoint are used.  Resuming with a different space is refused
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

    Long trials: in the objective, ``resumable_opt.current_trial()`` saves
    and loads the trial's state (an interrupted trial resumes from it) and
    reports intermediate values; ``pruner`` (e.g. ``MedianPruner()``)
    decides at each report whether ``should_prune()`` is True (see
    ``docs/long-trials.md``).

    ``store_objective=False``: the checkpoint stores the objective's name
    only, not the objective pickled (for one that holds large data);
    resuming then needs it passed again.  A result the checkpoint cannot
    store (an open file, a lock) makes its trial fail with that reason.

    ``fast_tpe``: when the algorithm is ``hyperopt.tpe.suggest`` (or a
    ``functools.partial`` of it), proposals come from
    :func:`resumable_opt.tpe.suggest`, which makes exactly hyperopt's and stays
    fast on long histories; ``False`` runs hyperopt's own (default: on, unless
    the environment variable ``RESUMABLE_OPT_FAST_TPE`` is ``0``).

    Ctrl-C, SIGTERM or SIGHUP stops the run cleanly after saving and raises
    :class:`~resumable_opt.errors.SearchInterrupted` (a ``SystemExit`` with
    status 130, 143 or 129; in IPython, e.g. a Jupyter kernel's interrupt, the
    ``KeyboardInterrupt`` :class:`~resumable_opt.errors.SearchInterruptedInteractive`),
    from the moment ``minimize`` is called (before the run begins: one line, the
    checkpoint unchanged); the evaluation it cut short is run again on resume,
    whatever the objective did with the signal, and never counts toward
    ``max_attempts``.  Returns the search as :func:`resumable_opt.load` would.
    """
    if not isinstance(max_evals, (int, np.integer)) or isinstance(max_evals, bool) or max_evals < 0:
        raise ValueError(f"max_evals must be a whole number >= 0, not {max_evals!r}")
    options = RunOptions(
        max_evals=int(max_evals),
        timeout=timeout,
        loss_threshold=loss_threshold,
        early_stop_fn=early_stop_fn,
        max_attempts=max_attempts,
        stop_after_initial_failures=stop_after_initial_failures,
        progress=progress,
        pruner=check_pruner(pruner),
    )
    make_evaluator = evaluator_factory(n_jobs, executor, trial_timeout)
    return run_search(
        fn, space, checkpoint, algo, options, seed=seed, make_evaluator=make_evaluator,
        store_objective=store_objective, fast_tpe=fast_tpe,
    )  # fmt: skip


def run_search(
    fn: Callable | None,
    space: Any,
    checkpoint: str | Path,
    algo: Callable | None,
    options: RunOptions,
    *,
    seed: int | None = None,
    rstate: np.random.Generator | None = None,
    first_trials: Sequence[dict] = (),
    trials: base.Trials | None = None,
    pass_expr_memo_ctrl: bool | None = None,
    make_evaluator: EvaluatorFactory = InProcessEvaluator,
    store_objective: bool = True,
    fast_tpe: bool | None = None,
) -> SearchState:
    """Open or create ``checkpoint`` under its lock and run the search: ``minimize`` and ``fmin``.

    Beyond :func:`minimize`'s arguments: ``rstate``, a numpy Generator the
    search draws from instead of one made from ``seed`` (as fmin's
    ``rstate``); ``first_trials``, trial documents a *new* search starts with
    (fmin's ``points_to_evaluate``, trials brought over from hyperopt), the
    unfinished ones evaluated first; ``trials``, a ``hyperopt.Trials`` that
    holds the search's trials during and after the run; ``pass_expr_memo_ctrl``
    as for ``hyperopt.fmin``; ``make_evaluator``, where trials run (see
    ``evaluation.factory``); ``store_objective`` and ``fast_tpe`` as for
    :func:`minimize` (the checkpoint records the algorithm asked for, whichever computes it).

    Resuming unpickles what the checkpoint keeps pickled: the space, the
    algorithm and the objective when they are not given, and the result
    values that are not data (a value that no longer unpickles stays a
    placeholder, with a warning).  Called within
    :func:`stops_cleanly`.
    """
    guard = InterruptGuard.installed()
    if guard is None:  # called from a thread that is not the main one: no signal handling
        guard = InterruptGuard()
    base.validate_timeout(options.timeout)
    base.validate_loss_threshold(options.loss_threshold)
    shown = Path(checkpoint)  # as the user wrote it, for messages
    path = real_path(checkpoint)  # once: what the objective does to the working folder cannot move it
    can_start = fn is not None and space is not None
    if not _exists(path):
        _refuse_to_start_afresh(path, can_start)  # before a folder or a lock file is made for it
    make_folder(path)
    with ExitStack() as held:
        # The lock and its owner note are taken whole, or not at all: a stop
        # signal meanwhile is raised once the lock is held, and releases it.
        with guard.critical():
            lock = held.enter_context(RunLock(path))
        torn_bytes = 0
        if _exists(path):
            loaded = read_checkpoint(path)
            data, torn_bytes = loaded.data, loaded.torn_bytes
            _unpickle_results(path, data)
            stored = SearchState(path, data)
            if space is None:
                space = stored.space
            else:
                found = differences(data.meta["space_signature"], space)
                if found:
                    raise SpaceMismatch(shown, found)
            if algo is None:
                algo = stored.algo
            if fn is None:
                fn = stored.objective
                if fn is None:
                    raise ResumableOptError(
                        f"{shown}: the checkpoint holds no objective (it could not be pickled); pass it to resume"
                    )
            _check_trials_belong(shown, data, trials)
            rng = _resumed_rng(shown, data, seed, rstate)
        else:
            _refuse_to_start_afresh(path, can_start)  # again, under the lock
            algo = algo or tpe.suggest
            seed, rng = _first_rng(seed, rstate)
            data = new_search(fn, space, algo, seed, rng, store_objective)
            data.docs.extend(first_trials)
        record_pruner(data.meta, options.pruner)
        domain = base.Domain(fn, space, pass_expr_memo_ctrl=pass_expr_memo_ctrl)
        if fast_tpe_module.enabled(fast_tpe):
            algo = fast_tpe_module.fast_equivalent(algo)
        store = CheckpointStore(path, check_lock=lock.check)
        run = Run(
            path, data, store, domain, algo, rng, options, make_evaluator, torn_bytes, trials, guard,
            shown=shown, release_lock=lock.release,
        )  # fmt: skip
        run.execute()
        return SearchState(shown, data)
