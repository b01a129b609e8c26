"""``resumable_opt.fmin``: ``hyperopt.fmin``, resumable with one more argument.

A hyperopt script switches by changing its import::

    from resumable_opt import fmin      # instead of: from hyperopt import fmin
    best = fmin(objective, space, algo=tpe.suggest, max_evals=200,
                rstate=np.random.default_rng(0), checkpoint="checkpoints/run.ckpt")

Without ``checkpoint`` the call *is* ``hyperopt.fmin``.  With it, the search
runs on the checkpoint (see :func:`resumable_opt.minimize`): every finished
trial is durable, Ctrl-C and kills lose nothing, and running the script again
resumes the search, with the very trials an uninterrupted call would have
made when ``rstate`` is given.  Parameters, defaults and return values are
``hyperopt.fmin``'s; where a run on a checkpoint must differ, it says so here:

* ``max_evals`` counts every trial in the checkpoint, failed ones included,
  across all runs (hyperopt, handed the same ``trials`` again, does not count
  the failed ones).
* Ctrl-C / SIGTERM / SIGHUP end the call with :class:`~resumable_opt.SearchInterrupted`
  (a ``SystemExit``, status 130/143/129) after saving, not ``KeyboardInterrupt``;
  in IPython, the ``KeyboardInterrupt`` ``SearchInterruptedInteractive``.
* ``max_queue_len`` is not used: points are asked for one at a time.
* ``trials_save_file`` is not written; an existing one is brought into a new
  checkpoint (see :mod:`resumable_opt.importing`).
* ``show_progressbar``/``verbose`` switch resumable-opt's own progress output.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hyperopt
import numpy as np
from hyperopt import base, exceptions, pyll, space_eval, tpe
from hyperopt.fmin import generate_trials_to_calculate

from .pruners import Pruner, check_pruner
from .runner.minimize import run_search, stops_cleanly
from .runner.run import RunOptions

SWITCH_ADVICE = (
    "trials_save_file rewrites one pickle after every trial, and a kill while it writes can lose the whole "
    "history. Pass checkpoint='checkpoints/NAME.ckpt' to resumable_opt.fmin instead (crash-safe, exactly "
    "resumable); an existing trials_save_file is brought over by `resumable-opt import FILE CHECKPOINT "
    "--space MODULE:SPACE` or by resumable_opt.import_trials()"
)


class AnnotatedObjective:
    """The objective of ``space="annotated"``: called with the point's dict as keyword arguments.

    A class rather than a closure, so that a checkpoint stores it by reference.
    """

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, params: dict) -> Any:
        return self.fn(**params)


def annotated_space(fn: Callable) -> dict:
    """The space read from ``fn``'s annotations, refused as ``hyperopt.fmin`` refuses it."""
    space = inspect.getfullargspec(fn).annotations
    for hp_func in space.values():
        if not isinstance(hp_func, pyll.base.Apply):
            raise exceptions.InvalidAnnotatedParameter(
                'When using `space="annotated"`, please annotate the objective function arguments with a '
                "`pyll.base.Apply` subclass. See example in `fmin` docstring"
            )
    return space


@stops_cleanly
def fmin(
    fn: Callable,
    space: Any,
    algo: Callable | None = None,
    max_evals: int | None = None,
    timeout: float | None = None,
    loss_threshold: float | None = None,
    trials: base.Trials | None = None,
    rstate: np.random.Generator | None = None,
    allow_trials_fmin: bool = True,
    pass_expr_memo_ctrl: bool | None = None,
    catch_eval_exceptions: bool = False,
    verbose: bool = True,
    return_argmin: bool = True,
    points_to_evaluate: list[dict] | None = None,
    max_queue_len: int = 1,
    show_progressbar: Any = True,
    early_stop_fn: Callable | None = None,
    trials_save_file: str = "",
    checkpoint: str | Path | None = None,
    pruner: Pruner | None = None,
    store_objective: bool = True,
) -> Any:
    """``hyperopt.fmin`` (same parameters, defaults and return value), resumable with ``checkpoint``.

    ``checkpoint=None``: exactly ``hyperopt.fmin``.  ``checkpoint=PATH``: the
    search runs on that checkpoint, created when missing and resumed when it
    exists, with every guarantee of :func:`resumable_opt.minimize`; with
    ``rstate`` its trials are those of ``hyperopt.fmin`` with the same
    ``rstate``, however often it is interrupted and resumed.  ``trials``, if
    given, ends up holding all the checkpoint's trials; if it already holds
    trials and the checkpoint is new, they are the search's history.
    ``points_to_evaluate`` (with ``trials=None``) is evaluated first when the
    checkpoint is created.  ``catch_eval_exceptions=False`` records the
    failed trial in the checkpoint, then raises the objective's exception.
    Returns ``trials.argmin`` (choice indexes), or with ``return_argmin=False``
    the best point decoded by ``space_eval`` (None when there is no trial).
    ``pruner`` (with ``checkpoint``): see :func:`resumable_opt.minimize`.
    ``store_objective=False``: as for :func:`resumable_opt.minimize`.
    With ``checkpoint``, ``hyperopt.tpe.suggest`` is computed by
    :func:`resumable_opt.tpe.suggest` (the same trials, faster on long
    histories) unless the environment variable ``RESUMABLE_OPT_FAST_TPE`` is 0.
    """
    pruner = check_pruner(pruner)
    if checkpoint is None:
        if pruner is not None:
            raise ValueError("pruner= needs checkpoint=: without it this is hyperopt.fmin, which has no pruning")
        if trials_save_file:
            warnings.warn(SWITCH_ADVICE, UserWarning, stacklevel=2)
        return hyperopt.fmin(
            fn, space, algo=algo, max_evals=max_evals, timeout=timeout, loss_threshold=loss_threshold,
            trials=trials, rstate=rstate, allow_trials_fmin=allow_trials_fmin,
            pass_expr_memo_ctrl=pass_expr_memo_ctrl, catch_eval_exceptions=catch_eval_exceptions,
            verbose=verbose, return_argmin=return_argmin, points_to_evaluate=points_to_evaluate,
            max_queue_len=max_queue_len, show_progressbar=show_progressbar, early_stop_fn=early_stop_fn,
            trials_save_file=trials_save_file,
        )  # fmt: skip

    checkpoint = Path(checkpoint)
    if algo is None:
        algo = tpe.suggest
        logging.getLogger("hyperopt.fmin").warning("TPE is being used as the default algorithm.")
    if max_evals is None:
        max_evals = sys.maxsize
    seed = None
    if rstate is None and os.environ.get("HYPEROPT_FMIN_SEED", ""):
        seed = int(os.environ["HYPEROPT_FMIN_SEED"])  # what hyperopt.fmin would seed its Generator with
    if isinstance(space, str) and space == "annotated":
        space = annotated_space(fn)
        fn = AnnotatedObjective(fn)
    _refuse_trials_that_run_their_own_fmin(trials, allow_trials_fmin)
    if max_queue_len != 1:
        warnings.warn(
            "max_queue_len is not used with checkpoint=: points are asked for one at a time", UserWarning, stacklevel=2
        )

    if points_to_evaluate is not None and trials is None and max_evals != sys.maxsize:
        # hyperopt.fmin evaluates the points on top of max_evals new ones (its docstring says so)
        max_evals += len(points_to_evaluate)
    first_trials: list[dict] = []
    attachments: dict = {}
    if not checkpoint.exists():
        first_trials, attachments = _first_trials(space, trials, points_to_evaluate, trials_save_file)
    elif trials_save_file:
        warnings.warn(
            f"trials_save_file={trials_save_file!r} is not used: the search is in {checkpoint}",
            UserWarning,
            stacklevel=2,
        )
    if trials is None:
        trials = base.Trials()
        trials.attachments.update(attachments)

    options = RunOptions(
        max_evals=max_evals,
        timeout=timeout,
        loss_threshold=loss_threshold,
        early_stop_fn=early_stop_fn,
        progress=bool(verbose and show_progressbar),
        # hyperopt.fmin goes on however many trials fail
        stop_after_initial_failures=None,
        catch_eval_exceptions=catch_eval_exceptions,
        pruner=pruner,
    )
    state = run_search(
        fn, space, checkpoint, algo, options, seed=seed, rstate=rstate, first_trials=first_trials,
        trials=trials, pass_expr_memo_ctrl=pass_expr_memo_ctrl, store_objective=store_objective,
    )  # fmt: skip

    # What hyperopt.fmin returns, computed the way it computes it.
    if return_argmin:
        if len(trials.trials) == 0:
            raise Exception("There are no evaluation tasks, cannot return argmin of task losses.")
        return trials.argmin
    if len(trials) > 0:
        return space_eval(state.space if space is None else space, trials.argmin)
    return None


def _refuse_trials_that_run_their_own_fmin(trials: base.Trials | None, allow_trials_fmin: bool) -> None:
    """SparkTrials, MongoTrials and the like run trials elsewhere: no checkpoint for them."""
    if trials is None:
        return
    own_fmin = allow_trials_fmin and getattr(type(trials), "fmin", base.Trials.fmin) is not base.Trials.fmin
    if own_fmin or trials.asynchronous:
        raise ValueError(
            f"checkpoint= needs a hyperopt.Trials (or none); {type(trials).__name__} runs its trials "
            "elsewhere. Use checkpoint=None with it, or hyperopt.Trials()"
        )


def _first_trials(
    space: Any, trials: base.Trials | None, points: list[dict] | None, trials_save_file: str
) -> tuple[list[dict], dict]:
    """The trials a new checkpoint starts with, from what hyperopt.fmin would have
    started with, and the attachments of a ``trials_save_file`` brought over."""
    from .importing import load_trials, trial_documents

    if trials is not None:
        return trial_documents(trials, space, "the trials object passed in"), {}
    if trials_save_file and os.path.exists(trials_save_file):
        warnings.warn(
            f"bringing the trials of {trials_save_file} into the new checkpoint; the checkpoint is "
            "the search from now on, and the file is no longer written",
            UserWarning,
            stacklevel=3,
        )
        saved = load_trials(trials_save_file)
        return trial_documents(saved, space, trials_save_file), dict(saved.attachments)
    if points is not None:
        assert isinstance(points, list)  # as hyperopt.fmin does
        return generate_trials_to_calculate(points)._dynamic_trials, {}
    return [], {}
