"""Evaluation through ``concurrent.futures`` futures: the part local worker
processes, Dask and any other executor share.

A subclass says how to start one trial (:meth:`FuturesEvaluator._start`) and
how to stop one (:meth:`FuturesEvaluator._stop`); this class keeps the trials
in flight, waits for the first to finish, enforces ``trial_timeout`` and
tells a finished evaluation from a lost one (its worker died).
"""

from __future__ import annotations

import concurrent.futures as cf
import time
import traceback
from abc import abstractmethod
from dataclasses import dataclass, replace

from hyperopt import base

from ..errors import ResumableOptError
from ..trial import TrialTicket
from ..trial.channel import ReportServer
from .base import Evaluator, Lost
from .outcome import Outcome, failure
from .remote import pack_domain


@dataclass
class _Job:
    doc: dict
    submitted: float


class FuturesEvaluator(Evaluator):
    """Runs trials as futures; see the module doc.

    Guarantees: :meth:`wait` returns at least one trial, as soon as one is
    done, lost or past ``trial_timeout`` seconds since it was submitted (a
    trial past its time is stopped and returned as failed with the reason
    ``timeout``); :meth:`cancel_all` stops every trial in flight.
    """

    #: Exceptions of a future that mean "the worker died" (or someone else
    #: cancelled the task), not "the trial failed": the trial is run again.
    lost_errors: tuple[type[BaseException], ...] = (cf.BrokenExecutor, cf.CancelledError)

    def __init__(self, domain: base.Domain, trial_timeout: float | None, other_processes: bool = True) -> None:
        """``other_processes``: the trials run elsewhere, so the objective and
        the space are pickled (once, here) into :attr:`payload`."""
        self.domain = domain
        self.payload = self._pack(domain) if other_processes else b""
        self.trial_timeout = trial_timeout
        self._jobs: dict[cf.Future, _Job] = {}
        #: Where the trials' reports arrive, started with the first trial.
        self._reports: ReportServer | None = None

    @staticmethod
    def _pack(domain: base.Domain) -> bytes:
        try:
            return pack_domain(domain)
        except Exception as exc:
            raise ResumableOptError(
                f"the objective cannot be sent to worker processes: cloudpickle cannot pickle it "
                f"({type(exc).__name__}: {exc}). Make it picklable (no open files, locks or "
                "connections in it or in what it refers to), "
                "or run it in this process (no n_jobs, executor or trial_timeout)"
            ) from exc

    @abstractmethod
    def _start(self, doc: dict, ticket: TrialTicket | None) -> cf.Future:
        """Start evaluating ``doc``; the future's result is its :class:`Outcome`."""

    @abstractmethod
    def _stop(self, future: cf.Future) -> None:
        """Stop the evaluation behind ``future`` (its result is not wanted)."""

    def _report_host(self) -> str:
        """The address the workers reach this process at (local workers: loopback)."""
        return "127.0.0.1"

    def submit(self, doc: dict, ticket: TrialTicket | None = None) -> None:
        if ticket is not None:
            if self._reports is None:
                self._reports = ReportServer(self._report_host())
            ticket = replace(ticket, channel=(self._reports.address, self._reports.authkey))
        try:
            future = self._start(doc, ticket)
        except (cf.BrokenExecutor, RuntimeError) as exc:
            raise ResumableOptError(
                f"the executor cannot take more trials ({type(exc).__name__}: {exc}); every finished "
                "trial is saved: run again with a working executor to resume"
            ) from exc
        self._jobs[future] = _Job(doc, time.monotonic())

    def wait(self) -> list[tuple[dict, Outcome | Lost]]:
        while True:
            waiting = set(self._jobs)
            if self._reports is not None:
                waiting.add(self._reports.wakeup)
            done, _ = cf.wait(waiting, timeout=self._time_to_first_deadline(), return_when=cf.FIRST_COMPLETED)
            if self._reports is not None and self._reports.wakeup in done:
                assert self.on_report is not None, "the runner answers the reports"
                self._reports.serve(self.on_report)
            finished = [(self._jobs.pop(future).doc, self._outcome(future)) for future in done if future in self._jobs]
            finished += self._stop_overdue()
            if finished:
                return finished

    def cancel_all(self) -> None:
        for future in list(self._jobs):
            self._stop(future)
        self._jobs.clear()

    def close(self) -> None:
        if self._reports is not None:
            self._reports.close()
            self._reports = None

    # -- helpers ----------------------------------------------------------

    def _time_to_first_deadline(self) -> float | None:
        if self.trial_timeout is None or not self._jobs:
            return None
        first = min(job.submitted for job in self._jobs.values())
        return max(0.0, first + self.trial_timeout - time.monotonic())

    def _stop_overdue(self) -> list[tuple[dict, Outcome]]:
        if self.trial_timeout is None:
            return []
        now = time.monotonic()
        overdue = [future for future, job in self._jobs.items() if now - job.submitted >= self.trial_timeout]
        stopped = []
        for future in overdue:
            job = self._jobs.pop(future)
            self._stop(future)
            message = f"the evaluation took longer than trial_timeout={self.trial_timeout:g}s and was stopped"
            stopped.append((job.doc, failure("timeout", message, duration=now - job.submitted)))
        return stopped

    def _outcome(self, future: cf.Future) -> Outcome | Lost:
        try:
            return future.result()
        except self.lost_errors as exc:
            return Lost(f"its worker was lost ({type(exc).__name__}: {exc})".replace("\n", " "))
        except Exception as exc:  # e.g. a result that cannot be sent back: the trial failed
            return failure(type(exc).__name__, str(exc) or repr(exc), traceback.format_exc())
