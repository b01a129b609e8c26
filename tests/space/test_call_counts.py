"""A function of the space runs exactly as often as under ``hyperopt.fmin``: once per
evaluation, never to show, store or inspect a trial (issue 16).

``counting_space`` counts every call of its ``scope.define``d function in a
file, from any process: the runner, worker processes, command-line processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hyperopt
import numpy as np
import pytest
from hyperopt import Trials, tpe

import resumable_opt
from counting_space import Counter, calls_for, make_space, objective
from resumable_opt.importing import add_points, import_trials
from resumable_opt.reporting.rows import trial_table

HERE = Path(__file__).parent
WORKTREE = HERE.parent.parent
N = 20
SEED = 3


def hyperopt_run(tmp_path: Path, n: int = N) -> tuple[int, Trials]:
    """What hyperopt.fmin does: its count of calls and its trials."""
    counter = Counter(tmp_path / "hyperopt.calls")
    trials = Trials()
    hyperopt.fmin(
        objective,
        make_space(counter),
        tpe.suggest,
        n,
        trials=trials,
        rstate=np.random.default_rng(SEED),
        show_progressbar=False,
    )
    return counter.calls(), trials


def points(trials) -> list[dict]:
    return [doc["misc"]["vals"] for doc in trials.trials]


def expected_calls(trials) -> int:
    return sum(calls_for(vals) for vals in points(trials))


@pytest.mark.parametrize("progress", [True, False], ids=["progress", "quiet"])
@pytest.mark.parametrize("on_checkpoint", [True, False], ids=["checkpoint", "plain"])
def test_fmin_calls_the_space_as_often_as_hyperopt(tmp_path, progress, on_checkpoint):
    hyperopt_calls, hyperopt_trials = hyperopt_run(tmp_path)
    assert hyperopt_calls == expected_calls(hyperopt_trials) >= N  # the counter counts what it should
    counter = Counter(tmp_path / "ours.calls")
    trials = Trials()
    resumable_opt.fmin(
        objective, make_space(counter), tpe.suggest, N, trials=trials, rstate=np.random.default_rng(SEED),
        show_progressbar=progress, checkpoint=tmp_path / "s.ckpt" if on_checkpoint else None,
    )  # fmt: skip
    assert points(trials) == points(hyperopt_trials)
    assert counter.calls() == hyperopt_calls


@pytest.mark.parametrize("progress", [True, False], ids=["progress", "quiet"])
def test_minimize_and_its_resume_call_the_space_as_often_as_hyperopt(tmp_path, progress, capsys):
    hyperopt_calls, hyperopt_trials = hyperopt_run(tmp_path)
    counter = Counter(tmp_path / "ours.calls")
    first = resumable_opt.minimize(
        objective, make_space(counter), tmp_path / "s.ckpt", N // 2, seed=SEED, progress=progress
    )
    assert points(first.trials) == points(hyperopt_trials)[: N // 2]
    assert counter.calls() == expected_calls(first.trials)
    # Resumed with a new space object, as a new process would: its start-up line shows the best, decoded.
    state = resumable_opt.minimize(objective, make_space(counter), tmp_path / "s.ckpt", N, seed=SEED, progress=progress)
    said = capsys.readouterr().err
    assert ("best so far: a=" in said) == progress and (f"trial {N}/{N}" in said) == progress
    assert points(state.trials) == points(hyperopt_trials)
    assert counter.calls() == hyperopt_calls


@pytest.mark.slow
def test_looking_at_a_search_never_calls_the_space(tmp_path):
    counter = Counter(tmp_path / "ours.calls")
    ckpt = tmp_path / "s.ckpt"
    state = resumable_opt.minimize(objective, make_space(counter), ckpt, N, seed=SEED, progress=False)
    ran = counter.calls()
    assert ran == expected_calls(state.trials)

    state = resumable_opt.load(ckpt)
    assert state.best is not None and set(state.best) == {"a", "b"} | ({"c"} if "c" in state.best else set())
    repr(state), state._repr_html_(), trial_table(state), state.to_dataframe()
    for doc in state.trials.trials:
        state.decoded(doc)
    import_trials(state.trials, make_space(counter), tmp_path / "imported.ckpt")
    assert resumable_opt.load(tmp_path / "imported.ckpt").best == state.best
    add_points(ckpt, [{"a": 0.5, "b": 1, "c": 0.25}, {"a": 0.5, "b": 0}])
    assert counter.calls() == ran

    # The commands, each in its own process: they unpickle the space (which registers the counted
    # function there), so running the space would be counted.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(WORKTREE), os.environ.get("PYTHONPATH", "")])}
    for command in (
        ["show"],
        ["best"],
        ["best", "--json"],
        ["trials"],
        ["export", "-o", str(tmp_path / "t.csv")],
        ["plot", "-o", str(tmp_path / "p.png")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "resumable_opt", command[0], str(ckpt), *command[1:]],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, (command, done.stderr)
        assert "cannot be loaded" not in done.stdout + done.stderr  # the space was unpickled, parameters decoded
    assert counter.calls() == ran
    assert (tmp_path / "ours.calls").read_text().split() == [str(os.getpid())] * ran


@pytest.mark.slow
def test_in_worker_processes_each_evaluation_calls_the_space_once(tmp_path):
    """With n_jobs=2 the trials are not hyperopt's (they depend on the order trials finish in), so
    hyperopt's count is that of evaluating these very trials once each."""
    counter = Counter(tmp_path / "ours.calls")
    ckpt = tmp_path / "s.ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKTREE), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(HERE / "counting_space.py"), str(ckpt), str(N), counter.path, "--n-jobs", "2"]
    done = subprocess.run([*command, "--progress"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    state = resumable_opt.load(ckpt)
    assert state.n_finished == N and state.n_failed == 0
    assert counter.calls() == expected_calls(state.trials)
    runner = {run.pid for run in state.runs}
    assert counter.pids() and not counter.pids() & runner  # all in the workers, none in the runner
