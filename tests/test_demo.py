"""The demo: the README's main command."""

import os
import signal
import subprocess
import sys
import time


def demo(cwd, *args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "resumable_opt", "demo", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_for(condition, process, timeout=120):
    """Wait for an observable event, not for a time: a loaded machine may take long to get there."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the demo ended first: {process.communicate()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_demo_runs_is_interrupted_and_resumes(tmp_path):
    # The README's command: the console script, found on PATH.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    first = subprocess.Popen(
        ["resumable-opt", "demo", "--max-evals", "12", "--delay", "0.2"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PATH": path},
    )  # fmt: skip
    # The best-so-far file is written once the first trial is saved: the search is under way.
    wait_for((tmp_path / "checkpoints" / "demo.ckpt.best.json").exists, first)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130 and "Traceback" not in err
    assert "To resume, run the same command again: resumable-opt demo --max-evals 12 --delay 0.2\n" in err

    second = demo(tmp_path, "--max-evals", "12", "--delay", "0.01")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "Resuming checkpoints/demo.ckpt" in err
    assert "best parameters: learning_rate=0.1 " in out  # decoded, not the index 1
    assert (tmp_path / "checkpoints" / "demo.ckpt.best.json").exists()
