"""Evaluation in local worker processes: ``minimize(..., n_jobs=K)``.

Each of the K slots is a one-process ``concurrent.futures.ProcessPoolExecutor``
whose worker is forked by a fork server (a clean process that never inherits the
runner's threads or locks; hyperopt is preloaded in the fork server, so
replacing a worker is quick).  One process per executor is what makes a single
trial stoppable: a worker past ``trial_timeout``, or all of them on Ctrl-C, is
killed and only its own slot is replaced; a worker that dies on its own breaks
only its own executor, and the runner runs that trial again.

The fork server is the pool's own, not the one that
``multiprocessing.get_context("forkserver")`` shares with the rest of the
program: the program's own forkserver processes get none of what follows.

Stop signals are the runner's alone to act on: a Ctrl-C, a hang-up (SSH
dropped, terminal or tmux closed: the shell sends SIGHUP to the whole job) or a
SIGTERM sent to the process group must not kill a worker before the runner has
decided, or the trial would count as a death toward ``max_attempts``.  So the
fork server is started with those signals blocked (it and every worker forked
from it begin life deaf to them), and each worker, before it unblocks them,
moves into a session of its own (away from the terminal and its process group)
and drops any that came meanwhile.  Workers also ignore SIGINT, and exit by
themselves within half a second of the runner's death, so a killed runner
leaves no worker behind.
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.popen_forkserver
import multiprocessing.resource_tracker
import multiprocessing.util
import os
import signal
import threading
import time
from multiprocessing import reduction, spawn

from hyperopt import base

from ..errors import ResumableOptError
from ..trial import TrialTicket
from .base import Lost
from .futures import FuturesEvaluator
from .outcome import Outcome
from .remote import evaluate_installed, install

#: The name the objective is installed under in a local worker (one search per worker process).
_LOCAL = "local"

#: How often a worker checks that the runner still exists.
_RUNNER_POLL_SECONDS = 0.5


#: What a terminal sends to its foreground process group (Ctrl-C, hang-up) and
#: a supervisor to every process of a job (SIGTERM): the runner's to act on.
_GROUP_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _start_worker(runner_pid: int, payload: bytes) -> None:
    """Initializer of each worker process; see the module doc.  The objective
    and the space (``payload``) come once, here, not with every trial."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.setsid()
    except OSError:  # already a session leader (a fork server not started by us)
        pass
    for signum in signal.sigpending() & _GROUP_STOP_SIGNALS:
        signal.sigwait({signum})  # sent to the group the worker has just left: not for it
    # Unblocked, so that the objective's own subprocesses get the usual signals.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _GROUP_STOP_SIGNALS)

    def exit_when_the_runner_is_gone() -> None:
        # Not the parent: that is the fork server, which lives as long as any worker.
        while True:
            try:
                os.kill(runner_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            time.sleep(_RUNNER_POLL_SECONDS)

    threading.Thread(target=exit_when_the_runner_is_gone, daemon=True, name="exit-with-the-runner").start()
    install(_LOCAL, payload)


#: The pool's own fork server (multiprocessing's code, a server process of our own).
_FORK_SERVER = multiprocessing.forkserver.ForkServer()
# Import hyperopt (with remote) and this module (a worker unpickles its _Process) once in the
# fork server rather than in every worker.  Not "__main__": a script without a main guard would
# then run its search in the fork server; in a worker it fails, and ProcessEvaluator._outcome says why.
_FORK_SERVER.set_forkserver_preload([__name__])


def _ensure_fork_server() -> None:
    """Start the pool's fork server (if it does not run) with the group's stop
    signals blocked: it keeps them blocked, and the workers it forks inherit that."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _GROUP_STOP_SIGNALS)
    try:
        # The fork server starts multiprocessing's resource tracker first, which
        # unblocks SIGINT and SIGTERM once it has started: so start it here.
        multiprocessing.resource_tracker.ensure_running()
        signal.pthread_sigmask(signal.SIG_BLOCK, _GROUP_STOP_SIGNALS)
        _FORK_SERVER.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Popen(multiprocessing.popen_forkserver.Popen):
    """multiprocessing's forkserver ``Popen``, asking the pool's fork server for the process."""

    def _launch(self, process_obj: multiprocessing.process.BaseProcess) -> None:
        # CPython's popen_forkserver.Popen._launch (the same in 3.10 to 3.13 and in CPython's
        # main branch), with _FORK_SERVER where it has the module's shared server.
        prep_data = spawn.get_preparation_data(process_obj._name)  # type: ignore[attr-defined]
        buf = io.BytesIO()
        multiprocessing.context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            multiprocessing.context.set_spawning_popen(None)
        self.sentinel, w = _FORK_SERVER.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        # A duplicate of the data pipe's write end: the child's sentinel of its parent.
        parent_w = os.dup(w)
        close_fds = multiprocessing.util.close_fds  # type: ignore[attr-defined]
        self.finalizer = multiprocessing.util.Finalize(self, close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as pipe:
            pipe.write(buf.getbuffer())
        self.pid = multiprocessing.forkserver.read_signed(self.sentinel)


class _Process(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: multiprocessing.process.BaseProcess) -> _Popen:
        return _Popen(process_obj)


class _Context(multiprocessing.context.ForkServerContext):
    """The ``forkserver`` start method, with the pool's own fork server."""

    Process = _Process


def refuse_in_worker_bootstrap() -> None:
    """Called by ``minimize``: refuse to run a search while a worker process
    imports the main script (a script without ``if __name__ == "__main__":``)."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ResumableOptError(WORKERS_IMPORT_THE_SCRIPT)


WORKERS_IMPORT_THE_SCRIPT = (
    "with n_jobs or trial_timeout, worker processes start by importing the script that runs the "
    "search, as Python's multiprocessing does: put the code that calls minimize under "
    '`if __name__ == "__main__":`'
)


class ProcessEvaluator(FuturesEvaluator):
    """Up to ``n_jobs`` trials at once, each in its own local worker process."""

    def __init__(self, domain: base.Domain, n_jobs: int, trial_timeout: float | None = None) -> None:
        super().__init__(domain, trial_timeout)
        self.capacity = n_jobs
        self._context = _Context()
        self._slots: list[cf.ProcessPoolExecutor | None] = [None] * n_jobs
        #: The trial each slot runs (or ran last).
        self._slot_futures: list[cf.Future | None] = [None] * n_jobs
        #: A no-op each new worker runs first: it tells a worker that could
        #: not start from one that died in a trial.
        self._first_tasks: list[cf.Future | None] = [None] * n_jobs
        # Start the workers now, while the runner gets ready and asks for points.
        try:
            for index in range(n_jobs):
                self._executor(index)
        except BaseException:  # a stop signal while they start: none is left behind
            self.cancel_all()
            raise

    def _executor(self, index: int) -> cf.ProcessPoolExecutor:
        executor = self._slots[index]
        if executor is None:
            _ensure_fork_server()
            executor = self._slots[index] = cf.ProcessPoolExecutor(
                max_workers=1, mp_context=self._context, initializer=_start_worker, initargs=(os.getpid(), self.payload)
            )
            self._first_tasks[index] = executor.submit(int)
        return executor

    def _outcome(self, future: cf.Future) -> Outcome | Lost:
        outcome = super()._outcome(future)
        if isinstance(outcome, Lost) and future in self._slot_futures:
            first_task = self._first_tasks[self._slot_futures.index(future)]
            if first_task is not None and first_task.exception() is not None:
                raise ResumableOptError(
                    "the worker processes stopped before they could evaluate anything (see their error above): "
                    f"{WORKERS_IMPORT_THE_SCRIPT}"
                )
        return outcome

    def _start(self, doc: dict, ticket: TrialTicket | None) -> cf.Future:
        index = next(index for index, future in enumerate(self._slot_futures) if future is None or future.done())
        try:
            future = self._executor(index).submit(evaluate_installed, _LOCAL, doc, ticket)
        except cf.BrokenExecutor:  # its worker died: a new one takes its place
            self._kill_slot(index)
            future = self._executor(index).submit(evaluate_installed, _LOCAL, doc, ticket)
        self._slot_futures[index] = future
        return future

    def _stop(self, future: cf.Future) -> None:
        if future in self._slot_futures:
            index = self._slot_futures.index(future)
            self._slot_futures[index] = None
            self._kill_slot(index)

    def _kill_slot(self, index: int) -> None:
        executor, self._slots[index] = self._slots[index], None
        if executor is None:
            return
        # Python 3.14 has executor.kill_workers(); before it, only _processes
        # tells which process belongs to an executor.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def cancel_all(self) -> None:
        super().cancel_all()
        for index in range(self.capacity):
            self._kill_slot(index)
        self._slot_futures = [None] * self.capacity

    def close(self) -> None:
        super().close()
        for executor in self._slots:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self._slots = [None] * self.capacity
