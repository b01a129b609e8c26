"""Running one trial's objective and turning whatever happens into an outcome.

This is the one place that decides what counts as a failed evaluation; every
evaluator (in process, worker processes, Dask) calls :func:`evaluate`.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from hyperopt import JOB_STATE_DONE, JOB_STATE_ERROR, STATUS_OK, base
from hyperopt.utils import coarse_utcnow

from ..trial import Trial, TrialPruned, TrialTicket
from ..trial.channel import Reporter
from ..trial.context import running


@dataclass
class Outcome:
    """What became of one evaluation, ready to be written into its trial."""

    #: hyperopt's job state: JOB_STATE_DONE, or JOB_STATE_ERROR for a failure.
    state: int
    result: dict
    #: Keys added to the trial's ``misc``: ``error`` as hyperopt writes it
    #: (type, message) and the ``traceback`` text, for failures.
    misc_update: dict = field(default_factory=dict)
    finished_at: Any = None
    duration: float = 0.0
    #: The result's ``attachments`` (hyperopt takes them out of the result and
    #: keeps them in ``Trials.attachments``; the runner stores them).
    attachments: dict = field(default_factory=dict)
    #: The exception the objective raised, for a caller that re-raises it
    #: (``fmin(catch_eval_exceptions=False)``); never written to the checkpoint.
    exception: BaseException | None = None

    @property
    def failed(self) -> bool:
        return self.state == JOB_STATE_ERROR

    def __getstate__(self) -> dict:
        # An outcome sent between processes leaves the exception behind: it may
        # not pickle, and the reason is kept as text in misc anyway.
        return {**self.__dict__, "exception": None}


def failure(kind: str, message: str, details: str = "", duration: float = 0.0) -> Outcome:
    """A failed evaluation, recorded the way hyperopt records a caught exception."""
    return Outcome(
        JOB_STATE_ERROR,
        {"status": "fail", "failure": f"{kind}: {message}"},
        {"error": (kind, message), "traceback": details or f"{kind}: {message}"},
        coarse_utcnow(),
        duration,
    )


EXPECTED_RESULT = "return a number, or a dict with a numeric 'loss' and a 'status'"


def _raised_by_hyperopt_on_the_result(exc: BaseException) -> bool:
    """True when hyperopt's own ``Domain.evaluate`` rejected what the objective
    returned (a string, a dict without a loss...), rather than the objective
    raising: its innermost frame is hyperopt's, not the objective's."""
    frames = traceback.extract_tb(exc.__traceback__)
    return (
        bool(frames)
        and frames[-1].name == "evaluate"
        and frames[-1].filename.endswith(os.path.join("hyperopt", "base.py"))
    )


def evaluate(
    domain: base.Domain,
    trials: base.Trials | None,
    doc: dict,
    ticket: TrialTicket | None = None,
    reporter: Reporter | None = None,
) -> Outcome:
    """Evaluate the trial ``doc`` in this process; never raises for the objective's faults.

    An exception, ``sys.exit()``, a result that is not a number or a valid
    result dict, and a NaN loss all become failed outcomes that keep the
    reason (and the traceback).  Only a stop request (our interrupt, which is
    a ``BaseException``) passes through.  With ``ticket``, the trial is the
    objective's ``current_trial()`` (reporting through ``reporter``, or
    through the ticket's channel when None), and :class:`TrialPruned` makes a
    pruned outcome.
    """
    spec = base.spec_from_misc(doc["misc"])
    ctrl = base.Ctrl(trials, current_trial=doc)
    started = time.perf_counter()
    trial = None
    try:
        with running(ticket, domain.expr, doc["misc"]["vals"], reporter) as trial:
            # Attachments are taken out here rather than by hyperopt, which writes
            # them into the Trials: a worker process has none, the runner keeps them.
            result = domain.evaluate(spec, ctrl, attach_attachments=False)
        attachments = result.pop("attachments", None) or {}
        if not isinstance(attachments, dict):
            raise TypeError(f"the result's 'attachments' must be a dict, not {type(attachments).__name__}")
    except (Exception, SystemExit) as exc:
        if isinstance(exc, TrialPruned):
            return _pruned(trial, time.perf_counter() - started)
        name = type(exc).__name__
        message = str(exc) or repr(exc)
        if isinstance(exc, SystemExit):
            message = f"the objective called sys.exit({exc.code!r})"
        elif isinstance(exc, TypeError) and "NoneType" in message:
            message += " (did the objective forget to return its loss?)"
        elif _raised_by_hyperopt_on_the_result(exc):
            message = f"the objective returned no usable loss ({name}: {message}); {EXPECTED_RESULT}"
            name = "InvalidResult"
        outcome = failure(name, message, traceback.format_exc(), time.perf_counter() - started)
        outcome.misc_update["error"] = (str(type(exc)), str(exc))  # exactly as hyperopt.fmin records it
        outcome.exception = exc
        return outcome
    duration = time.perf_counter() - started
    if result.get("status") == STATUS_OK and math.isnan(result["loss"]):
        return failure("InvalidLoss", "the objective returned a NaN loss", duration=duration)
    return Outcome(JOB_STATE_DONE, result, {}, coarse_utcnow(), duration, attachments)


def _pruned(trial: Trial | None, duration: float) -> Outcome:
    """The outcome of an objective that raised ``TrialPruned``: finished, with its last reported value."""
    result = None if trial is None else trial.pruned_result()
    if result is None:
        return failure(
            "TrialPruned",
            "the objective raised TrialPruned before it reported any value, so there is no loss to record "
            "(call current_trial().report(step, value) first)",
            duration=duration,
        )
    return Outcome(JOB_STATE_DONE, result, {}, coarse_utcnow(), duration)
