"""Running ``long_search.py`` in child processes, and what its checkpoint and epoch log say."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import resumable_opt
from processes import process_gone as process_gone

HERE = Path(__file__).parent
LONG_SEARCH = HERE / "long_search.py"


def epochs(log: Path) -> list[tuple[int, int, int, int]]:
    """(tid, attempt, epoch, pid) of every epoch started, in order."""
    if not log.exists():
        return []
    return [tuple(map(int, line.split())) for line in log.read_text().splitlines() if line.strip()]


def start(checkpoint: Path, max_evals: int, log: Path, *extra: str) -> subprocess.Popen:
    """The search in a child process; its stderr goes to a file (``proc.stderr_path``), not a
    pipe, which the worker processes it starts would hold open after it is killed."""
    command = [sys.executable, str(LONG_SEARCH), str(checkpoint), str(max_evals), str(log), *extra]
    stderr_path = log.with_name(f"{log.name}.stderr-{time.monotonic_ns()}")
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    proc.stderr_path = stderr_path
    return proc


def stderr_of(proc: subprocess.Popen) -> str:
    return proc.stderr_path.read_text()


def run(checkpoint: Path, max_evals: int, log: Path, *extra: str, timeout: float = 300) -> None:
    proc = start(checkpoint, max_evals, log, *extra)
    proc.wait(timeout=timeout)
    assert proc.returncode == 0, stderr_of(proc)


def interrupt_when(proc: subprocess.Popen, log: Path, n_epochs: int, signum: int, timeout: float = 120) -> int:
    """Send ``signum`` once ``n_epochs`` epochs have started (the signal lands in an epoch); return the exit status."""
    deadline = time.monotonic() + timeout
    while len(epochs(log)) < n_epochs:
        if proc.poll() is not None:
            raise AssertionError(f"the search ended before epoch {n_epochs} ({proc.returncode}): {stderr_of(proc)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for epoch {n_epochs}")
        time.sleep(0.005)
    proc.send_signal(signum)
    proc.wait(timeout=timeout)
    if signum == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in stderr_of(proc), stderr_of(proc)
    # worker processes left by a killed runner exit by themselves; wait for them
    others = {pid for *_, pid in epochs(log)} - {proc.pid}
    while not all(process_gone(pid) for pid in others):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the workers of the killed runner to exit")
        time.sleep(0.02)
    return proc.returncode


def history(checkpoint: Path) -> list[tuple]:
    """The search as data: each trial's point, result and intermediate values."""
    state = resumable_opt.load(checkpoint)
    return [
        (doc["tid"], doc["misc"]["vals"], doc["state"], doc["result"], state.intermediate(doc["tid"]))
        for doc in state.trials._dynamic_trials
    ]
