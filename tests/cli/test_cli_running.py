"""Every command on a search that is running: it answers, and the run goes on undisturbed."""

import csv
import json
import signal
import socket
import time

import pytest

import resumable_opt
from cli_helpers import assert_one_line_error, cli, cli_all, json_rows
from searches import loss_of

# Real processes, clusters or signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_every_command_answers_while_the_search_runs_and_never_blocks_it(tmp_path, ckpt, start_search):
    log = tmp_path / "calls.jsonl"
    search = start_search(ckpt, 1000, "--delay", "0.2", "--log", log, "--quiet")
    search.wait_for_log_lines(log, 3)
    done = cli_all(
        {
            "show": ("show", ckpt),
            "best": ("best", ckpt, "--json"),
            "trials": ("trials", ckpt, "--format", "json"),
            "table": ("trials", ckpt, "--sort", "loss", "--top", "5"),
            "export": ("export", ckpt, "-o", tmp_path / "now.csv"),
            "plot": ("plot", ckpt, "-o", tmp_path / "now.png"),
            "verify": ("verify", ckpt),
        }
    )
    for name, result in done.items():
        assert result.returncode == 0 and "Traceback" not in result.stderr, (name, result.stderr)
    assert f"status:    running now: pid {search.proc.pid} on " in done["show"].stdout
    rows = json_rows(done["trials"])
    assert len(rows) >= 3 and {row["status"] for row in rows} <= {"ok", "running"}
    assert sum(row["status"] == "running" for row in rows) <= 1
    best = json.loads(done["best"].stdout)  # read at its own moment: check it against the objective itself
    assert best["loss"] == loss_of(best["params"]) and best["tid"] < best["trials_done_when_written"]
    assert len(list(csv.DictReader((tmp_path / "now.csv").open()))) >= 3
    assert (tmp_path / "now.png").read_bytes().startswith(b"\x89PNG")

    refused = cli("resume", ckpt, "--max-evals", "2000")
    assert_one_line_error(refused, "is in use by another run", f"pid {search.proc.pid}")

    # The run kept going all along, and goes on after: nothing blocked it.
    seen = len(log.read_text().splitlines())
    wait_for(lambda: len(log.read_text().splitlines()) >= seen + 3)
    assert search.proc.poll() is None
    search.send(signal.SIGINT)
    assert search.finish()[0] == 130
    state = resumable_opt.load(ckpt)
    assert state.n_finished >= seen + 2 and state.running is None


def test_running_and_pending_trials_and_a_killed_run(tmp_path, ckpt, start_search):
    log = tmp_path / "calls.jsonl"
    search = start_search(ckpt, 5, "--delay", "600", "--log", log, "--quiet")
    search.wait_for_log_lines(log, 1)  # written inside the objective: trial 0 is being evaluated
    now = cli_all({"rows": ("trials", ckpt, "--format", "json"), "show": ("show", ckpt)})
    assert [(row["tid"], row["status"], row["loss"], row["duration"]) for row in json_rows(now["rows"])] == [
        (0, "running", None, None)
    ]
    assert "0 of 5 finished (0 failed), 1 running, 0 pending" in now["show"].stdout
    assert "running now" in now["show"].stdout and f"pid {search.proc.pid}" in now["show"].stdout

    search.send(signal.SIGKILL)
    search.finish()
    after = cli_all({"rows": ("trials", ckpt, "--format", "json"), "show": ("show", ckpt)})
    assert [(row["tid"], row["status"]) for row in json_rows(after["rows"])] == [
        (0, "pending")
    ]  # run again first on resume
    assert "0 of 5 finished (0 failed), 0 running, 1 pending" in after["show"].stdout
    assert (
        f"the last run (pid {search.proc.pid} on {socket.gethostname()}) was killed or crashed" in after["show"].stdout
    )
    assert "~0s" in after["show"].stdout  # a killed run's time: up to its last finished trial, here none
