"""The scripts in examples/ run as users run them, and resume.

Each runs in a child process from a temporary folder (as `python
examples/NAME.py` would), with a small budget; then again with a larger one,
which must go on from the first run's trials rather than start afresh.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import resumable_opt

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{name} exit status {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def run_twice(name: str, folder: Path, checkpoint: str, first: int, second: int) -> tuple[str, str]:
    one = run_example(name, folder, "--max-evals", str(first), "--checkpoint", checkpoint)
    tids = [trial["tid"] for trial in resumable_opt.load(folder / checkpoint).trials.trials]
    assert tids == list(range(first))
    two = run_example(name, folder, "--max-evals", str(second), "--checkpoint", checkpoint)
    assert f"Resuming {checkpoint}: {first} trials done" in two.stderr
    state = resumable_opt.load(folder / checkpoint)
    assert [trial["tid"] for trial in state.trials.trials] == list(range(second))
    assert len(state.runs) == 2
    return one.stdout, two.stdout


def test_every_example_is_tested() -> None:
    tested = {"fmin_dropin.py", "sklearn_search.py", "dask_local_cluster.py", "long_trials_pruning.py"}
    assert {path.name for path in EXAMPLES.glob("*.py")} == tested


def test_fmin_dropin_example_equals_plain_hyperopt(tmp_path: Path) -> None:
    import numpy as np
    from hyperopt import Trials, fmin, tpe

    sys.path.insert(0, str(EXAMPLES))
    try:
        import fmin_dropin  # the example's own space and objective
    finally:
        sys.path.remove(str(EXAMPLES))
    _, out = run_twice("fmin_dropin.py", tmp_path, "checkpoints/fmin.ckpt", 6, 15)
    assert out.startswith("15 trials; best: {")
    # What the one-import change promises: the same trials as hyperopt.fmin with the same rstate.
    trials = Trials()
    fmin(
        fmin_dropin.objective,
        fmin_dropin.SPACE,
        tpe.suggest,
        15,
        trials=trials,
        rstate=np.random.default_rng(0),
        show_progressbar=False,
    )
    ours = resumable_opt.load(tmp_path / "checkpoints/fmin.ckpt").trials
    assert [t["misc"]["vals"] for t in ours.trials] == [t["misc"]["vals"] for t in trials.trials]


@pytest.mark.slow
def test_sklearn_example(tmp_path: Path) -> None:
    _, out = run_twice("sklearn_search.py", tmp_path, "checkpoints/sklearn.ckpt", 2, 3)
    assert out.startswith("best accuracy 0.9")


@pytest.mark.slow
def test_dask_local_cluster_example(tmp_path: Path) -> None:
    _, out = run_twice("dask_local_cluster.py", tmp_path, "checkpoints/dask.ckpt", 3, 5)
    assert out.startswith("best loss ")


@pytest.mark.slow
def test_long_trials_example_reports_every_epoch_and_prunes(tmp_path: Path) -> None:
    _, out = run_twice("long_trials_pruning.py", tmp_path, "checkpoints/digits.ckpt", 3, 8)
    assert " of 8 trials pruned; best loss " in out
    state = resumable_opt.load(tmp_path / "checkpoints/digits.ckpt")
    assert len(state.intermediate(0)) == 10  # the first trials run all their epochs: nothing to compare yet
