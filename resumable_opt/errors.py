"""The exceptions resumable-opt raises at its users.

Every error a user can meet is a subclass of :class:`ResumableOptError`, so a
script can catch them all at once, and the command line turns each into one
line on stderr instead of a traceback.  Each message names the file concerned
and says what to do next.
"""

from __future__ import annotations

import signal
import sys


def _quoted(path: str) -> str:
    """``path`` as a shell word (``shlex.quote``; imported when a message needs it, not by
    every command that might raise: it takes longer to import than to use)."""
    import shlex

    return shlex.quote(path)


class ResumableOptError(Exception):
    """Base class of every error resumable-opt raises on purpose."""


class CheckpointError(ResumableOptError):
    """A checkpoint cannot be used as it is (missing, damaged, foreign, newer)."""

    def __init__(self, path: object, problem: str, advice: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        # Advice may name the file as FILE: give the real command to copy.
        self.advice = advice.replace("FILE", _quoted(self.path))
        text = f"{self.path}: {problem}"
        if self.advice:
            text += f" ({self.advice})"
        super().__init__(text)


class CheckpointNotFound(CheckpointError):
    """The checkpoint file does not exist."""


class CheckpointCorrupt(CheckpointError):
    """The checkpoint exists but its content is damaged or is not a checkpoint."""


class CheckpointUndecodable(CheckpointError):
    """Every record of the checkpoint is intact, yet it cannot be decoded here.

    Not damage: nothing is to be recovered (see ``verify``)."""


class CheckpointVersionError(CheckpointError):
    """The checkpoint was written by a newer, incompatible format version."""


class CheckpointLocked(ResumableOptError):
    """Another process is running a search on this checkpoint."""

    def __init__(self, path: object, owner: dict | None) -> None:
        self.path = str(path)
        self.owner = owner or {}
        who = describe_owner(self.owner)
        super().__init__(
            f"{self.path} is in use by another run ({who}); wait for it to finish or stop it, then run again"
        )


class LockLost(ResumableOptError):
    """The run's lock file was deleted and another run took the checkpoint: this run writes no more."""

    def __init__(self, path: object) -> None:
        self.path = str(path)
        super().__init__(
            f"{self.path}: its lock file was deleted during this run and another run has taken the "
            "checkpoint since; this run stopped without writing more (never delete the .lock file "
            "of a checkpoint in use)"
        )


class SpaceMismatch(ResumableOptError):
    """A resumed search was given a different search space than its checkpoint."""

    def __init__(self, path: object, differences: list[str]) -> None:
        self.path = str(path)
        self.differences = differences
        listing = "; ".join(differences)
        super().__init__(
            f"{self.path}: the search space differs from the one stored in the "
            f"checkpoint: {listing}. Nothing was written. Use the original space, or go on "
            "with the new space in a new checkpoint that keeps every trial that fits it: "
            f"resumable-opt fork {_quoted(self.path)} NEW.ckpt --space FILE.py:NAME "
            "(or resumable_opt.fork(old, new, space=...))"
        )


class SeedMismatch(ResumableOptError):
    """A resumed search was given another seed than the one it was started with."""


class ObjectiveAlwaysFails(ResumableOptError):
    """The objective failed on every one of the first trials of a search."""

    def __init__(self, n_failed: int, error: str) -> None:
        self.n_failed = n_failed
        #: The last failure in full (the objective's traceback text).
        self.error = error
        lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else "unknown error"
        frames = [line for line in lines if line.startswith("File ")]
        where = f" ({frames[-1]})" if frames else ""
        super().__init__(
            f"the objective failed on each of the first {n_failed} trials, so the search was "
            f"stopped: {last}{where}. Fix the objective and run again; each failed trial keeps "
            "its full traceback (trial['misc']['traceback'])"
        )


class CheckpointWriteError(ResumableOptError):
    """Writing the checkpoint failed (disk full, file-size limit, I/O error)."""

    def __init__(self, path: object, action: str, cause: BaseException) -> None:
        self.path = str(path)
        #: The OSError behind it.
        self.cause = cause
        super().__init__(
            f"{self.path}: could not {action}: {cause}. The checkpoint keeps every "
            "trial recorded before this; free some space or fix the cause, then run "
            "again to resume"
        )


def describe_owner(owner: dict) -> str:
    """A short human description of a lock owner record."""
    if not owner:
        return "owner unknown"
    parts = [f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"]
    if owner.get("since"):
        parts.append(f"since {owner['since']}")
    return ", ".join(parts)


class SearchInterrupted(SystemExit):
    """Raised by ``minimize``/``fmin`` stopped by Ctrl-C (SIGINT), SIGTERM or
    SIGHUP: after the run saved, or before it began (the checkpoint unchanged).

    It is a :class:`SystemExit`, so a script that does not catch it ends
    quietly with the shell's conventional status (130 for SIGINT, 143 for
    SIGTERM, 129 for SIGHUP) instead of a traceback; a wrapper can catch it.
    In IPython (Jupyter, the IPython shell) :class:`SearchInterruptedInteractive`
    is raised instead; ``except resumable_opt.INTERRUPTED`` catches both.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(128 + signum)


class SearchInterruptedInteractive(KeyboardInterrupt):
    """:class:`SearchInterrupted`, in IPython: a run stopped by the kernel's
    interrupt (or Ctrl-C, SIGTERM), after it saved.

    A :class:`KeyboardInterrupt`, so the cell ends as any interrupted cell
    does (IPython takes a ``SystemExit`` for an attempt to quit), and the
    kernel goes on: the next cell can ``load()`` the search or resume it.
    ``code`` is the exit status a script would have had (130, 143).
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.code = 128 + signum
        super().__init__(f"the search was stopped by {_signal_name(signum)} after saving; run the cell again to resume")


#: Both exceptions a stopped run raises, for ``except resumable_opt.INTERRUPTED:``.
INTERRUPTED = (SearchInterrupted, SearchInterruptedInteractive)


def in_ipython() -> bool:
    """True when this code runs under IPython (a Jupyter kernel, the IPython shell)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get is not None and get() is not None


def search_interrupted(signum: int) -> BaseException:
    """The exception a run stopped by ``signum`` raises here (see :class:`SearchInterrupted`)."""
    return SearchInterruptedInteractive(signum) if in_ipython() else SearchInterrupted(signum)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
