"""Stop signals at the worst moments: while a finished trial is being saved,
during the final save of a stopped run, several in a row, SIGHUP then SIGTERM.
A signal during a save is noted: the save completes, and the first signal
decides how the run ends (its status, its record).

The moments are made certain, not hoped for: user code that the runner calls
inside the save (an ``early_stop_fn``; a ``concurrent.futures`` executor
whose futures are cancelled when a stopped run ends) writes a marker file and
waits for a release file while the test sends its signals."""

import signal
import sys

import pytest

import resumable_opt
from stop_helpers import EXIT, env_with_path, release, start, wait_until

# Real processes and real signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow

WHILE_A_TRIAL_IS_SAVED = """
import os, sys, time
from hyperopt import hp
import resumable_opt

marker = sys.argv[2]

def early_stop(trials, *state):
    # Called by the runner while it saves a finished trial, before that trial is on disk.
    if len(trials.trials) == 2:
        open(marker, "w").close()
        while not os.path.exists(marker + ".release"):
            time.sleep(0.02)
    return False, []

space = {"x": hp.uniform("x", -1, 1)}
resumable_opt.minimize(lambda p: p["x"] ** 2, space, sys.argv[1], 5, seed=1, early_stop_fn=early_stop)
"""


@pytest.mark.parametrize(
    "signals",
    [
        [signal.SIGHUP, signal.SIGTERM],
        [signal.SIGINT, signal.SIGINT, signal.SIGINT],
        [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
    ],
    ids=["HUP-TERM", "INT-INT-INT", "TERM-HUP-INT"],
)
def test_signals_while_a_finished_trial_is_saved(tmp_path, signals):
    ckpt, marker = tmp_path / "s.ckpt", tmp_path / "saving"
    process = start([sys.executable, "-c", WHILE_A_TRIAL_IS_SAVED, ckpt, marker], env=env_with_path())
    wait_until(marker.exists, what="the runner to save the second trial", proc=process)
    for signum in signals:
        process.send_signal(signum)
    release(marker)
    out, err = process.communicate(timeout=60)
    # Signals pending together are taken lowest number first (the kernel's
    # order, and Python's): the one taken first decides, consistently.
    first = signal.Signals(process.returncode - 128)
    assert first in signals, err
    assert "Traceback" not in err and "Stopped. 2 trials are done" in err
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 2 and state.n_pending == 0, "the trial being saved is saved"
    assert state.runs[-1].outcome == f"interrupted by {first.name}"


DURING_THE_FINAL_SAVE = """
import concurrent.futures as cf, os, sys, threading, time
from hyperopt import hp
import resumable_opt


marker = sys.argv[2]

class SlowToCancel(cf.Future):
    def cancel(self):
        # Called by the runner as it saves the end of a stopped run.
        open(marker, "w").close()
        while not os.path.exists(marker + ".release"):
            time.sleep(0.02)
        return super().cancel()

class ThreadsExecutor(cf.Executor):
    _max_workers = 2
    def submit(self, fn, *args):
        future = SlowToCancel()
        def work():
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)
        threading.Thread(target=work, daemon=True).start()
        return future

def objective(params):
    with open(sys.argv[3], "a") as log:
        log.write("started\\n")
    time.sleep(120)
    return params["x"] ** 2

resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, sys.argv[1], 10, seed=1, executor=ThreadsExecutor())
"""


@pytest.mark.parametrize(
    "first, then",
    [
        (signal.SIGHUP, [signal.SIGTERM]),
        (signal.SIGINT, [signal.SIGINT, signal.SIGINT]),
        (signal.SIGTERM, [signal.SIGHUP, signal.SIGINT]),
    ],
    ids=["HUP-TERM", "INT-INT-INT", "TERM-HUP-INT"],
)
def test_signals_during_the_final_save_of_a_stopped_run(tmp_path, first, then):
    ckpt, marker, log = tmp_path / "f.ckpt", tmp_path / "saving", tmp_path / "calls"
    process = start([sys.executable, "-c", DURING_THE_FINAL_SAVE, ckpt, marker, log], env=env_with_path())
    wait_until(
        lambda: log.exists() and len(log.read_text().splitlines()) == 2, what="two trials in flight", proc=process
    )
    process.send_signal(first)
    wait_until(marker.exists, what="the run to save its end", proc=process)
    for signum in then:
        process.send_signal(signum)
    release(marker)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT[first], err
    assert "Traceback" not in err and "Stopped. 0 trials are done" in err
    state = resumable_opt.load(ckpt)
    assert state.runs[-1].outcome == f"interrupted by {first.name}", "the first signal decides"
    assert state.n_pending == 2 and state.n_failed == 0
    assert not any(state.attempts.values()), "stopping them was no attempt"
