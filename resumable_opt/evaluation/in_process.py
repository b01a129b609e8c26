"""Serial evaluation in the runner's own process: the default, and exact."""

from __future__ import annotations

from hyperopt import base

from ..trial import TrialTicket
from .base import Evaluator, Lost
from .outcome import Outcome, evaluate


class InProcessEvaluator(Evaluator):
    """Evaluates one trial at a time, in this process, when :meth:`wait` is called.

    With it, a search makes exactly the calls ``hyperopt.fmin`` makes, in the
    same order, so its history is the same as fmin's for the same seed.
    """

    capacity = 1

    def __init__(self, domain: base.Domain, trials: base.Trials) -> None:
        self.domain = domain
        self.trials = trials
        self._queued: list[tuple[dict, TrialTicket | None]] = []

    def submit(self, doc: dict, ticket: TrialTicket | None = None) -> None:
        self._queued.append((doc, ticket))

    def wait(self) -> list[tuple[dict, Outcome | Lost]]:
        doc, ticket = self._queued.pop(0)
        return [(doc, evaluate(self.domain, self.trials, doc, ticket, self.on_report))]

    def cancel_all(self) -> None:
        self._queued.clear()
