"""Helpers for the tests of parallel evaluation: a runner with several trials in
flight in a child process (``pool_search.py``), and what its log says."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from processes import process_gone as process_gone
from processes import wait_until as wait_until

HERE = Path(__file__).parent
POOL_SEARCH = HERE / "pool_search.py"


def calls(log: Path) -> list[dict]:
    """The evaluations the objective started, in order: {"params": ..., "pid": ...}."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def returned(log: Path) -> list[dict]:
    """The evaluations that ran to their end (not stopped midway), in order, as :func:`calls` gives them."""
    return calls(Path(f"{log}.returned"))


class PoolSearch:
    def __init__(self, checkpoint: Path, max_evals: int, log: Path, *extra: str, env: dict | None = None) -> None:
        args = [sys.executable, str(POOL_SEARCH), str(checkpoint), str(max_evals), "--log", str(log), *map(str, extra)]
        self.log = log
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def wait_for_calls(self, count: int, timeout: float = 60) -> list[dict]:
        def enough() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"search ended early ({self.proc.returncode}): {self.proc.stderr.read()}")
            return len(calls(self.log)) >= count

        wait_until(enough, timeout, f"{count} evaluations to start")
        return calls(self.log)

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err


# Registered as "pool_search"; test modules import it as pool_search_fixture, so that the
# tests' parameter named after the fixture does not shadow an imported name.
@pytest.fixture(name="pool_search")
def pool_search_fixture():
    started = []

    def start(*args, **kwargs) -> PoolSearch:
        search = PoolSearch(*args, **kwargs)
        started.append(search)
        return search

    yield start
    for search in started:
        if search.proc.poll() is None:
            search.proc.kill()
            search.proc.wait()


def run_pool_search(*args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, str(POOL_SEARCH), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


os.environ.setdefault("PYTHONHASHSEED", "0")
