"""``fork``: going on with a changed space in a new checkpoint, with every old trial that fits."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from hyperopt import hp
from hyperopt.pyll import scope

import resumable_opt
from resumable_opt.space import active_values
from searches import SPACES, loss_of


@pytest.fixture
def old(tmp_path):
    path = tmp_path / "old.ckpt"
    resumable_opt.minimize(loss_of, SPACES["mixed"](), path, 20, seed=4, progress=False)
    return path


def points(state):
    return {doc["tid"]: active_values(doc["misc"]["vals"]) for doc in state.trials._dynamic_trials}


def test_a_widened_space_brings_every_trial_and_the_search_goes_on(tmp_path, old):
    wider = SPACES["mixed_wider"]()
    with pytest.raises(resumable_opt.SpaceMismatch) as refused:
        resumable_opt.minimize(loss_of, wider, old, 25, progress=False)
    assert f"resumable-opt fork {old} NEW.ckpt --space FILE.py:NAME" in str(refused.value)
    assert "resumable_opt.fork(old, new, space=...)" in str(refused.value)

    new = tmp_path / "new.ckpt"
    result = resumable_opt.fork(old, new, space=wider)
    before = resumable_opt.load(old)
    assert result.left_out == [] and sorted(result.brought) == list(range(20))
    assert points(result.state) == {result.brought[tid]: point for tid, point in points(before).items()}
    assert result.state.best_loss == before.best_loss and result.state.best == before.best
    state = resumable_opt.minimize(loss_of, wider, new, 25, seed=1, progress=False)
    assert state.n_finished == 25 and resumable_opt.load(old).n_finished == 20  # the old search is untouched


def test_trials_that_do_not_fit_are_left_out_and_listed(tmp_path, old):
    narrower = {
        "x": hp.uniform("x", 0, 5),
        "y": hp.loguniform("y", -3, 2),
        # options reordered: an old index would now mean the other option
        "kind": hp.choice("kind", [{"name": "poly", "degree": scope.int(hp.quniform("degree", 1, 5, 1))}, "linear"]),
    }
    result = resumable_opt.fork(old, tmp_path / "new.ckpt", space=narrower)
    before = points(resumable_opt.load(old))
    assert len(result.brought) + len(result.left_out) == 20 and result.left_out
    reasons = dict(result.left_out)
    for tid, point in before.items():
        if point["x"] < 0:
            assert reasons[tid] == f"x={point['x']:.6g} is outside the new range"
        else:
            assert "other values" in reasons[tid] or "does not decode" in reasons[tid], reasons[tid]
    assert result.state.n_trials == len(result.brought) == 0


def test_a_new_option_with_its_own_label_keeps_every_old_trial(tmp_path, old):
    grown = SPACES["mixed"]()
    grown["kind"] = hp.choice(
        "kind",
        [
            "linear",
            {"name": "poly", "degree": scope.int(hp.quniform("degree", 1, 5, 1))},
            {"name": "rbf", "gamma": hp.loguniform("gamma", -3, 0)},
        ],
    )
    result = resumable_opt.fork(old, tmp_path / "new.ckpt", space=grown, seed=3)
    assert result.left_out == [] and result.state.n_trials == 20


def test_fork_never_writes_over_a_checkpoint(tmp_path, old):
    with pytest.raises(resumable_opt.CheckpointError, match="already exists"):
        resumable_opt.fork(old, old, space=SPACES["mixed_wider"]())


def test_the_fork_command(tmp_path, old):
    (tmp_path / "spaces.py").write_text(
        textwrap.dedent("""
        from hyperopt import hp
        from hyperopt.pyll import scope
        POLY = {"name": "poly", "degree": scope.int(hp.quniform("degree", 1, 5, 1))}
        KIND = hp.choice("kind", ["linear", POLY])
        NARROW = {"x": hp.uniform("x", 0, 5), "y": hp.loguniform("y", -3, 2), "kind": KIND}
        """)
    )
    done = subprocess.run(
        [sys.executable, "-m", "resumable_opt", "fork", "old.ckpt", "narrow.ckpt", "--space", "spaces.py:NARROW"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    n_negative = sum(point["x"] < 0 for point in points(resumable_opt.load(old)).values())
    assert lines[0] == f"Forked old.ckpt into narrow.ckpt: {20 - n_negative} of 20 trials brought over."
    assert lines[1] == f"{n_negative} trial{'s' if n_negative != 1 else ''} left out (not in the new space):"
    assert all(line.startswith("  trial ") and "is outside the new range" in line for line in lines[2 : 2 + n_negative])
    assert lines[-1] == "Go on with: resumable-opt resume narrow.ckpt --max-evals N"
    assert resumable_opt.load(tmp_path / "narrow.ckpt").n_trials == 20 - n_negative
    again = subprocess.run(
        [sys.executable, "-m", "resumable_opt", "fork", "old", "other.ckpt", "--space", "spaces.py:NARROW"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 1 and "did you mean old.ckpt?" in again.stderr and "Traceback" not in again.stderr
