"""Issue 10, item 8: SIGHUP (SSH connection dropped, terminal or tmux session
closed) is handled like SIGTERM: the run saves, records "interrupted by
SIGHUP" and exits 129.  A stop signal is never an attempt toward the
poison-trial limit, also with worker processes, which must not die of a
signal sent to the whole process group before the runner decides."""

import json
import os
import signal
import sys

import pytest

import resumable_opt
from resumable_opt.checkpoint.lock import owner_path
from stop_helpers import TESTS, Terminal, env_with_path, lines, owner_pid, process_gone, start, wait_until

# Real processes and real signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow

SEARCH = TESTS / "searches.py"
POOL_SEARCH = TESTS / "evaluation" / "pool_search.py"


def test_sighup_saves_and_exits_129_and_hang_ups_are_not_deaths_of_the_trial(tmp_path):
    ckpt, log = tmp_path / "h.ckpt", tmp_path / "calls.jsonl"
    for hang_up in range(4):  # one more than max_attempts
        process = start([sys.executable, SEARCH, ckpt, 5, "--delay", 60, "--log", log], env=env_with_path())
        wait_until(lambda n=hang_up + 1: len(lines(log)) == n, what="an evaluation", proc=process)
        process.send_signal(signal.SIGHUP)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 129, err
        assert "Traceback" not in err and "Stopped. 0 trials are done" in err
        state = resumable_opt.load(ckpt)
        assert state.runs[-1].outcome == "interrupted by SIGHUP"
        assert state.n_pending == 1 and state.n_failed == 0
    done = start([sys.executable, SEARCH, ckpt, 5, "--log", log], env=env_with_path())
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 5 and state.n_failed == 0, "a healthy point is not recorded as ProcessDied"
    calls = lines(log)
    assert calls[:5] == [calls[0]] * 5, "the point cut short was evaluated again each time"


def test_stops_with_more_trials_waiting_than_running_do_not_count_toward_max_attempts(tmp_path):
    """Two trials waiting to be run again, one run at a time: Ctrl-C during the
    first must not count as an attempt of the second, which was waiting."""
    ckpt, log = tmp_path / "w.ckpt", tmp_path / "calls.jsonl"
    process = start(
        [sys.executable, POOL_SEARCH, ckpt, 6, "--log", log, "--n-jobs", 2, "--delay", 60], env=env_with_path()
    )
    wait_until(lambda: len(lines(log)) == 2, what="two evaluations", proc=process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    for stop in range(3):
        process = start([sys.executable, POOL_SEARCH, ckpt, 6, "--log", log, "--delay", 60], env=env_with_path())
        wait_until(lambda n=3 + stop: len(lines(log)) == n, what="an evaluation", proc=process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
    done = start([sys.executable, POOL_SEARCH, ckpt, 6, "--log", log], env=env_with_path())
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and state.n_failed == 0, [doc["result"] for doc in state.trials._dynamic_trials]


def hang_up_a_terminal_running(tmp_path, ckpt, args, evaluations):
    """Run ``args`` in an interactive bash on a real terminal, wait for
    ``evaluations`` to start, close the terminal; return the runner's pid."""
    log = tmp_path / "calls.jsonl"
    before = len(lines(log))
    terminal = Terminal(tmp_path, env_with_path())
    terminal.run(args)
    wait_until(lambda: len(lines(log)) >= before + evaluations, what=f"{evaluations} evaluations")
    runner = owner_pid(ckpt)
    workers = [json.loads(line)["pid"] for line in lines(log)[before:] if line.startswith('{"params"')]
    terminal.hang_up()
    wait_until(lambda: process_gone(runner), 60, "the runner to stop")
    return runner, workers, terminal


def test_closing_the_terminal_stops_the_run_cleanly(tmp_path):
    ckpt = tmp_path / "t.ckpt"
    log = tmp_path / "calls.jsonl"
    for _ in range(3):
        hang_up_a_terminal_running(tmp_path, ckpt, [sys.executable, SEARCH, ckpt, 5, "--delay", 60, "--log", log], 1)
        state = resumable_opt.load(ckpt)
        assert state.runs[-1].outcome == "interrupted by SIGHUP", "the run saved and recorded its end"
        assert state.n_pending == 1 and state.n_failed == 0
        assert not owner_path(ckpt).exists(), "and it let go of the checkpoint (a second hang-up included)"
    done = start([sys.executable, SEARCH, ckpt, 5, "--log", log], env=env_with_path())
    assert done.wait(timeout=120) == 0
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 5 and state.n_failed == 0


def test_closing_the_terminal_with_worker_processes_lets_the_runner_decide(tmp_path):
    """The shell sends SIGHUP to the whole job: the workers are not in it (they
    would die of it, and each hang-up would count as a death of their trials);
    the runner stops them itself, and releases their trials."""
    ckpt = tmp_path / "p.ckpt"
    log = tmp_path / "calls.jsonl"
    for _ in range(3):
        runner, workers, _ = hang_up_a_terminal_running(
            tmp_path, ckpt, [sys.executable, POOL_SEARCH, ckpt, 6, "--log", log, "--n-jobs", 2, "--delay", 60], 2
        )
        state = resumable_opt.load(ckpt)
        assert state.runs[-1].outcome == "interrupted by SIGHUP"
        assert state.n_pending == 2 and state.n_failed == 0
        wait_until(lambda pids=workers: all(map(process_gone, pids)), 30, "the runner to stop its workers")
    done = start([sys.executable, POOL_SEARCH, ckpt, 6, "--log", log, "--n-jobs", 2], env=env_with_path())
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and state.n_failed == 0


def test_worker_processes_leave_the_terminals_process_group(tmp_path):
    ckpt, log = tmp_path / "g.ckpt", tmp_path / "calls.jsonl"
    process = start(
        [sys.executable, POOL_SEARCH, ckpt, 4, "--log", log, "--n-jobs", 2, "--delay", 60], env=env_with_path()
    )
    wait_until(lambda: len(lines(log)) == 2, what="two evaluations", proc=process)
    workers = [json.loads(line)["pid"] for line in lines(log)]
    for pid in workers:
        assert os.getpgid(pid) != os.getpgid(process.pid) and os.getsid(pid) != os.getsid(process.pid)
    os.killpg(process.pid, signal.SIGHUP)  # what the shell does to its job when the terminal closes
    out, err = process.communicate(timeout=60)
    assert process.returncode == 129, err
    assert "worker was lost" not in err and "Traceback" not in err
    state = resumable_opt.load(ckpt)
    assert state.runs[-1].outcome == "interrupted by SIGHUP" and state.n_pending == 2


def test_under_nohup_a_hang_up_is_ignored_as_asked(tmp_path):
    ckpt, log = tmp_path / "n.ckpt", tmp_path / "calls.jsonl"
    process = start(["nohup", sys.executable, SEARCH, ckpt, 4, "--delay", 0.5, "--log", log], env=env_with_path())
    wait_until(lambda: len(lines(log)) == 1, what="an evaluation", proc=process)
    process.send_signal(signal.SIGHUP)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert resumable_opt.load(ckpt).n_finished == 4


DASK_SEARCH = """
import json, os, sys, time
from distributed import Client, LocalCluster
from hyperopt import hp
import resumable_opt

def objective(params):
    with open(sys.argv[2], "a") as log:
        log.write(json.dumps({"pid": os.getpid()}) + "\\n")
    time.sleep(float(sys.argv[3]))
    return params["x"] ** 2

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            resumable_opt.minimize(objective, {"x": hp.uniform("x", -1, 1)}, sys.argv[1], 4, seed=1, executor=client)
"""


def test_a_hang_up_of_the_whole_job_with_a_dask_cluster_is_never_a_death_of_the_trials(tmp_path):
    """The user's own LocalCluster is in the terminal's process group, and its
    workers may die of the SIGHUP before the runner acts on it: whatever they
    report after the stop is not counted as a lost worker."""
    pytest.importorskip("distributed")
    ckpt, log = tmp_path / "d.ckpt", tmp_path / "calls.jsonl"
    script = tmp_path / "dask_search.py"
    script.write_text(DASK_SEARCH)
    for hang_up in range(3):
        process = start([sys.executable, script, ckpt, log, 60], env=env_with_path(), cwd=tmp_path)
        wait_until(lambda n=2 * (hang_up + 1): len(lines(log)) >= n, 120, "two evaluations", proc=process)
        os.killpg(process.pid, signal.SIGHUP)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 129, err
        state = resumable_opt.load(ckpt)
        assert state.runs[-1].outcome == "interrupted by SIGHUP"
        assert state.n_failed == 0 and not any(state.attempts.values()), state.attempts
    done = start([sys.executable, script, ckpt, log, 0], env=env_with_path(), cwd=tmp_path)
    out, err = done.communicate(timeout=180)
    assert done.returncode == 0, err
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 4 and state.n_failed == 0
