"""Guarantees 2, 3 and 5: exact resume after any interruption; clean Ctrl-C."""

import json
import random
import signal

import pytest

import resumable_opt
from conftest import run_search
from searches import history

N = 24


def reference_history(tmp_path, seed=7):
    done = run_search(tmp_path / "reference.ckpt", N, "--seed", seed, "--quiet")
    assert done.returncode == 0, done.stderr
    return history(resumable_opt.load(tmp_path / "reference.ckpt").trials)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_many_times_then_resumed_equals_uninterrupted(tmp_path, ckpt, start_search, signum):
    expected = reference_history(tmp_path)
    log = tmp_path / "calls.jsonl"
    rng = random.Random(signum)
    for _attempt in range(4):
        search = start_search(ckpt, N, "--delay", "0.02", "--log", log)
        search.wait_for_log_lines(log, len(log.read_text().splitlines()) + 1 if log.exists() else 1)
        import time

        time.sleep(rng.uniform(0, 0.1))
        search.send(signum)
        code, _, err = search.finish()
        if code == 0:
            break  # the search had already finished
        assert code == {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}[signum], err
        assert "Traceback" not in err
        resumable_opt.load(ckpt)  # loads after every interruption
    done = run_search(ckpt, N, "--log", log, "--quiet")
    assert done.returncode == 0, done.stderr
    assert history(resumable_opt.load(ckpt).trials) == expected


def test_ctrl_c_reports_and_the_interrupted_point_is_run_again(tmp_path, ckpt, start_search):
    log = tmp_path / "calls.jsonl"
    search = start_search(ckpt, 10, "--delay", "2", "--log", log)
    search.wait_for_log_lines(log, 1)  # inside the first evaluation, which sleeps 2 s
    search.send(signal.SIGINT)
    code, _, err = search.finish()
    assert code == 130
    assert "Traceback" not in err
    assert "0 trials are done" in err
    assert str(ckpt) in err
    assert "To resume, run the same command again" in err and "searches.py" in err
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 0 and state.n_pending == 1
    assert state.runs[-1].outcome == "interrupted by SIGINT"

    done = run_search(ckpt, 2, "--log", log)
    assert done.returncode == 0
    assert "1 interrupted trial will be run again" in done.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == calls[1], "the interrupted point is evaluated again with the same parameters"
    assert resumable_opt.load(ckpt).n_finished == 2


@pytest.mark.slow
def test_second_ctrl_c_while_saving_does_not_damage(tmp_path, ckpt, start_search):
    expected = reference_history(tmp_path)
    log = tmp_path / "calls.jsonl"
    for _ in range(3):
        search = start_search(ckpt, N, "--delay", "0.01", "--log", log, "--quiet")
        search.wait_for_log_lines(log, (len(log.read_text().splitlines()) if log.exists() else 0) + 3)
        search.send(signal.SIGINT)
        search.send(signal.SIGINT)
        search.send(signal.SIGTERM)
        code, _, err = search.finish()
        assert code in (0, 130), err
        assert "Traceback" not in err
    assert run_search(ckpt, N, "--quiet").returncode == 0
    assert history(resumable_opt.load(ckpt).trials) == expected


def test_each_finished_trial_is_on_disk_before_the_next_is_asked(tmp_path):
    """The objective reads the checkpoint: every earlier trial must be in it, finished."""
    ckpt = tmp_path / "d.ckpt"
    seen = []

    def objective(params):
        state = resumable_opt.load(ckpt)
        seen.append(state.n_finished)
        return params["x"] ** 2

    from hyperopt import hp

    resumable_opt.minimize(objective, {"x": hp.uniform("x", -1, 1)}, ckpt, 15, seed=1, progress=False)
    assert seen == list(range(15))


def test_resume_without_the_script_uses_stored_objective_and_space(tmp_path, ckpt):
    assert run_search(ckpt, 5, "--quiet").returncode == 0
    state = resumable_opt.minimize(None, None, ckpt, 9, progress=False)
    assert state.n_finished == 9
    assert history(state.trials) == reference_history_n(tmp_path, 9)


def reference_history_n(tmp_path, n):
    assert run_search(tmp_path / f"ref{n}.ckpt", n, "--quiet").returncode == 0
    return history(resumable_opt.load(tmp_path / f"ref{n}.ckpt").trials)


def test_budget_counts_all_runs_and_best_json_follows(tmp_path, ckpt):
    assert run_search(ckpt, 6, "--quiet").returncode == 0
    assert run_search(ckpt, 6, "--quiet").returncode == 0  # nothing left to do
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and len(state.runs) == 2
    best = json.loads((tmp_path / "search.best.json").read_text())
    assert best["loss"] == state.best_loss
    assert best["tid"] == state.best_trial["tid"]
    assert best["params"]["x"] == state.best["x"]


# A Ctrl-C that arrives while the run stops the trials still in flight (here: the user's
# executor sends it from Future.cancel, so it lands exactly there).
CTRL_C_WHILE_CANCELLING = """
import concurrent.futures as cf, signal, sys, threading, time
from hyperopt import hp
import resumable_opt

class SlowToCancel(cf.Future):
    def cancel(self):
        signal.raise_signal(signal.SIGINT)  # to this thread: Python runs the handler within the sleep
        time.sleep(0.5)
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
    time.sleep(0.3)
    raise ValueError("boom")

try:
    resumable_opt.minimize(
        objective, {"x": hp.uniform("x", 0, 1)}, sys.argv[1], 10, seed=1, progress=False, executor=ThreadsExecutor()
    )
except resumable_opt.ObjectiveAlwaysFails as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)
"""


def test_ctrl_c_while_the_run_stops_its_trials_in_flight_still_records_the_end(ckpt):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_CANCELLING, str(ckpt)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: the objective failed on each of the first 3 trials")
    assert resumable_opt.load(ckpt).runs[-1].outcome.startswith("error: ObjectiveAlwaysFails")
