"""Spaces that draw random numbers of their own (hyperopt's ``n_arms`` and ``gauss_wave2``
test domains) give hyperopt's losses trial for trial: run straight through, and through
real interruptions (SIGINT while a trial is being evaluated, resumed in a new process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import hyperopt
import numpy as np
import pytest
from hyperopt import Trials

import resumable_opt
from domain_search import ALGOS, SEED, SlowPassthrough, domain_space

HERE = Path(__file__).parent
WORKTREE = HERE.parent.parent
DOMAINS = ["n_arms", "gauss_wave2"]


def hyperopt_losses(domain: str, algo: str, n: int) -> list[float]:
    trials = Trials()
    hyperopt.fmin(
        SlowPassthrough(), domain_space(domain), ALGOS[algo], n, trials=trials,
        rstate=np.random.default_rng(SEED), show_progressbar=False,
    )  # fmt: skip
    return trials.losses()


@pytest.mark.parametrize("progress", [True, False], ids=["progress", "quiet"])
@pytest.mark.parametrize("algo", ["tpe", "anneal"])
@pytest.mark.parametrize("domain", DOMAINS)
def test_same_losses_as_hyperopt(tmp_path, domain, algo, progress):
    n = 30
    trials = Trials()
    resumable_opt.fmin(
        SlowPassthrough(), domain_space(domain), ALGOS[algo], n, trials=trials, rstate=np.random.default_rng(SEED),
        show_progressbar=progress, checkpoint=tmp_path / "s.ckpt",
    )  # fmt: skip
    assert trials.losses() == hyperopt_losses(domain, algo, n)
    assert resumable_opt.load(tmp_path / "s.ckpt").best_loss == min(trials.losses())


def run_until_interrupted(ckpt: Path, domain: str, algo: str, n: int, log: Path, after: int) -> None:
    """Start the search in a child process, SIGINT it while it evaluates trial number ``after`` + 1."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKTREE), os.environ.get("PYTHONPATH", "")])}
    command = [
        sys.executable,
        str(HERE / "domain_search.py"),
        str(ckpt),
        domain,
        algo,
        str(n),
        str(log),
        "--delay",
        "0.3",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and len(log.read_text().splitlines()) > after):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the search did not get going"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)  # while the trial after `after` sleeps in the objective, its draw made
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Stopped." in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("domain", DOMAINS)
def test_same_losses_as_hyperopt_through_interruptions(tmp_path, domain):
    n = 24
    ckpt, finished = tmp_path / "s.ckpt", 0
    for run, after in enumerate((5, 7)):
        run_until_interrupted(ckpt, domain, "tpe", n, tmp_path / f"run{run}.log", after)
        assert resumable_opt.load(ckpt).n_finished >= finished + after
        finished = resumable_opt.load(ckpt).n_finished
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKTREE), os.environ.get("PYTHONPATH", "")])}
    log = tmp_path / "last.log"
    command = [sys.executable, str(HERE / "domain_search.py"), str(ckpt), domain, "tpe", str(n), str(log)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "Resuming" in done.stderr, done.stderr
    assert "random generator(s) of its own" not in done.stderr  # their state was restored, no note
    state = resumable_opt.load(ckpt)
    assert len(state.runs) == 3 and state.n_finished == n
    assert state.trials.losses() == hyperopt_losses(domain, "tpe", n)


@pytest.mark.slow
def test_after_a_kill_the_run_says_the_spaces_own_generators_start_afresh(tmp_path):
    """A killed run leaves no snapshot after its last trials: the noted state is older than them."""
    ckpt, log = tmp_path / "s.ckpt", tmp_path / "run.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKTREE), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(HERE / "domain_search.py"), str(ckpt), "gauss_wave2", "tpe", "12", str(log)]
    proc = subprocess.Popen([*command, "--delay", "0.3"], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (log.exists() and len(log.read_text().splitlines()) > 3):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "the search space holds 1 random generator(s) of its own" in done.stderr
    assert resumable_opt.load(ckpt).n_finished == 12
