"""One run of a search on a checkpoint: the runner's loop.

The loop, per trial::

    ask hyperopt's algorithm for one point      (interruptible)
    journal: asked + started                    (one write, no fsync)
    evaluate it                                 (interruptible)
    journal: finished                           (one write + fsync)
    best-so-far file, if it improved; progress line

so a finished evaluation is on disk before the next point is asked for.  The
"asked" record holds the random state after the draw, which is how a resumed
search continues the very same sequence of points.  A point that was asked
and not finished when the run stopped is evaluated again, first, with the
same parameters; one whose evaluation killed the whole process too many times
is recorded as failed instead (a "poison" trial).

Where evaluations run is the evaluator's business (``evaluation/``): the
default one evaluates in this process, one trial at a time, as above.  With
worker processes or Dask the loop keeps up to ``evaluator.capacity`` trials
in flight, asks for a new point whenever one finishes, and records each as
it comes back; a trial whose worker died is submitted again (it counts
toward the poison-trial limit).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hyperopt import JOB_STATE_NEW, JOB_STATE_RUNNING, base
from hyperopt.utils import coarse_utcnow

from ..checkpoint import journal
from ..checkpoint.encoding import NotStorable
from ..checkpoint.journal import RunRecord, SearchData
from ..checkpoint.lock import owner_path
from ..checkpoint.store import CheckpointStore
from ..errors import CheckpointWriteError, ObjectiveAlwaysFails, search_interrupted
from ..evaluation import InProcessEvaluator, Lost, Outcome, failure
from ..evaluation.factory import EvaluatorFactory
from ..interrupts import Interrupt, InterruptGuard, exit_status, signal_name, silence_standard_streams, tell
from ..params import fill_missing, params_recorder
from ..pruners import Pruner
from ..reporting.best_file import adopt_old_best_file, best_file_path, best_record, write_best_file
from ..reporting.progress import Progress, format_loss, format_params, plural, resume_hint
from ..space import active_values, decode
from ..trial import TrialTicket, files
from ..trials import add_to_valid, best_of, drop_from_valid, is_failed, is_ok, is_pending, trials_from_docs
from .reports import answer_report
from .space_generators import SpaceGenerators


@dataclass
class RunOptions:
    """How long a run goes on, and how it treats failures."""

    max_evals: int
    timeout: float | None = None
    loss_threshold: float | None = None
    early_stop_fn: Callable | None = None
    #: Evaluations of one trial that may kill the process before it is failed.
    max_attempts: int = 3
    #: Stop when the first this-many trials of a search all failed (None: never).
    stop_after_initial_failures: int | None = 3
    progress: bool = True
    #: False: an exception raised by the objective is recorded (durably), then
    #: raised from the run, as ``hyperopt.fmin(catch_eval_exceptions=False)`` does.
    catch_eval_exceptions: bool = True
    #: Decides whether a trial stops early, at each ``report`` (None: never).
    pruner: Pruner | None = None


def poison_failure(attempts: int) -> Outcome:
    """The failure recorded for a trial whose evaluation killed its process too often."""
    return failure(
        "ProcessDied",
        f"the process died while evaluating this trial {attempts} times "
        "(a crash, os._exit or the out-of-memory killer?); recorded as failed so the search can go on",
    )


def rng_from_state(state: dict) -> np.random.Generator:
    """Rebuild a numpy Generator, whatever its bit generator, from its state."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


class Run:
    """Runs a search until its budget, a stop condition or a signal; see module doc."""

    def __init__(
        self,
        path: Path,
        data: SearchData,
        store: CheckpointStore,
        domain: base.Domain,
        algo: Callable,
        rng: np.random.Generator,
        options: RunOptions,
        make_evaluator: EvaluatorFactory,
        torn_bytes: int = 0,
        trials: base.Trials | None = None,
        guard: InterruptGuard | None = None,
        shown: Path | None = None,
        release_lock: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        #: Lets go of the checkpoint (its owner note): called when the process ends at once
        #: (:meth:`_stop_at_once`), where the caller's ``with`` that would do it never runs.
        self.release_lock = release_lock
        #: The checkpoint as the user wrote it, for messages.
        self.shown = path if shown is None else shown
        self.data = data
        self.store = store
        self.domain = domain
        self.algo = algo
        self.rng = rng
        self.options = options
        # data.docs is also trials._dynamic_trials: one copy of the history
        # (in the caller's Trials object when one is given, as fmin's users expect).
        if trials is not None:  # what the caller's Trials holds is kept with the search's own
            data.attachments.update(trials.attachments)
        self.trials = trials_from_docs(data.docs, into=trials)
        self.trials.attachments = data.attachments
        self.record_params = params_recorder(domain.expr)
        self.docs_by_tid = data.doc_index()
        self.evaluator = make_evaluator(domain, self.trials)
        self.evaluator.on_report = lambda *message: answer_report(self, *message)
        self.search_id = files.search_identity(data.meta)
        self.space_generators = SpaceGenerators(domain.expr, data.meta, isinstance(self.evaluator, InProcessEvaluator))
        self.generators_note: str | None = None
        self.torn_bytes = torn_bytes
        #: Installed by the caller from its first line (see ``minimize``), or by :meth:`execute`.
        self.guard = guard or InterruptGuard()
        self.guard.on_repeat = self._stop_at_once
        self.n_ok = sum(1 for doc in data.docs if is_ok(doc))
        self.n_finished = sum(1 for doc in data.docs if not is_pending(doc))
        self.best_doc = best_of(data.docs)
        self.started = time.monotonic()
        self.in_flight: dict[int, dict] = {}
        #: Trials that were waiting to be evaluated when this run started.
        self.unfinished_at_start: set[int] = set()
        self.poisoned: list[dict] = []
        self.run_recorded = False
        self.progress: Progress | None = None
        # A search that early_stop_fn ended stays ended while it is given.
        carried_over = data.stopped_because == EARLY_STOPPED and options.early_stop_fn is not None
        self.stopped_because: str | None = EARLY_STOPPED if carried_over else None
        #: No run has been recorded on this checkpoint yet: the banner says "New search".
        self.is_new = not data.runs

    # -- the loop ----------------------------------------------------------

    def execute(self) -> str:
        """Run, and return how the run ended.  Raises SearchInterrupted on a stop signal."""
        with self.guard:
            try:
                with self.guard.critical():
                    pending = self._begin()
                self.unfinished_at_start = {doc["tid"] for doc in pending}
                self.progress = Progress(self.options.progress, self.options.max_evals, self.n_finished)
                self._announce(pending)
                outcome = self._loop(pending)
                self._end(outcome)
            except Interrupt as stop:
                self.guard.acknowledge()
                self._end(f"interrupted by {stop.signal_name}")
                self._report_interrupted()
                raise search_interrupted(stop.signum) from None
            except BaseException as exc:
                self._end(f"error: {type(exc).__name__}: {exc}".splitlines()[0][:200])
                raise
            return outcome

    def _loop(self, pending: list[dict]) -> str:
        while True:
            while len(self.in_flight) < self.evaluator.capacity:
                doc = pending.pop(0) if pending else self._ask_if_allowed()
                if doc is None:
                    break
                self.in_flight[doc["tid"]] = doc  # first, so a stop during submit releases it
                self.evaluator.submit(doc, self._ticket(doc))
            if not self.in_flight:
                return self._why_no_more()
            finished = self.evaluator.wait()
            # A stop signal during the evaluation that the objective swallowed
            # (a bare ``except:``): whatever it returned after that is not a
            # result of that point; it is released and evaluated again on resume.
            self.guard.raise_if_stopped()
            for doc, result in finished:
                outcome = self._run_again_or_fail(doc, result) if isinstance(result, Lost) else result
                if outcome is None:
                    continue
                del self.in_flight[doc["tid"]]
                self._record(doc, outcome)

    def _run_again_or_fail(self, doc: dict, lost: Lost) -> Outcome | None:
        """A worker died in this trial: submit it again (one more attempt), or
        past the poison-trial limit return its failure."""
        attempts = self.data.attempts.get(doc["tid"], 0)
        if attempts >= self.options.max_attempts:
            return poison_failure(attempts)
        with self.guard.critical():
            self._commit([(journal.STARTED, [doc["tid"]], coarse_utcnow())])
        assert self.progress is not None  # made before the first trial is submitted
        self.progress.say(
            f"Trial (tid {doc['tid']}): {lost.reason}; "
            f"running it again (attempt {attempts + 1} of {self.options.max_attempts})."
        )
        self.evaluator.submit(doc, self._ticket(doc))
        return None

    def _ticket(self, doc: dict) -> TrialTicket:
        tid = doc["tid"]
        return TrialTicket(tid, self.data.starts.get(tid, 1), str(self.path.absolute()), self.search_id)

    def _ask_if_allowed(self) -> dict | None:
        """Ask the algorithm for the next point, unless a stop condition holds."""
        if self.stopped_because or len(self.data.docs) >= self.options.max_evals:
            return None
        if self.options.timeout is not None and time.monotonic() - self.started >= self.options.timeout:
            return None
        threshold = self.options.loss_threshold
        if threshold is not None and self.best_loss is not None and self.best_loss < threshold:
            self.stopped_because = "loss threshold reached"
            return None
        # The same calls, in the same order, as hyperopt.fmin's FMinIter.run.
        new_ids = self.trials.new_trial_ids(1)
        new_docs = self.algo(new_ids, self.domain, self.trials, self.rng.integers(2**31 - 1))
        if not new_docs:
            self.stopped_because = "the algorithm has no more points to try"
            return None
        new_docs = [self.trials.assert_valid_trial(base.SONify(doc)) for doc in new_docs]
        tids = [doc["tid"] for doc in new_docs]
        params = [self.record_params(doc["misc"]["vals"]) for doc in new_docs]
        with self.guard.critical():
            asked = (journal.ASKED, new_docs, self.rng.bit_generator.state, params)
            self._commit([asked, (journal.STARTED, tids, coarse_utcnow())])
            add_to_valid(self.trials, new_docs)
        return new_docs[0]

    def _commit(self, ops: list[tuple], durable: bool = False) -> None:
        """Apply journal operations to the search in memory and append them to the file.

        Every change of the search goes through here (or through a snapshot),
        so what is in memory is what a replay of the file gives.
        """
        for op in ops:
            journal.apply(self.data, op, self.docs_by_tid)
        self.store.append(ops, durable)

    def _record(self, doc: dict, outcome: Outcome) -> None:
        """Write a finished evaluation into its trial and make it durable."""
        with self.guard.critical():
            try:
                finished = self._finished_op(doc, outcome)
            except NotStorable as exc:  # the evaluation is over; only its result cannot be kept
                outcome = failure("NotStorable", f"the result cannot be stored: {exc}", duration=outcome.duration)
                finished = self._finished_op(doc, outcome)
            journal.apply(self.data, tuple(finished), self.docs_by_tid)
            if outcome.failed:
                drop_from_valid(self.trials, doc)
            self.n_finished += 1
            self.space_generators.note(self.n_finished)
            new_best = self._update_best(doc)
            self.unfinished_at_start.discard(doc["tid"])
            if self.options.early_stop_fn is not None and not self.unfinished_at_start:
                # hyperopt's early_stop_fn sees the trials with this one finished,
                # and, like fmin, only once the trials a run starts with (given
                # points, interrupted ones) are all done: it reads the last trial's loss.
                # The state it returns is saved in the same record.
                stop, args = self.options.early_stop_fn(self.trials, *self.data.early_stop_args)
                finished[-1] = self.data.early_stop_args = list(args)
                if stop:
                    self.stopped_because = EARLY_STOPPED
            self.store.append([tuple(finished)], durable=True)
            if self.store.compaction_due():
                self.store.write_snapshot(self.data)
            if new_best:
                self._write_best_file()
        files.clean_up(self.path, doc["tid"])  # its result is durable: its saved state is no longer needed
        self._report(doc, outcome, new_best)
        if outcome.exception is not None and not self.options.catch_eval_exceptions:
            raise outcome.exception
        self._stop_if_always_failing(doc)

    def _finished_op(self, doc: dict, outcome: Outcome) -> list:
        """The journal operation that writes ``outcome`` into its trial (a list:
        its last item, the early-stop state, may still change before it is written).

        Raises :class:`NotStorable` when the result or its attachments cannot
        be stored (checked here, before anything is changed or written).
        """
        payload = journal.finished_payload(outcome.result, outcome.misc_update, outcome.attachments)
        return [journal.FINISHED, doc["tid"], outcome.state, payload, outcome.finished_at, self.data.early_stop_args]

    # -- beginning and end of a run --------------------------------------

    def _begin(self) -> list[dict]:
        """Fail poison trials, record the run's start in a fresh snapshot; return trials to re-run."""
        self.store.remove_stale_temporaries(best_file_path(self.path), owner_path(self.path))
        adopt_old_best_file(self.path)
        self.generators_note = self.space_generators.restore(self.n_finished)
        fill_missing(self.data.params, self.data.docs, self.domain.expr)
        pending = [doc for doc in self.data.docs if is_pending(doc)]
        poisoned = [doc for doc in pending if self.data.attempts.get(doc["tid"], 0) >= self.options.max_attempts]
        for doc in poisoned:
            finished = self._finished_op(doc, poison_failure(self.data.attempts[doc["tid"]]))
            journal.apply(self.data, tuple(finished), self.docs_by_tid)
            drop_from_valid(self.trials, doc)
            self.n_finished += 1
        poisoned_tids = {doc["tid"] for doc in poisoned}
        pending = [doc for doc in pending if doc["tid"] not in poisoned_tids]
        for doc in pending:
            doc["state"] = JOB_STATE_NEW  # it was running when its process stopped
        run = RunRecord(
            started=time.time(),
            host=socket.gethostname(),
            pid=os.getpid(),
            max_evals=self.options.max_evals,
            n_done_at_start=self.n_finished,
        )
        journal.apply(self.data, (journal.RUN_STARTED, vars(run)), {})
        self.run_recorded = True
        self.store.write_snapshot(self.data)
        for doc in poisoned:  # failed, durably: their saved states are no longer needed
            files.clean_up(self.path, doc["tid"])
        if self.best_doc is not None:
            self._write_best_file()
        self.poisoned = poisoned
        if pending:
            self._commit([(journal.STARTED, [doc["tid"] for doc in pending], coarse_utcnow())])
        return pending

    def _end(self, outcome: str, at_once: bool = False) -> None:
        """Stop the trials in flight, record how the run ended and fold the
        journal into one snapshot.  A stop signal from here on is only noted,
        so it cannot cut the end short.  ``at_once``: called from a signal
        handler (see :meth:`_stop_at_once`); the evaluator is left alone, as the
        code it was in may hold its locks, and its workers end with this process."""
        with self.guard.critical():
            self.guard.stop_raising()
            try:
                if not at_once:
                    self.evaluator.cancel_all()
                self._release_started()
                stop_reason = self.stopped_because if outcome in _OUTCOMES_OF_A_STOP else None
                if self.run_recorded:
                    journal.apply(self.data, (journal.RUN_ENDED, time.time(), outcome, stop_reason), {})
                    self.store.write_snapshot(self.data)
            except Exception as exc:  # the run is failing already; keep the first error
                tell(f"resumable-opt: could not record the end of the run: {exc}")
            finally:
                self.store.close()
                if not at_once:
                    self.evaluator.close()
                if self.progress is not None:
                    try:
                        self.progress.close()
                    except (OSError, RuntimeError, ValueError):  # the terminal is gone (SIGHUP)
                        silence_standard_streams()

    def _release_started(self) -> None:
        """Release every trial this run started and did not finish: in flight,
        waiting for a worker, or asked the moment a stop came.  Stopping them was
        our decision, never a death of the process they ran in, so it is not an
        attempt toward ``max_attempts``; each is evaluated again on resume."""
        released = [doc["tid"] for doc in self.data.docs if doc["state"] == JOB_STATE_RUNNING]
        if released:
            journal.apply(self.data, (journal.RELEASED, released), self.docs_by_tid)

    def _stop_at_once(self, signum: int) -> None:
        """A further stop signal while the run is not saving: the first was
        swallowed (an objective's bare ``except:``) or is slow to take effect.
        Called in the signal handler, where no checkpoint write is under way:
        save the end of the run and end the process now, with the status of the
        first signal, whatever the code that was running would do next."""
        first = self.guard.received or signum
        self.guard.acknowledge()
        try:
            self._end(f"interrupted by {signal_name(first)}", at_once=True)
            self._report_interrupted()
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, RuntimeError, ValueError):
                    pass
        finally:
            try:
                if self.release_lock is not None:
                    self.release_lock()  # after the last write: the run is over, and says so
            finally:
                os._exit(exit_status(first))

    def _why_no_more(self) -> str:
        if self.stopped_because:
            return self.stopped_because
        if len(self.data.docs) >= self.options.max_evals:
            return "budget reached"
        return "timeout"

    # -- best so far ------------------------------------------------------

    @property
    def best_loss(self) -> float | None:
        return None if self.best_doc is None else float(self.best_doc["result"]["loss"])

    def _update_best(self, doc: dict) -> bool:
        if not is_ok(doc):
            return False
        self.n_ok += 1
        best_loss = self.best_loss
        if best_loss is None or float(doc["result"]["loss"]) < best_loss:
            self.best_doc = doc
            return True
        return False

    def decoded(self, doc: dict) -> Any:
        stored = self.data.params.get(doc["tid"], {})
        if "point" in stored:
            return stored["point"]
        try:
            return decode(self.domain.expr, doc["misc"]["vals"])
        except Exception:  # a point that does not decode is still shown raw
            return active_values(doc["misc"]["vals"])

    def _write_best_file(self) -> None:
        """Write the best-so-far JSON.  It is a convenience copy: when it cannot
        be written (too many open files, a full disk), the run warns and goes
        on; the checkpoint holds the best trial anyway."""
        doc = self.best_doc
        assert doc is not None  # written only once there is a best
        raw = active_values(doc["misc"]["vals"])
        finished = doc.get("refresh_time")
        loss = float(doc["result"]["loss"])  # the best's: self.best_loss, not None here
        record = best_record(loss, doc["tid"], self.decoded(doc), raw, finished, self.n_finished)
        try:
            write_best_file(self.path, record)
        except CheckpointWriteError as exc:
            print(
                f"resumable-opt: warning: could not write the best-so-far file ({exc.cause}); the checkpoint "
                f"is fine and the run goes on (best loss {format_loss(loss)}, trial {doc['tid']})",
                file=sys.stderr,
            )

    # -- what the user sees ---------------------------------------------

    def _announce(self, pending: list[dict]) -> None:
        assert self.progress is not None  # made before the run announces itself
        if self.torn_bytes:
            self.progress.say(
                f"Note: dropped {self.torn_bytes} bytes at the end of {self.shown} that do not form a whole "
                "record: an append cut short when the run before was killed (no finished trial is lost then: "
                "each is fsynced before the next is asked), or damage to the last record."
            )
        if self.generators_note and self.progress is not None:
            self.progress.say(self.generators_note)
        for doc in self.poisoned:
            self.progress.say(
                f"Trial {doc['tid']} crashed the process {self.options.max_attempts} times; recorded as failed."
            )
        if self.is_new:
            seed = self.data.meta.get("seed")
            self.progress.started_new(self.shown, seed, self.options.max_evals, self.n_finished, len(pending))
        else:
            n_failed = self.n_finished - self.n_ok
            best = self.decoded(self.best_doc) if self.best_doc is not None else None
            budget = self.options.max_evals
            self.progress.resumed(self.shown, self.n_finished, n_failed, self.best_loss, best, len(pending), budget)

    def _report(self, doc: dict, outcome: Outcome, new_best: bool) -> None:
        if not self.options.progress:
            return
        assert self.progress is not None  # made before the first trial runs
        reason = outcome.result.get("failure") if outcome.failed else None
        if not outcome.failed and not is_ok(doc):
            reason = f"status {doc['result'].get('status')!r}"
        loss = doc["result"].get("loss") if reason is None else None
        self.progress.trial_finished(
            self.n_finished, doc["tid"], loss, reason, self.decoded(doc), outcome.duration, new_best, self.best_loss
        )

    def _stop_if_always_failing(self, doc: dict) -> None:
        limit = self.options.stop_after_initial_failures
        if limit and self.n_ok == 0 and self.n_finished >= limit and is_failed(doc):
            raise ObjectiveAlwaysFails(
                self.n_finished, doc["misc"].get("traceback") or doc["result"].get("failure", "")
            )

    def _report_interrupted(self) -> None:
        if self.progress is not None:
            self.progress.interrupted()
        lines = [
            "",
            f"Stopped. {plural(self.n_finished, 'trial')} {'is' if self.n_finished == 1 else 'are'} done "
            f"and saved in {self.shown}.",
            f"Best loss so far: {format_loss(self.best_loss)}"
            + (f"  {format_params(self.decoded(self.best_doc))}" if self.best_doc is not None else ""),
            resume_hint(),
        ]
        tell("\n".join(lines))


EARLY_STOPPED = "early_stop_fn asked to stop"
_OUTCOMES_OF_A_STOP = {"loss threshold reached", EARLY_STOPPED, "the algorithm has no more points to try"}
