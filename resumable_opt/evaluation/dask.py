"""Evaluation on a Dask cluster, or on any ``concurrent.futures.Executor``:
``minimize(..., executor=X)``.

A ``dask.distributed.Client`` is used through its own ``concurrent.futures``
face (``Client.get_executor``), so Dask does all the distribution: where a
trial runs, moving it off a worker that was lost.  The runner stays the only
owner of the checkpoint; workers only compute outcomes
(:func:`~resumable_opt.evaluation.remote.evaluate_packed`), so every worker
needs ``resumable-opt`` installed, and whatever the objective imports.

What can and cannot be stopped: a Dask future is cancelled (on Ctrl-C or past
``trial_timeout``), but Python cannot stop a thread that already runs the
objective, so a Dask worker finishes such an evaluation in the background and
its result is ignored.  A lost Dask worker: Dask itself runs the task again
elsewhere, up to the scheduler's ``distributed.scheduler.allowed-failures``
times, and then reports ``KilledWorker``; resumable-opt counts each such report
as one attempt of the poison-trial limit and submits the trial again.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
import uuid
from typing import Any

from hyperopt import base

from ..trial import TrialTicket
from .futures import FuturesEvaluator
from .outcome import evaluate
from .remote import evaluate_installed, evaluate_packed

#: How long the number of threads of a Dask cluster is trusted before asking again.
_CAPACITY_REFRESH_SECONDS = 2.0


def is_dask_client(executor: Any) -> bool:
    """Whether ``executor`` is a ``dask.distributed.Client`` (without importing Dask)."""
    return type(executor).__module__.startswith("distributed") and hasattr(executor, "get_executor")


class ExecutorEvaluator(FuturesEvaluator):
    """Trials run by ``executor``: a Dask Client or a ``concurrent.futures.Executor``.

    ``n_jobs`` caps the trials in flight; without it, the cap is the Dask
    cluster's total number of worker threads (asked again every few seconds,
    so workers that join later are used), or the executor's ``max_workers``.
    The executor belongs to the caller: it is never shut down here.
    """

    def __init__(
        self, domain: base.Domain, executor: Any, n_jobs: int | None = None, trial_timeout: float | None = None
    ) -> None:
        # Threads of this process need no pickled objective.
        self._in_this_process = isinstance(executor, cf.ThreadPoolExecutor)
        super().__init__(domain, trial_timeout, other_processes=not self._in_this_process)
        self._client = executor if is_dask_client(executor) else None
        if self._client is not None:
            from distributed import KilledWorker

            self.lost_errors = (*self.lost_errors, KilledWorker)
            # pure=False: a trial run again must be a new task, never a cached result.
            executor = self._client.get_executor(pure=False)
        self._executor = executor
        #: On Dask, the objective and the space go to each worker once, by a
        #: worker plugin under this name; a trial's task then only names them.
        self._plugin: str | None = None
        if self._client is not None:
            self._plugin = f"resumable-opt-objective-{uuid.uuid4().hex}"
            register = getattr(self._client, "register_plugin", None) or self._client.register_worker_plugin
            from .dask_plugin import InstallObjective

            register(InstallObjective(self._plugin, self.payload), name=self._plugin)
        self._n_jobs = n_jobs
        self._capacity: tuple[float, int] | None = None

    @property
    def capacity(self) -> int:  # type: ignore[override]
        if self._n_jobs is not None:
            return self._n_jobs
        if self._client is None:
            return max(1, getattr(self._executor, "_max_workers", 1))
        now = time.monotonic()
        if self._capacity is None or now - self._capacity[0] > _CAPACITY_REFRESH_SECONDS:
            threads = sum(self._client.nthreads().values())
            self._capacity = (now, max(1, threads))
        return self._capacity[1]

    def _report_host(self) -> str:
        """The address of this machine that the Dask workers can reach: the one it
        talks to the scheduler from (override with RESUMABLE_OPT_REPORT_HOST)."""
        chosen = os.environ.get("RESUMABLE_OPT_REPORT_HOST")
        if chosen:
            return chosen
        if self._client is None:
            return super()._report_host()
        from distributed.comm import parse_address, parse_host_port
        from distributed.utils import get_ip

        protocol, location = parse_address(self._client.scheduler.address)
        if protocol not in ("tcp", "tls"):
            return super()._report_host()
        host, _ = parse_host_port(location)
        return "127.0.0.1" if host in ("127.0.0.1", "localhost", "::1") else get_ip(host)

    def _start(self, doc: dict, ticket: TrialTicket | None) -> cf.Future:
        if self._in_this_process:
            return self._executor.submit(evaluate, self.domain, None, doc, ticket)
        if self._plugin is not None:
            return self._executor.submit(evaluate_installed, self._plugin, doc, ticket)
        return self._executor.submit(evaluate_packed, self.payload, doc, ticket)

    def _stop(self, future: cf.Future) -> None:
        future.cancel()  # on Dask, this cancels the Dask future too

    def close(self) -> None:
        if self._plugin is not None and self._client is not None:
            try:  # the workers let go of the objective; the cluster may be gone already
                self._client.unregister_worker_plugin(self._plugin)
            except Exception:
                pass
            self._plugin = None
