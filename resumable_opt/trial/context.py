"""``resumable_opt.current_trial()``: the trial being evaluated, from inside the objective.

The objective's signature does not change (so ``fmin`` users get it too);
the trial is found through a context variable that the evaluation sets
around the call, wherever it runs: in the runner's process, in an ``n_jobs``
worker process, in a Dask worker's thread.

Who does what:

* ``report(step, value)`` goes to the runner (directly in process, over the
  runner's report channel from elsewhere, see ``channel.py``), which appends
  it to the checkpoint's journal, durably, before it answers; the answer is
  the pruner's decision for that step, which ``should_prune()`` returns.
* ``save_state``/``load_state`` and ``dir`` are read and written by the
  process that runs the trial, in the trial's folder beside the checkpoint
  (see ``files.py``).  A worker on another machine therefore needs the
  checkpoint's folder on a shared filesystem, at the same path; a worker
  that cannot see the checkpoint gets an error that says so.
"""

from __future__ import annotations

import math
import numbers
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import ResumableOptError
from ..space import active_values, decode
from . import files
from .channel import RemoteReporter, Reporter, answer_or_raise


class TrialPruned(Exception):
    """Raise it in the objective when ``should_prune()`` says so.

    The trial is then recorded as finished, status ``ok``, with
    ``pruned: True``, its last reported value as its loss and the step of
    that report (``step``); the search goes on.
    """


@dataclass(frozen=True)
class TrialTicket:
    """What the evaluation of one trial needs besides the trial document
    (plain data: it travels to worker processes and Dask workers)."""

    tid: int
    #: 1 for the first evaluation of the trial, 2 after one interruption, ...
    attempt: int
    #: The checkpoint's absolute path: the trial's folder is beside it.
    checkpoint: str
    #: Tells this search from another one made later at the same path.
    search: str
    #: The runner's report channel, ((host, port), key); None in the runner's own process.
    channel: tuple[tuple[str, int], bytes] | None = None


_current: ContextVar[Trial | None] = ContextVar("resumable_opt_current_trial", default=None)

NOT_IN_A_TRIAL = (
    "current_trial() is only available in the objective while resumable-opt evaluates a trial "
    "(resumable_opt.minimize, or resumable_opt.fmin with checkpoint=); no trial is being evaluated here"
)


def current_trial() -> Trial:
    """The trial being evaluated; raises a clear error outside an evaluation."""
    trial = _current.get()
    if trial is None:
        raise ResumableOptError(NOT_IN_A_TRIAL)
    return trial


def _point_key(vals: dict) -> str:
    """The trial's point as text, so a saved state is never taken for another point's."""
    return repr(sorted((label, float(value)) for label, value in active_values(vals).items()))


class Trial:
    """The trial being evaluated (see :func:`current_trial`)."""

    def __init__(self, ticket: TrialTicket, space: Any, vals: dict, reporter: Reporter) -> None:
        self._ticket = ticket
        self._space = space
        self._vals = vals
        self._reporter = reporter
        self._point = _point_key(vals)
        self._folder: Path | None = None
        self._prune = False
        #: The values this evaluation reported, by step.
        self.reported: dict[int, float] = {}
        #: The step and value of the latest report, or None.
        self.last_step: int | None = None
        self.last_value: float | None = None

    @property
    def tid(self) -> int:
        """hyperopt's trial id."""
        return self._ticket.tid

    @property
    def attempt(self) -> int:
        """1 on the first evaluation of this trial, 2 after one interruption, ..."""
        return self._ticket.attempt

    @cached_property
    def params(self) -> Any:
        """The point being evaluated, decoded as the objective receives it."""
        return decode(self._space, self._vals)

    @property
    def dir(self) -> Path:
        """A folder of this trial's own, beside the checkpoint, for the objective's files.

        Made on first use.  It is kept when the trial finishes if anything
        is left in it (only the saved state is removed).
        """
        if self._folder is None:
            checkpoint = Path(self._ticket.checkpoint)
            if not checkpoint.exists():
                raise ResumableOptError(
                    f"the checkpoint {checkpoint} cannot be seen from this process (on {socket.gethostname()}): a "
                    "trial's folder and saved state are kept beside the checkpoint, so the workers of a Dask "
                    "cluster of several machines need the checkpoint's folder on a shared filesystem, at the same path"
                )
            folder = files.trial_folder(checkpoint, self.tid)
            folder.mkdir(parents=True, exist_ok=True)
            self._folder = folder
        return self._folder

    def save_state(self, state: Any, keep: bool = False) -> int:
        """Store ``state`` (anything cloudpickle can pickle) for this trial, atomically and durably.

        If the evaluation is interrupted, the next evaluation of this trial
        gets it from :meth:`load_state`.  A kill at any moment leaves the
        previous state or this one.  The state is removed once the trial has
        finished and its result is safe in the checkpoint, unless
        ``keep=True``.  Returns the size written, in bytes.
        """
        header = files.state_header(self._ticket.search, self.tid, self._point, keep)
        try:
            return files.write_state(self.dir, header, state)
        except OSError as exc:
            raise ResumableOptError(f"could not save the state of trial {self.tid} in {self.dir}: {exc}") from exc

    def load_state(self, default: Any = None) -> Any:
        """What the latest :meth:`save_state` of this very trial stored, or ``default``."""
        found, state = files.read_state(self.dir, self._ticket.search, self.tid, self._point)
        return state if found else default

    def report(self, step: int, value: float) -> None:
        """Record an intermediate value (e.g. the validation loss after epoch ``step``).

        Returns once the value is durable in the checkpoint; reporting a
        step again replaces its value.  Then :meth:`should_prune` tells
        whether the search's pruner would stop the trial here.
        """
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"report(step, value): step must be a whole number >= 0, not {step!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"report(step, value): value must be a number, not {type(value).__name__} {value!r}")
        step, value = int(step), float(value)
        if math.isinf(value):
            raise ValueError(f"report(step, value): value must be finite (or NaN), not {value}")
        self._prune = answer_or_raise(self._reporter(self.tid, self.attempt, step, value))
        self.reported[step] = value
        self.last_step, self.last_value = step, value

    def should_prune(self) -> bool:
        """Whether the pruner would stop this trial at the step reported last
        (always False before the first report, and without a pruner)."""
        return self._prune

    def pruned_result(self) -> dict | None:
        """The result recorded for this trial when it raises :class:`TrialPruned`
        (None when it reported nothing: there is no loss to record)."""
        if self.last_step is None:
            return None
        return {"loss": self.last_value, "status": "ok", "pruned": True, "step": self.last_step}

    def __repr__(self) -> str:
        return f"<Trial tid={self.tid} attempt={self.attempt}>"


@contextmanager
def running(ticket: TrialTicket | None, space: Any, vals: dict, reporter: Reporter | None) -> Iterator[Trial | None]:
    """Make the trial of ``ticket`` the current one for the duration of the block."""
    if ticket is None:
        yield None
        return
    remote = None
    if reporter is None:
        if ticket.channel is None:
            raise ResumableOptError("internal error: a trial evaluated away from the runner needs its report channel")
        reporter = remote = RemoteReporter(*ticket.channel)
    token = _current.set(Trial(ticket, space, vals, reporter))
    try:
        yield _current.get()
    finally:
        _current.reset(token)
        if remote is not None:
            remote.close()
