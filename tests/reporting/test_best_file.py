"""NAME.ckpt.best.json: its fields mean what they say, and agree with ``best --json``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone

from hyperopt import hp

import resumable_opt
from resumable_opt.reporting.best_file import best_file_path


def test_best_file_after_a_resume_agrees_with_best_json(tmp_path):
    path = tmp_path / "run.ckpt"
    calls = []

    def objective(params):  # every later trial is worse: the best stays trial 0
        calls.append(params)
        return float(len(calls))

    resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, path, 3, seed=0, progress=False)
    first_run_file = json.loads(best_file_path(path).read_text())
    started = time.time()
    while time.time() < started + 1.5:  # so that "when written" and "when found" fall in different seconds
        time.sleep(0.1)
    resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, path, 6, seed=0, progress=False)

    state = resumable_opt.load(path)
    in_file = json.loads(best_file_path(path).read_text())
    done = subprocess.run(
        [sys.executable, "-m", "resumable_opt", "best", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    printed = json.loads(done.stdout)
    trial_finished = state.best_trial["refresh_time"].replace(tzinfo=timezone.utc)

    assert in_file["tid"] == printed["tid"] == 0
    # found_at: when the best trial finished, whoever writes it and whenever.
    assert in_file["found_at"] == printed["found_at"] == first_run_file["found_at"]
    assert abs(datetime.fromisoformat(in_file["found_at"]) - trial_finished).total_seconds() < 1
    # How many trials were done when each was written: the file at the start of the second run, best --json now.
    assert in_file["trials_done_when_written"] == 3 and printed["trials_done_when_written"] == 6
    assert datetime.fromisoformat(in_file["written_at"]) > datetime.fromisoformat(in_file["found_at"])
    assert (
        set(in_file)
        == set(printed)
        == {"loss", "tid", "params", "argmin", "found_at", "trials_done_when_written", "written_at"}
    )
