"""How a trial running in another process reports to the runner, and hears back.

Only the runner writes the checkpoint, and only the runner knows every
trial's intermediate values, so ``report(step, value)`` in a worker process
(``n_jobs``) or on a Dask worker is a question to the runner: it records the
value durably in the checkpoint, asks the pruner, and answers with the
decision.  The runner listens on a TCP socket (:class:`ReportServer`);
workers connect to it with the address and key they get with each trial
(:class:`RemoteReporter`).  Connections are authenticated with a random key
made per run (``multiprocessing.connection``'s HMAC challenge), so nothing else
can talk to it.

All checkpoint writing stays in the runner's main thread: the server's
threads only receive messages, put them in an inbox and wake the main thread
(:attr:`ReportServer.wakeup`, a future it waits on beside the trials' own),
which answers them (:meth:`ReportServer.serve`).
"""

from __future__ import annotations

import concurrent.futures as cf
import queue
import secrets
import threading
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from ..errors import ResumableOptError

#: A reporter: (tid, attempt, step, value) -> the answer (see :func:`answer_or_raise`).
Reporter = Callable[[int, int, int, float], Any]


class ReportServer:
    """The runner's side; see the module doc."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.authkey = secrets.token_bytes(32)
        self._listener = Listener((host, 0), family="AF_INET", authkey=self.authkey)
        self.address: tuple[str, int] = self._listener.address
        self._inbox: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self.wakeup: cf.Future = cf.Future()
        threading.Thread(target=self._accept, daemon=True, name="resumable-opt-reports").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except Exception:  # closed, or a client that failed the authentication
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True, name="resumable-opt-report").start()

    def _talk(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    return
                reply: queue.Queue = queue.Queue(maxsize=1)
                self._inbox.put((message, reply))
                with self._lock:
                    if not self.wakeup.done():
                        self.wakeup.set_result(None)
                answer = reply.get()
                try:
                    conn.send(answer)
                except OSError:
                    return

    def serve(self, reporter: Reporter) -> None:
        """Answer every report waiting (in the runner's main thread)."""
        with self._lock:
            self.wakeup = cf.Future()
        while True:
            try:
                message, reply = self._inbox.get_nowait()
            except queue.Empty:
                return
            try:
                answer = reporter(*message)
            except BaseException:
                reply.put(("error", "the runner stopped while recording this report"))
                raise
            reply.put(answer)

    def close(self) -> None:
        """Stop listening; a report still waiting gets a refusal rather than no answer."""
        self._closed = True
        self._listener.close()
        self.serve(lambda *message: ("error", "the run has stopped"))


class RemoteReporter:
    """A worker's side: one connection per trial, opened at its first report."""

    def __init__(self, address: tuple[str, int], authkey: bytes) -> None:
        self.address = (str(address[0]), int(address[1]))
        self.authkey = authkey
        self._conn: Connection | None = None

    def __call__(self, tid: int, attempt: int, step: int, value: float) -> Any:
        try:
            if self._conn is None:
                self._conn = Client(self.address, family="AF_INET", authkey=self.authkey)
            self._conn.send((tid, attempt, step, value))
            return self._conn.recv()
        except (OSError, EOFError) as exc:
            host, port = self.address
            raise ResumableOptError(
                f"cannot reach the runner at {host}:{port} to report ({type(exc).__name__}: {exc}): the run has "
                "stopped, or this worker (on another machine of a Dask cluster?) cannot open a connection to it"
            ) from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def answer_or_raise(answer: Any) -> bool:
    """The pruning decision in a runner's answer; its refusal as an error."""
    kind, detail = answer
    if kind == "error":
        raise ResumableOptError(f"the runner refused the report: {detail}")
    return bool(detail)
