"""Stop signals (Ctrl-C, SIGTERM, SIGHUP) as a controlled stop that never lands in a write.

Standard library only, so that the command line can install a guard on its
first line, before anything heavy is imported.

While an :class:`InterruptGuard` is installed (the whole of every CLI command,
the whole of a ``minimize``/``fmin`` call):

* the first stop signal raises :class:`Interrupt` in the main thread, wherever
  it is (an import, the objective, the algorithm, our code), except inside
  :meth:`InterruptGuard.critical` blocks (where a checkpoint is written): there
  it is only noted, and raised when the block ends.  A write is never cut short;
* a stop is never lost: code that swallows the :class:`Interrupt` (an objective
  with a bare ``except:``) only delays it to the next
  :meth:`InterruptGuard.raise_if_stopped`, where the runner takes control back;
* a further stop signal while nothing is being saved calls ``on_repeat`` (the
  runner saves the end of the run and ends the process at once), or raises
  :class:`Interrupt` again when there is none; while the end of a run is being
  saved (:meth:`InterruptGuard.stop_raising`) it is ignored: the save finishes;
* whoever acts on the stop calls :meth:`InterruptGuard.acknowledge`; a signal
  noted and never acted upon (it came while a run that ended by itself was
  saving) is still there in :attr:`InterruptGuard.pending` for the caller.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
from contextlib import contextmanager

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

#: Ctrl-C, a polite kill (and systemd, Slurm, Kubernetes, ``timeout``), and a
#: hang-up (SSH connection dropped, terminal or tmux session closed).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def exit_status(signum: int) -> int:
    """The shell's status for a process stopped by ``signum``: 130, 143, 129."""
    return 128 + signum


class Interrupt(KeyboardInterrupt):
    """A stop signal arrived.

    A ``KeyboardInterrupt`` for SIGTERM and SIGHUP too, so that code which
    cleans up on Ctrl-C does the same for them, and ``except Exception`` (in an
    objective, in hyperopt) cannot swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal_name(self.signum)


class InterruptGuard:
    """Installs the stop-signal handlers for the duration of a ``with`` block; see the module doc.

    Re-entrant: entering a guard that is already installed (``minimize``
    installs it, the run enters it again) changes nothing.  Handlers can only
    be set from the main thread; elsewhere the guard does nothing and the
    process keeps its own handling of signals.  A signal the process ignores
    when the guard is installed (under ``nohup``) stays ignored.
    """

    #: The guard whose handlers are installed, if any (main thread only).
    _installed: InterruptGuard | None = None

    def __init__(self, on_repeat: Callable[[int], None] | None = None) -> None:
        #: The first stop signal received, or None.
        self.received: int | None = None
        #: Called, from the signal handler, for a further stop signal while
        #: nothing is being saved.
        self.on_repeat = on_repeat
        self._depth = 0
        self._saving = False
        self._acknowledged = False
        self._entered = 0
        self._previous: dict[int, Any] = {}
        self._outer: InterruptGuard | None = None
        #: The main thread's id while this guard is installed, else None.
        self._thread: int | None = None

    @classmethod
    def installed(cls) -> InterruptGuard | None:
        """The guard installed by the innermost ``with`` in the main thread, or None (in any other thread)."""
        guard = cls._installed
        return guard if guard is not None and guard._thread == _thread.get_ident() else None

    def __enter__(self) -> InterruptGuard:
        self._entered += 1
        if self._entered == 1:
            # Which thread this is, signal.signal says: it raises ValueError outside the main
            # thread.  Not threading: importing it takes 1 ms of the 50 that `resumable-opt best` may.
            try:
                for signum in STOP_SIGNALS:
                    # An ignored signal stays ignored: ``nohup`` (SIGHUP), a
                    # background job of a script (SIGINT) asked for exactly that.
                    if signal.getsignal(signum) is not signal.SIG_IGN:
                        self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: the first signal.signal call raised, none was set
                return self
            if self._previous:  # (with every stop signal ignored there is nothing to guard)
                self._outer, InterruptGuard._installed = InterruptGuard._installed, self
                self._thread = _thread.get_ident()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._entered -= 1
        if self._entered == 0 and self._thread is not None:
            self._thread = None
            InterruptGuard._installed, self._outer = self._outer, None
            for signum, handler in self._previous.items():
                # None: a handler set outside Python, which cannot be put back.
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)
            self._previous.clear()

    @property
    def pending(self) -> int | None:
        """A stop signal received and not acted upon yet, or None."""
        return None if self._acknowledged else self.received

    def _handle(self, signum: int, frame: object) -> None:
        free = self._depth == 0 and not self._saving
        if self.received is None:
            self.received = signum
            if free:
                raise Interrupt(signum)
        elif free:
            # The first one was swallowed, or is slow to take effect: stop now.
            if self.on_repeat is not None:
                self.on_repeat(signum)
            raise Interrupt(self.received)

    def raise_if_stopped(self) -> None:
        """Raise :class:`Interrupt` if a stop signal came and was not acted upon:
        called where the runner takes control back from code that may have
        swallowed it."""
        if self.received is not None and self._depth == 0 and not self._saving and not self._acknowledged:
            raise Interrupt(self.received)

    def acknowledge(self) -> None:
        """The stop is being acted upon (saved, reported): it is not pending any more."""
        self._acknowledged = True

    def stop_raising(self) -> None:
        """From now on a stop signal is only noted: the run is saving its end."""
        self._saving = True

    @contextmanager
    def critical(self) -> Iterator[None]:
        """A block that a stop signal must not cut short."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        self.raise_if_stopped()


def tell(text: str) -> None:
    """Print ``text`` on stderr, whatever state the terminal is in.

    After a hang-up the terminal is gone and writing to it fails (EIO); then
    stdout and stderr are pointed at /dev/null, so that nothing later (the
    flush at exit included) fails for it and the exit status stays the one
    chosen.  A write interrupted by the signal handler itself (a reentrant
    call) is dropped the same way.
    """
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, RuntimeError, ValueError):
        silence_standard_streams()


def silence_standard_streams() -> None:
    """Point file descriptors 1 and 2 at /dev/null (their writers keep working, unseen)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, AttributeError, ValueError):
            pass
    os.close(devnull)
