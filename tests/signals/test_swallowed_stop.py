"""Issue 10, item 9: an objective with a bare ``except:`` (or ``except
BaseException``) cannot swallow a stop.  The run stops once the evaluation
returns, whatever the objective did with the signal; that evaluation is not
recorded (it is evaluated again on resume, first, with the same parameters);
a further signal while nothing is being saved stops the run at once."""

import signal
import sys

import pytest

import resumable_opt
from resumable_opt.checkpoint.lock import owner_path
from stop_helpers import EXIT, HERE, env_with_path, lines, start, wait_until

# Real processes and real signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow

SCRIPT = HERE / "swallowing_search.py"


def search(ckpt, log, mode, *extra):
    return start([sys.executable, SCRIPT, ckpt, 6, "--log", log, "--mode", mode, *extra], env=env_with_path())


def swallowed(log):
    return log.with_name(log.name + ".swallowed")


def resume_and_check_the_point_is_run_again(ckpt, log):
    done = search(ckpt, log, "ok")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    assert "1 interrupted trial will be run again first" in err
    calls = lines(log)
    assert calls[-6] == calls[0], "the evaluation cut short is run again first, with the same parameters"
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and state.n_failed == 0


@pytest.mark.parametrize(
    "mode, signum",
    [("return", signal.SIGINT), ("raise", signal.SIGTERM), ("continue", signal.SIGHUP), ("return", signal.SIGHUP)],
    ids=["return-INT", "raise-TERM", "continue-HUP", "return-HUP"],
)
def test_a_stop_the_objective_swallows_still_stops_the_run_and_the_point_runs_again(tmp_path, mode, signum):
    ckpt, log = tmp_path / "s.ckpt", tmp_path / "calls.jsonl"
    process = search(ckpt, log, mode)
    wait_until(lambda: len(lines(log)) == 1, what="the first evaluation", proc=process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == EXIT[signum], err
    assert "Traceback" not in err and "0 trials are done" in err
    assert lines(swallowed(log)) == ["swallowed"], "the objective did swallow the signal"
    assert len(lines(log)) == 1, "no further evaluation after the stop"
    state = resumable_opt.load(ckpt)
    assert state.runs[-1].outcome == f"interrupted by {signal.Signals(signum).name}"
    assert state.n_finished == 0 and state.n_pending == 1, "what it returned after the stop is not its result"
    resume_and_check_the_point_is_run_again(ckpt, log)


@pytest.mark.parametrize(
    "first, second",
    [(signal.SIGINT, signal.SIGINT), (signal.SIGHUP, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT)],
    ids=["INT-INT", "HUP-TERM", "TERM-INT"],
)
def test_a_further_signal_stops_an_objective_that_swallows_everything_at_once(tmp_path, first, second):
    ckpt, log = tmp_path / "s.ckpt", tmp_path / "calls.jsonl"
    process = search(ckpt, log, "forever")
    wait_until(lambda: len(lines(log)) == 1, what="the first evaluation", proc=process)
    process.send_signal(first)
    wait_until(lambda: lines(swallowed(log)), what="the objective to swallow the first signal", proc=process)
    process.send_signal(second)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT[first], err
    assert "Traceback" not in err and "0 trials are done" in err
    state = resumable_opt.load(ckpt)
    assert state.runs[-1].outcome == f"interrupted by {signal.Signals(first).name}"
    assert state.n_finished == 0 and state.n_pending == 1
    assert not owner_path(ckpt).exists(), "the run ended at once, and said so: it is not running any more"
    assert state.running is None
    resume_and_check_the_point_is_run_again(ckpt, log)
