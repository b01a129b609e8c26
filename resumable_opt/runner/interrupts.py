"""Ctrl-C and SIGTERM as a controlled stop that never lands in a write.

While a run is going, SIGINT and SIGTERM raise :class:`Interrupt` in the main
thread, wherever it is (in the objective, in the algorithm, in our code), so
the run can stop promptly.  Inside :meth:`InterruptGuard.critical` blocks, the
places where the checkpoint is written, the signal is only noted and raised
when the block ends: a checkpoint write is never cut short by a signal, and a
second Ctrl-C during the final save is noted and ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupt(BaseException):
    """A stop signal arrived.  A BaseException, so ``except Exception`` in an
    objective or in hyperopt cannot swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class InterruptGuard:
    """Installs the stop-signal handlers for the duration of a ``with`` block."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._depth = 0
        self._stopping = False
        self._previous: dict[int, signal._HANDLER] = {}  # what signal.signal() returned

    def __enter__(self) -> InterruptGuard:
        # Signal handlers can only be set from the main thread; elsewhere the
        # run keeps the process's own handling of signals.
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is not None:
            return  # a second signal while we already stop: the first one wins
        self.received = signum
        if self._depth == 0:
            self._stopping = True
            raise Interrupt(signum)

    def stop_raising(self) -> None:
        """From now on a stop signal is only noted: the run is saving its end."""
        self._stopping = True

    @contextmanager
    def critical(self) -> Iterator[None]:
        """A block that a stop signal must not cut short."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self.received is not None and not self._stopping:
            self._stopping = True
            raise Interrupt(self.received)
