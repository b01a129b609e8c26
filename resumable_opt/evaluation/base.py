"""The interface between the runner and wherever evaluations run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..trial import TrialTicket
from ..trial.channel import Reporter
from .outcome import Outcome


@dataclass
class Lost:
    """What :meth:`Evaluator.wait` returns for a trial whose worker died (a
    killed process, a lost Dask worker): it did not finish, and the runner
    decides whether to run it again (see the poison-trial limit)."""

    reason: str


class Evaluator(ABC):
    """Runs trials for the runner: in this process, in local processes, on Dask.

    The runner keeps at most :attr:`capacity` trials submitted and not yet
    returned by :meth:`wait`.  It is the only owner of the checkpoint: an
    evaluator only computes outcomes.
    """

    #: How many trials may be in flight at once.
    capacity: int = 1
    #: Set by the runner: answers a trial's ``report(step, value)`` (see ``trial/channel.py``).
    on_report: Reporter | None = None

    @abstractmethod
    def submit(self, doc: dict, ticket: TrialTicket | None = None) -> None:
        """Start evaluating the trial document ``doc`` (state already RUNNING);
        ``ticket`` makes it the ``current_trial()`` of the objective."""

    @abstractmethod
    def wait(self) -> list[tuple[dict, Outcome | Lost]]:
        """Block until at least one submitted trial finished or was lost; return those."""

    def cancel_all(self) -> None:  # noqa: B027  (an optional hook: nothing to stop by default)
        """Stop every trial in flight (on Ctrl-C); their results are not wanted."""

    def close(self) -> None:  # noqa: B027  (an optional hook: nothing to release by default)
        """Release the evaluator's resources."""
