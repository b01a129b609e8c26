"""``executor=Client(address)`` with a cluster started by the ``dask scheduler``
and ``dask worker`` commands on 127.0.0.1, as on real machines: Ctrl-C with
trials in flight, resume, and a worker process killed for real."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import resumable_opt
from parallel_helpers import calls, pool_search_fixture, process_gone, run_pool_search, wait_until  # noqa: F401  (the "pool_search" fixture)

# Real processes, clusters or signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")

TESTS = Path(__file__).parent.parent
DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The address of a scheduler with two one-thread workers (each under a nanny)."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = dict(os.environ)
    # Report a lost worker to the client at once (KilledWorker) instead of
    # retrying the task up to 3 times within Dask, so each loss is counted.
    env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "0"
    # The objective (pickled by value) uses tests/searches.py.
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    # Each in its own process group, so that the teardown stops nannies and workers at once.
    quiet = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "env": env,
        "cwd": folder,
        "start_new_session": True,
    }
    processes = [
        subprocess.Popen(
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            **quiet,
        )
    ]
    try:
        wait_until(scheduler_file.exists, 60, "the scheduler")
        processes.append(
            subprocess.Popen(
                [
                    DASK,
                    "worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                **quiet,
            )
        )
        address = json.loads(scheduler_file.read_text())["address"]
        with distributed.Client(address) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_ctrl_c_cancels_the_dask_trials_and_resume_reruns_them_first(scheduler, tmp_path, ckpt, pool_search):
    log = tmp_path / "calls.jsonl"
    search = pool_search(ckpt, 6, log, "--scheduler", scheduler, "--delay", 3)
    in_flight = search.wait_for_calls(2)
    assert len({entry["pid"] for entry in in_flight}) == 2, "one trial on each worker"
    search.proc.send_signal(signal.SIGINT)
    code, err = search.finish(timeout=30)
    assert code == 130, err
    assert "Traceback" not in err and "0 trials are done" in err  # (the 3 s trials were not waited for)
    with distributed.Client(scheduler) as client:
        wait_until(lambda: not any(client.processing().values()), 30, "the scheduler to drop the cancelled tasks")
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 0 and state.n_pending == 2

    done = run_pool_search(ckpt, 6, "--log", log, "--scheduler", scheduler, "--delay", 0.2)
    assert done.returncode == 0, done.stderr
    assert "2 interrupted trials will be run again" in done.stderr
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and state.n_failed == 0
    rerun = sorted(doc["misc"]["vals"]["x"][0] for doc in state.trials._dynamic_trials if doc["tid"] in (0, 1))
    assert rerun == sorted(entry["params"]["x"] for entry in in_flight), "same trials, same parameters"
    after = calls(log)[2:]
    assert after[0]["params"]["x"] in rerun, "an interrupted trial runs first"


def test_a_killed_worker_process_is_counted_and_its_trial_runs_again(scheduler, tmp_path, ckpt, pool_search):
    log = tmp_path / "calls.jsonl"
    search = pool_search(ckpt, 6, log, "--scheduler", scheduler, "--delay", 0.1, "--slow-delay", 2)
    wait_until(lambda: any(entry["params"]["x"] < 0 for entry in search.wait_for_calls(1)), 60, "a slow trial")
    victim = next(entry for entry in calls(log) if entry["params"]["x"] < 0)
    os.kill(victim["pid"], signal.SIGKILL)
    code, err = search.finish()
    assert code == 0, err
    assert "its worker was lost (KilledWorker" in err and "attempt 2 of 3" in err
    assert process_gone(victim["pid"])
    runs = [entry for entry in calls(log) if entry["params"] == victim["params"]]
    assert len(runs) == 2 and runs[1]["pid"] != victim["pid"]
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and state.n_failed == 0
