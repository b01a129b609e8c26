"""Waiting on real processes in tests: for an observable event, never for a fixed time."""

from __future__ import annotations

import subprocess
import time


def wait_until(condition, timeout: float = 90, what: str = "a condition", proc: subprocess.Popen | None = None) -> None:
    """Return once ``condition()`` holds; fail after ``timeout`` seconds, or at once if ``proc`` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the process ended ({proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def process_gone(pid: int) -> bool:
    """The process no longer runs (it does not exist, or it is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
