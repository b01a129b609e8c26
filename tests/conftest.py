import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))

from terminal import screens  # noqa: E402, F401  (a fixture: a real terminal of a given size)


class SearchProcess:
    """A search running in a child process (``tests/searches.py``), for real signals."""

    def __init__(self, checkpoint: Path, max_evals: int, *extra: str) -> None:
        self.args = [sys.executable, str(TESTS / "searches.py"), str(checkpoint), str(max_evals), *extra]
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_log_lines(self, log: Path, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= count:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"search ended early ({self.proc.returncode}): {self.proc.stderr.read()}")
            time.sleep(0.01)
        raise AssertionError("timed out waiting for the search")

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


@pytest.fixture
def start_search():
    started = []

    def start(checkpoint, max_evals, *extra):
        search = SearchProcess(checkpoint, max_evals, *extra)
        started.append(search)
        return search

    yield start
    for search in started:
        if search.proc.poll() is None:
            search.proc.send_signal(signal.SIGKILL)
            search.proc.wait()


@pytest.fixture
def ckpt(tmp_path):
    return tmp_path / "search.ckpt"


def run_search(*args, timeout=120, **kwargs):
    """Run ``tests/searches.py`` to completion."""
    return subprocess.run(
        [sys.executable, str(TESTS / "searches.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


os.environ.setdefault("PYTHONHASHSEED", "0")
