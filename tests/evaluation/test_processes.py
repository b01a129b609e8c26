"""Local worker processes (``n_jobs``): real signals, real kills, trial_timeout, resume."""

import signal
import time

import pytest

import resumable_opt
from parallel_helpers import calls, pool_search_fixture, process_gone, returned, run_pool_search, wait_until  # noqa: F401  (the "pool_search" fixture)

# Real processes, clusters or signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow

EXIT_CODE = {signal.SIGINT: 130, signal.SIGTERM: 143}


def same_points(entries: list[dict]) -> list[str]:
    import json

    return sorted(json.dumps(entry["params"], sort_keys=True) for entry in entries)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_with_trials_in_flight_stops_workers_and_resume_reruns_them_first(tmp_path, ckpt, pool_search, signum):
    log = tmp_path / "calls.jsonl"
    search = pool_search(ckpt, 6, log, "--n-jobs", 2, "--delay", 60)
    in_flight = search.wait_for_calls(2)  # two evaluations of 60 s each are running
    assert len({entry["pid"] for entry in in_flight}) == 2, "two trials, two worker processes"
    search.proc.send_signal(signum)
    code, err = search.finish(timeout=30)
    assert returned(log) == [], "the 60 s evaluations were stopped, not waited for"
    assert code == EXIT_CODE[signum], err
    assert "Traceback" not in err
    assert "0 trials are done" in err
    wait_until(lambda: all(process_gone(entry["pid"]) for entry in in_flight), 60, "the worker processes to be stopped")
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 0 and state.n_pending == 2
    assert state.runs[-1].outcome == f"interrupted by {signal.Signals(signum).name}"

    done = run_pool_search(ckpt, 6, "--log", log, "--n-jobs", 2, "--delay", 0.3)
    assert done.returncode == 0, done.stderr
    assert "2 interrupted trials will be run again" in done.stderr
    after = calls(log)[2:]
    # Both are submitted before any new point is asked for; with two workers
    # the second may start a moment after a new one, so only the first is sure.
    assert same_points(after[:1])[0] in same_points(in_flight), "an interrupted point runs first"
    assert len(after) == 6 and set(same_points(in_flight)) <= set(same_points(after))
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and state.n_failed == 0
    kept_ids = sorted(doc["misc"]["vals"]["x"][0] for doc in state.trials._dynamic_trials if doc["tid"] in (0, 1))
    assert kept_ids == sorted(entry["params"]["x"] for entry in in_flight), "the interrupted trials kept their ids"


def test_a_runner_killed_outright_leaves_no_worker_and_resumes(tmp_path, ckpt, pool_search):
    log = tmp_path / "calls.jsonl"
    search = pool_search(ckpt, 4, log, "--n-jobs", 2, "--delay", 60)
    in_flight = search.wait_for_calls(2)
    search.proc.kill()
    search.proc.wait()
    wait_until(lambda: all(process_gone(entry["pid"]) for entry in in_flight), 15, "orphaned workers to exit")
    done = run_pool_search(ckpt, 4, "--log", log, "--n-jobs", 2, "--delay", 0.1)
    assert done.returncode == 0, done.stderr
    assert "2 interrupted trials will be run again" in done.stderr
    assert resumable_opt.load(ckpt).n_finished == 4


def test_a_killed_worker_makes_its_trial_run_again_and_the_search_goes_on(tmp_path, ckpt, pool_search):
    log = tmp_path / "calls.jsonl"
    # Points with x < 0 take 2 s: long enough to kill their worker mid-trial.
    search = pool_search(ckpt, 6, log, "--n-jobs", 2, "--delay", 0.1, "--slow-delay", 2)
    wait_until(lambda: any(entry["params"]["x"] < 0 for entry in search.wait_for_calls(1)), 60, "a slow trial")
    victim = next(entry for entry in calls(log) if entry["params"]["x"] < 0)
    import os

    os.kill(victim["pid"], signal.SIGKILL)
    code, err = search.finish()
    assert code == 0, err
    assert "its worker was lost" in err
    runs_of_victim = [entry for entry in calls(log) if entry["params"] == victim["params"]]
    assert len(runs_of_victim) == 2 and runs_of_victim[1]["pid"] != victim["pid"]
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and state.n_failed == 0


def test_a_trial_that_kills_its_worker_is_failed_after_max_attempts(tmp_path, ckpt):
    log = tmp_path / "calls.jsonl"
    done = run_pool_search(ckpt, 10, "--log", log, "--n-jobs", 2, "--kill-worker-at", -2, "--max-attempts", 2)
    assert done.returncode == 0, done.stderr
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 10
    poison = [doc for doc in state.trials._dynamic_trials if doc["misc"]["vals"]["x"][0] < -2]
    assert poison, "the seed gives some points below -2"
    failed = [doc for doc in state.trials._dynamic_trials if doc["result"].get("status") == "fail"]
    assert sorted(doc["tid"] for doc in failed) == sorted(doc["tid"] for doc in poison)
    for doc in failed:
        assert doc["result"]["failure"].startswith("ProcessDied: the process died while evaluating this trial 2 times")
        x = doc["misc"]["vals"]["x"][0]
        assert sum(1 for entry in calls(log) if entry["params"]["x"] == x) == 2
    assert state.n_failed == len(failed)


def test_trial_timeout_kills_the_worker_and_records_timeout(tmp_path, ckpt):
    log = tmp_path / "calls.jsonl"
    done = run_pool_search(
        ckpt, 6, "--log", log, "--n-jobs", 2, "--delay", 0.05, "--slow-delay", 120, "--trial-timeout", 2
    )
    assert done.returncode == 0, done.stderr
    ended = [entry["params"]["x"] for entry in returned(log)]
    assert ended and all(x >= 0 for x in ended), "the quick evaluations returned, the 120 s ones were stopped"
    state = resumable_opt.load(ckpt)
    slow = {doc["tid"] for doc in state.trials._dynamic_trials if doc["misc"]["vals"]["x"][0] < 0}
    assert slow, "the seed gives some points below 0"
    for doc in state.trials._dynamic_trials:
        if doc["tid"] in slow:
            assert doc["result"]["status"] == "fail"
            assert doc["result"]["failure"].startswith("timeout: the evaluation took longer than trial_timeout=2s")
        else:
            assert doc["result"]["status"] == "ok"
    for entry in calls(log):
        if entry["params"]["x"] < 0:
            assert process_gone(entry["pid"]), "a timed-out worker is killed, not left running"


def test_bad_parallel_options_are_refused_before_anything_runs(tmp_path):
    from hyperopt import hp

    space = {"x": hp.uniform("x", 0, 1)}
    for options, message in [
        ({"n_jobs": 0}, "n_jobs must be a whole number >= 1"),
        ({"trial_timeout": -1}, "trial_timeout must be a number of seconds > 0"),
        ({"executor": "localhost:8786"}, "executor must be a dask.distributed.Client or a concurrent.futures.Executor"),
    ]:
        with pytest.raises((ValueError, TypeError), match=message):
            resumable_opt.minimize(lambda p: p["x"], space, tmp_path / "x.ckpt", 3, **options)
        assert not (tmp_path / "x.ckpt").exists()


@pytest.mark.filterwarnings("ignore:the objective cannot be pickled")
def test_an_objective_that_cannot_be_pickled_is_refused_for_worker_processes(tmp_path, ckpt):
    import threading

    from hyperopt import hp

    lock = threading.Lock()

    def objective(params):
        with lock:
            return params["x"]

    with pytest.raises(resumable_opt.ResumableOptError, match="the objective cannot be sent to worker processes"):
        resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, ckpt, 3, n_jobs=2, progress=False)
    assert resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, ckpt, 3, progress=False).n_finished == 3


def test_a_script_without_main_guard_gets_a_clear_error_and_no_false_failures(tmp_path, ckpt):
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from hyperopt import hp\n"
        "import resumable_opt\n"
        "def objective(params):\n"
        "    return params['x'] ** 2\n"
        f"resumable_opt.minimize(objective, {{'x': hp.uniform('x', -1, 1)}}, {str(ckpt)!r}, 6,\n"
        "                       n_jobs=2, progress=False)\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert 'put the code that calls minimize under `if __name__ == "__main__":`' in done.stderr.splitlines()[-1]
    state = resumable_opt.load(ckpt)
    assert state.n_failed == 0, "a worker that could not start is not the trial's fault"


@pytest.mark.filterwarnings("ignore:the objective cannot be pickled")
def test_any_concurrent_futures_executor_runs_trials_side_by_side(tmp_path, ckpt):
    """Up to its max_workers trials in flight: each trial waits at a 2-party barrier,
    which only opens (and so only succeeds) when two trials run at once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from hyperopt import hp

    barrier = threading.Barrier(2, timeout=60)

    def objective(params):
        barrier.wait()
        return params["x"] ** 2

    with ThreadPoolExecutor(max_workers=2) as executor:
        state = resumable_opt.minimize(
            objective, {"x": hp.uniform("x", -1, 1)}, ckpt, 6, seed=1, executor=executor, progress=False
        )
    assert state.n_finished == 6 and state.n_failed == 0


def test_trial_timeout_alone_runs_trials_in_a_worker_it_can_stop(tmp_path, ckpt):
    from hyperopt import hp

    state = resumable_opt.minimize(
        lambda params: time.sleep(120 if params["x"] < 0 else 0) or params["x"] ** 2,
        {"x": hp.uniform("x", -1, 1)},
        ckpt,
        4,
        seed=3,
        trial_timeout=1,
        progress=False,
    )
    outcomes = {doc["misc"]["vals"]["x"][0] < 0: doc["result"] for doc in state.trials._dynamic_trials}
    assert set(outcomes) == {True, False}, "the seed gives points on both sides of 0"
    assert outcomes[True]["failure"].startswith("timeout:") and outcomes[False]["status"] == "ok"


USERS_FORKSERVER_AFTER_A_SEARCH = """
import multiprocessing, os, signal, sys, time
from hyperopt import hp, rand
import resumable_opt

def objective(params):
    return params["x"] ** 2

def wait_for_a_signal(ready):
    with open(ready + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(ready + ".tmp", ready)
    while True:
        time.sleep(1)

if __name__ == "__main__":
    checkpoint, ready = sys.argv[1:]
    space = {"x": hp.uniform("x", -1, 1)}
    resumable_opt.minimize(objective, space, checkpoint, 4, algo=rand.suggest, seed=0, n_jobs=2, progress=False)
    process = multiprocessing.get_context("forkserver").Process(target=wait_for_a_signal, args=(ready,))
    process.start()
    deadline = time.monotonic() + 120
    while not os.path.exists(ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGTERM)
    process.join(30)
    if process.exitcode is None:
        process.kill()
        process.join()
        print("still alive 30 s after SIGTERM")
    else:
        print("exit code", process.exitcode)
"""


def test_the_users_own_forkserver_processes_get_stop_signals_after_an_n_jobs_search(tmp_path, ckpt):
    """The worker pool's fork server blocks the stop signals for its workers; it is
    the pool's own, so the program's shared fork server (``get_context("forkserver")``)
    starts processes that a SIGTERM (or a Ctrl-C) still stops."""
    import subprocess
    import sys

    script = tmp_path / "user_script.py"
    script.write_text(USERS_FORKSERVER_AFTER_A_SEARCH)
    done = subprocess.run(
        [sys.executable, str(script), str(ckpt), str(tmp_path / "ready")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"exit code {-signal.SIGTERM}", done.stdout + done.stderr
    assert resumable_opt.load(ckpt).n_finished == 4
