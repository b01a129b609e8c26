"""resumable_opt.fmin against hyperopt.fmin: every algorithm, every kind of space.

For each algorithm and space kind: the same trials as hyperopt.fmin for the
same rstate, also when the search is stopped by a real SIGINT in the middle
of an evaluation and resumed by calling fmin again; the decoded best (the
return value with return_argmin=False, load().best, the best JSON) equal to
hyperopt.space_eval of the argmin.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hyperopt import Trials, fmin, hp, space_eval

import resumable_opt
from dropin_spaces import ALGOS, SPACES, loss_of
from resumable_opt.checkpoint.encoding import displayable
from resumable_opt.space import to_jsonable
from searches import history

N = 14
TESTS = Path(__file__).parent


def seed_the_global_generators():
    """atpe draws from Python's global random and numpy's global generator, not from rstate."""
    random.seed(0)
    np.random.seed(0)


def hyperopt_run(space_name, algo_name, n=N, seed=5):
    seed_the_global_generators()
    trials = Trials()
    argmin = fmin(
        loss_of,
        SPACES[space_name](),
        ALGOS[algo_name],
        n,
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return trials, argmin


class SignalAt:
    """The objective, sending this very process a real SIGINT during its k-th call."""

    def __init__(self, k):
        self.k, self.calls = k, 0

    def __call__(self, params):
        self.calls += 1
        if self.calls == self.k:
            signal.raise_signal(signal.SIGINT)
        return loss_of(params)


@pytest.mark.parametrize("space_name", sorted(SPACES))
@pytest.mark.parametrize("algo_name", sorted(ALGOS))
def test_same_trials_as_hyperopt_with_an_interruption(tmp_path, algo_name, space_name):
    ckpt = tmp_path / "s.ckpt"
    try:
        expected, argmin = hyperopt_run(space_name, algo_name)
    except Exception as exc:  # atpe supports only some kinds of space: then the same error, from the same place
        # From the same global generators as hyperopt's run: hyperopt 0.2.7's atpe fails on a nested
        # space or not depending on its draws (numpy's global generator is seeded afresh by each process).
        seed_the_global_generators()
        with pytest.raises(type(exc)) as raised:
            resumable_opt.fmin(
                loss_of,
                SPACES[space_name](),
                ALGOS[algo_name],
                N,
                rstate=np.random.default_rng(5),
                show_progressbar=False,
                checkpoint=ckpt,
            )
        assert str(raised.value) == str(exc) and algo_name == "atpe"
        return
    space = SPACES[space_name]()
    seed_the_global_generators()
    with pytest.raises(resumable_opt.SearchInterrupted):
        resumable_opt.fmin(
            SignalAt(6),
            space,
            ALGOS[algo_name],
            N,
            rstate=np.random.default_rng(5),
            show_progressbar=False,
            checkpoint=ckpt,
        )
    before = history(resumable_opt.load(ckpt).trials)
    assert len(before) == 6 and resumable_opt.load(ckpt).n_finished == 5
    trials = Trials()
    best = resumable_opt.fmin(
        loss_of, SPACES[space_name](), ALGOS[algo_name], N, trials=trials, rstate=np.random.default_rng(5),
        show_progressbar=False, return_argmin=False, checkpoint=ckpt,
    )  # fmt: skip
    if algo_name == "atpe":
        # atpe also draws from numpy's global random state and learns from evaluation times, so
        # not even two hyperopt.fmin calls agree: the resumed search keeps its history and goes on.
        assert [(tid, vals) for tid, vals, _ in history(trials)[:6]] == [(tid, vals) for tid, vals, _ in before]
        assert len(trials.trials) == N and trials.count_by_state_unsynced(2) == N
        argmin = trials.argmin
    else:
        assert history(trials) == history(expected)
    decoded = space_eval(SPACES[space_name](), argmin)
    assert trials.argmin == argmin
    assert best == decoded
    state = resumable_opt.load(ckpt)
    # What is not data in a point (np.tanh chosen by an hp.choice) is read back as its repr:
    # reading a checkpoint never unpickles.
    assert state.best == displayable(decoded) and state.argmin == argmin
    assert json.loads((tmp_path / "s.ckpt.best.json").read_text())["params"] == to_jsonable(decoded)
    assert state.decoded(state.best_trial) == displayable(decoded)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("space_name", "algo_name", "signum"),
    [
        ("nested", "tpe_partial", signal.SIGKILL),
        ("normals", "anneal", signal.SIGTERM),
        ("choices", "mix", signal.SIGINT),
    ],
)
def test_child_process_killed_then_resumed_equals_hyperopt(tmp_path, space_name, algo_name, signum):
    n = 12
    expected, _ = hyperopt_run(space_name, algo_name, n, seed=3)
    ckpt, log = tmp_path / "c.ckpt", tmp_path / "calls.jsonl"
    args = [sys.executable, str(TESTS / "dropin_spaces.py"), str(ckpt), space_name, algo_name, str(n), "--seed", "3"]
    child = subprocess.Popen([*args, "--delay", "0.2", "--log", str(log)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and len(log.read_text().splitlines()) >= 4):
            assert child.poll() is None and time.monotonic() < deadline, "the search did not get going"
            time.sleep(0.01)
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}[signum], err
    assert "Traceback" not in err
    assert 3 <= resumable_opt.load(ckpt).n_finished < n
    done = subprocess.run([*args, "--log", str(log)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert history(resumable_opt.load(ckpt).trials) == history(expected)
    calls = log.read_text().splitlines()
    # every point once, except the one cut short by the signal, which the resumed run evaluates again
    assert len(set(calls)) == n and len(calls) in (n, n + 1)


@pytest.mark.slow
def test_space_check_across_processes(tmp_path):
    """A space rebuilt in another process (new objects, other hash seed) is the same space;
    a changed one is refused there with what changed."""
    from resumable_opt.space import differences, signature

    out = subprocess.run(
        [sys.executable, str(TESTS / "dropin_spaces.py"), "-", "-", "--signature"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONHASHSEED": "123"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for name, stored in json.loads(out.stdout).items():
        assert stored == signature(SPACES[name]()), name
        assert differences(stored, SPACES[name]()) == []

    changed = {**SPACES["uniforms"](), "uniform": hp.uniform("uniform", -2, 3)}
    ckpt = tmp_path / "u.ckpt"
    resumable_opt.fmin(
        loss_of, changed, ALGOS["tpe"], 3, rstate=np.random.default_rng(1), show_progressbar=False, checkpoint=ckpt
    )
    before = ckpt.read_bytes()
    done = subprocess.run(
        [sys.executable, str(TESTS / "dropin_spaces.py"), str(ckpt), "uniforms", "tpe", "6"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "'uniform': uniform(-2, 3) -> uniform(-2, 2)" in done.stderr and "Nothing was written" in done.stderr
    assert ckpt.read_bytes() == before
