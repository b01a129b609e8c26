"""``resumable-opt watch``: a live view in a real terminal (tmux), plain lines in a pipe,
against a search running in another process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import resumable_opt
from terminal import needs_tmux


def watch_command(checkpoint: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "resumable_opt", "watch", str(checkpoint), *extra]


def wait_for_trials(checkpoint: Path, count: int, search, timeout: float = 120) -> None:
    """Until ``count`` trials of the running search are finished (read as any reader would)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if search.proc.poll() is not None:
            raise AssertionError(f"the search ended early: {search.proc.stderr.read()}")
        if checkpoint.exists():
            try:
                if resumable_opt.load(checkpoint).n_finished >= count:
                    return
            except resumable_opt.CheckpointError:
                pass  # being created
        time.sleep(0.05)
    raise AssertionError("the search did not get going")


@needs_tmux
def test_watch_draws_a_live_view_and_ends_with_the_runs_outcome(tmp_path, start_search, screens):
    ckpt = tmp_path / "live.ckpt"
    search = start_search(ckpt, 30, "--delay", "0.3", "--space", "wide", "--quiet")
    wait_for_trials(ckpt, 2, search)
    screen = screens(watch_command(ckpt), tmp_path, width=90, height=30)
    during = screen.wait_for("last trials")
    assert f"Watching {ckpt}" in during and f"run           pid {search.proc.pid} on " in during
    assert "of 30 trials finished (0 failed)" in during and "ETA " in during
    assert "best          loss " in during
    screen.wait_for("running       trial ")  # the trial being evaluated, and for how long
    shown = screen.wait_for("[exit 0]")
    lines = shown.splitlines()
    assert "The run ended: budget reached. 30 trials finished (0 failed), best loss " in shown, shown
    assert "30 of 30 trials finished (0 failed)" in shown
    assert all(len(line) <= 90 for line in lines)
    assert "\x1b" not in shown and "Traceback" not in shown
    # The run went on to its end, unhindered: every trial is there.
    code, _, err = search.finish()
    assert code == 0, err
    assert resumable_opt.load(ckpt).n_finished == 30


def test_watch_in_a_pipe_prints_plain_lines_and_sees_a_killed_run_end(tmp_path, start_search):
    ckpt = tmp_path / "piped.ckpt"
    search = start_search(ckpt, 500, "--delay", "0.2", "--quiet")
    wait_for_trials(ckpt, 1, search)
    watcher = subprocess.Popen(
        watch_command(ckpt, "--interval", "0.2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first = watcher.stdout.readline()
    assert "of 500 trials finished" in first and "best loss " in first, first
    second = watcher.stdout.readline()  # a line per finished trial
    assert "of 500 trials finished" in second
    search.send(signal.SIGKILL)
    search.proc.wait()  # reaped, as its shell would
    out, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, err
    assert "\x1b" not in first + second + out
    last = out.strip().splitlines()[-1]
    assert last.startswith("The run ended: killed or crashed (no end recorded). "), out


def test_watch_says_so_when_no_run_is_going(tmp_path):
    ckpt = tmp_path / "done.ckpt"
    from searches import SPACES, loss_of

    resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 4, seed=1, progress=False)
    done = subprocess.run(watch_command(ckpt), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"No run is going on for {ckpt}: not running; the last run ended ")
    assert done.stdout.rstrip().endswith(": budget reached. 4 trials finished (0 failed).")
