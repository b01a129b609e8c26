"""Issue 3, faults 4, 5 and 6: failing writes, bad objective output, poison trials."""

import math
import resource
import subprocess
import sys

import pytest
from hyperopt import hp

import resumable_opt
import torture

# Real processes, clusters or signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow


def test_a_file_size_limit_stops_the_run_cleanly_and_keeps_every_trial(tmp_path):
    figures = torture.size_limit_torture(tmp_path, torture.QUICK)
    assert figures["file-size limit faults injected"] >= 3
    assert figures["trials lost"] == 0
    assert figures["searches equal to the uninterrupted run"] == figures["file-size limit faults injected"]


def test_a_file_size_limit_through_the_command_line(tmp_path):
    ckpt = tmp_path / "demo.ckpt"
    demo = [sys.executable, "-m", "resumable_opt", "demo", "--checkpoint", str(ckpt), "--delay", "0", "--quiet"]
    assert subprocess.run([*demo, "--max-evals", "4"], capture_output=True, timeout=120).returncode == 0
    before = torture.finished_trials(ckpt)
    limit = ckpt.stat().st_size + 3000

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    done = subprocess.run(
        [*demo, "--max-evals", "60"], capture_output=True, text=True, timeout=120, preexec_fn=limit_file_size
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"resumable-opt: error: {ckpt}: could not append to the checkpoint: [Errno 27] File too large"
    )
    after = torture.finished_trials(ckpt)
    assert all(after[tid] == trial for tid, trial in before.items()) and len(after) > len(before)


@pytest.mark.skipif(not torture.can_mount_tmpfs(), reason="cannot mount a tmpfs in a user namespace here")
def test_a_full_disk(tmp_path):
    figures = torture.disk_full_torture(tmp_path, torture.QUICK)
    assert figures["full-disk faults injected (tmpfs)"] == len(torture.QUICK.disk_sizes)


BAD_OUTPUTS = {
    "none": (lambda: None, "TypeError", "forget to return"),
    "nan": (lambda: math.nan, "InvalidLoss", "NaN"),
    "string": (lambda: "0.5 or so", "InvalidResult", "return a number, or a dict with a numeric 'loss'"),
    "dict without loss": (lambda: {"status": "ok", "accuracy": 0.9}, "InvalidResult", "no usable loss"),
    "non-numeric loss": (lambda: {"status": "ok", "loss": "low"}, "InvalidResult", "'low'"),
    "exception": (lambda: 1 / 0, "ZeroDivisionError", "division by zero"),
    "sys.exit": (lambda: sys.exit(3), "SystemExit", "sys.exit(3)"),
}


def test_bad_objective_output_becomes_a_failed_trial_and_the_search_goes_on(tmp_path):
    bad = list(BAD_OUTPUTS.values())

    def objective(params):
        objective.calls += 1
        if objective.calls % 2 == 0:  # every other call misbehaves, in turn
            return bad[(objective.calls // 2 - 1) % len(bad)][0]()
        return params["x"] ** 2

    objective.calls = 0
    n = 2 * len(bad) + 1
    state = resumable_opt.minimize(
        objective, {"x": hp.uniform("x", -1, 1)}, tmp_path / "s.ckpt", n, seed=1, progress=False
    )
    assert state.n_finished == n and state.n_failed == len(bad)
    docs = sorted(state.trials._dynamic_trials, key=lambda doc: doc["tid"])
    for index, (_, kind, words) in enumerate(bad):
        doc = docs[2 * index + 1]
        assert doc["result"]["status"] == "fail"
        assert doc["result"]["failure"].startswith(kind) and words in doc["result"]["failure"], doc["result"]
    traceback = docs[2 * list(BAD_OUTPUTS).index("exception") + 1]["misc"]["traceback"]
    assert "Traceback (most recent call last)" in traceback and "1 / 0" in traceback


def test_an_objective_that_always_fails_stops_early_with_its_error(tmp_path):
    ckpt = tmp_path / "s.ckpt"
    with pytest.raises(resumable_opt.ObjectiveAlwaysFails) as stopped:
        resumable_opt.minimize(
            torture.TortureObjective(fail_always=True), torture.SPACES["mixed"](), ckpt, 100, seed=7, progress=False
        )
    message = str(stopped.value)
    assert "first 3 trials" in message and "FileNotFoundError" in message and "training-data.csv" in message
    assert "\n" not in message  # one message; the traceback is kept in the trials
    state = resumable_opt.load(ckpt)
    assert state.n_finished == state.n_failed == 3
    assert all("training-data.csv" in doc["misc"]["traceback"] for doc in state.trials._dynamic_trials)
    assert state.runs[-1].outcome.startswith("error: ObjectiveAlwaysFails")


def test_an_objective_that_always_fails_through_the_command_line(tmp_path):
    # A negative delay makes the demo's objective fail on every trial (time.sleep refuses it).
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "resumable_opt",
            "demo",
            "--checkpoint",
            str(tmp_path / "d.ckpt"),
            "--delay",
            "-1",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("resumable-opt: error: the objective failed on each of the first 3 trials")
    assert "ValueError: sleep length must be non-negative" in done.stderr


@pytest.mark.parametrize("kind, max_attempts", [("exit", 3), ("segfault", 3), ("sigkill", 2)])
def test_a_trial_that_kills_the_process_is_failed_after_max_attempts(tmp_path, kind, max_attempts):
    figures = torture.poison_torture(tmp_path, kind, max_attempts)
    assert figures["poison trials failed after max_attempts"] >= 1
    assert figures[f"process deaths ({kind})"] == max_attempts * figures["poison trials failed after max_attempts"]
