"""``executor=`` with a real Dask LocalCluster (worker processes): trials run on
the workers, a killed worker's trial runs again elsewhere, trial_timeout."""

import os
import signal
import threading

import pytest

import resumable_opt
from parallel_helpers import calls, wait_until
from pool_search import PidLoggingObjective
from searches import SPACES

# Real processes, clusters or signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def worker_pids(client) -> set[int]:
    return set(client.run(os.getpid).values())


def search(client, ckpt, log, max_evals, delay=0.1, slow_delay=None, **options):
    objective = PidLoggingObjective(str(log), delay, slow_delay, None)
    return resumable_opt.minimize(
        objective, SPACES["mixed"](), ckpt, max_evals, seed=7, executor=client, progress=False, **options
    )


def test_trials_run_on_the_cluster_workers_two_at_a_time(client, tmp_path, ckpt):
    log = tmp_path / "calls.jsonl"
    state = search(client, ckpt, log, 8, delay=0.3)
    assert state.n_finished == 8 and state.n_failed == 0
    pids = {entry["pid"] for entry in calls(log)}
    assert pids == worker_pids(client) and len(pids) == 2 and os.getpid() not in pids


def test_a_killed_dask_worker_s_trial_runs_again_elsewhere(client, tmp_path, ckpt):
    log = tmp_path / "calls.jsonl"
    killed = []

    def kill_a_worker_in_a_slow_trial():
        def slow_trial_running():
            return any(entry["params"]["x"] < 0 for entry in calls(log))

        wait_until(slow_trial_running, 60, "a slow trial")
        victim = next(entry for entry in calls(log) if entry["params"]["x"] < 0)
        os.kill(victim["pid"], signal.SIGKILL)
        killed.append(victim)

    killer = threading.Thread(target=kill_a_worker_in_a_slow_trial)
    killer.start()
    state = search(client, ckpt, log, 6, slow_delay=2)
    killer.join()
    assert state.n_finished == 6 and state.n_failed == 0
    victim = killed[0]
    runs = [entry for entry in calls(log) if entry["params"] == victim["params"]]
    assert len(runs) == 2 and runs[1]["pid"] != victim["pid"], "run again, on another worker"
    client.wait_for_workers(2, timeout=60)  # the nanny replaces the killed worker


def test_trial_timeout_cancels_the_dask_future_and_records_timeout(client, tmp_path, ckpt):
    log = tmp_path / "calls.jsonl"
    # A cancelled Dask task keeps its thread until it returns (Python cannot
    # stop a thread), and trial_timeout counts from submission: keep the slow
    # trials just over the limit so a trial queued behind one stays under it.
    state = search(client, ckpt, log, 5, delay=0.05, slow_delay=2.6, trial_timeout=2)
    slow = [doc for doc in state.trials._dynamic_trials if doc["misc"]["vals"]["x"][0] < 0]
    assert slow, "the seed gives some points below 0"
    for doc in state.trials._dynamic_trials:
        if doc in slow:
            assert doc["result"]["failure"].startswith("timeout: the evaluation took longer than trial_timeout=2s")
        else:
            assert doc["result"]["status"] == "ok"
