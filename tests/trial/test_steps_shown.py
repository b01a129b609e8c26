"""Intermediate values and pruned trials in ``trials``, ``trials --steps``,
``show``, ``plot``, ``to_dataframe()`` and ``load().intermediate()``."""

import json
import subprocess
import sys

import pytest
from hyperopt import hp

import resumable_opt
from resumable_opt.reporting.plot import search_figure

pytestmark = pytest.mark.slow  # a search, then the commands in child processes


def curve_objective(params):
    trial = resumable_opt.current_trial()
    value = 0.0
    for step in range(5):
        value = params["x"] * 10 + 1.0 / (step + 1)
        trial.report(step, value)
        if trial.should_prune():
            raise resumable_opt.TrialPruned()
    return value


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "resumable_opt", *map(str, args)], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def pruned_search(tmp_path_factory):
    ckpt = tmp_path_factory.mktemp("steps") / "steps.ckpt"
    space = {"x": hp.uniform("x", 0, 1)}
    pruner = resumable_opt.MedianPruner(n_startup_trials=3)
    resumable_opt.minimize(curve_objective, space, ckpt, 16, seed=4, progress=False, pruner=pruner)
    state = resumable_opt.load(ckpt)
    pruned = [doc for doc in state.trials._dynamic_trials if doc["result"].get("pruned")]
    assert pruned and len(pruned) < 16
    return ckpt, state, pruned


def test_trials_has_a_pruned_status_and_the_step(pruned_search):
    ckpt, state, pruned = pruned_search
    done = cli("trials", ckpt, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    by_tid = {row["tid"]: row for row in rows}
    for doc in state.trials._dynamic_trials:
        row = by_tid[doc["tid"]]
        if doc["result"].get("pruned"):
            assert (
                row["status"] == "pruned"
                and row["step"] == doc["result"]["step"]
                and row["loss"] == doc["result"]["loss"]
            )
            assert row["loss"] == state.intermediate(doc["tid"])[row["step"]]
        else:
            assert row["status"] == "ok" and row["step"] == 4
    frame = state.to_dataframe()
    assert list(frame.columns[:4]) == ["tid", "status", "loss", "step"]
    assert (frame["status"] == "pruned").sum() == len(pruned)


def test_trials_steps_lists_every_reported_value(pruned_search):
    ckpt, state, _ = pruned_search
    done = cli("trials", ckpt, "--steps", "--format", "csv")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "tid,status,step,value"
    expected = [(tid, step, value) for tid, values in state.intermediate().items() for step, value in values.items()]
    assert [(int(t), int(s), float(v)) for t, _, s, v in (line.split(",") for line in lines[1:])] == expected
    table = cli("trials", ckpt, "--steps", "--sort", "value", "--top", "3")
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 4


def test_show_counts_the_values_and_the_pruned_trials(pruned_search):
    ckpt, state, pruned = pruned_search
    done = cli("show", ckpt)
    count = sum(len(values) for values in state.intermediate().values())
    assert f"steps:     {count} intermediate values from 16 trials; {len(pruned)} pruned" in done.stdout


def test_plot_draws_the_curves_with_the_pruned_ones_dimmed(pruned_search):
    _, state, pruned = pruned_search
    figure, _ = search_figure(state)
    curves = next(axes for axes in figure.axes if axes.get_xlabel() == "step")
    lines = {line.get_gid(): line for line in curves.lines}
    assert set(lines) == {
        f"{'pruned' if state.trials._dynamic_trials[tid]['result'].get('pruned') else 'trials'} {tid}"
        for tid in range(16)
    }
    for tid, values in state.intermediate().items():
        kind = "pruned" if any(doc["tid"] == tid for doc in pruned) else "trials"
        line = lines[f"{kind} {tid}"]
        assert list(line.get_ydata()) == list(values.values())
        assert (line.get_alpha() < 0.5) == (kind == "pruned")


def test_a_search_without_reports_shows_no_step_column(tmp_path):
    ckpt = tmp_path / "plain.ckpt"
    resumable_opt.minimize(lambda params: params["x"], {"x": hp.uniform("x", 0, 1)}, ckpt, 3, seed=0, progress=False)
    assert "step" not in resumable_opt.load(ckpt).to_dataframe().columns
    done = cli("trials", ckpt, "--steps")
    assert done.returncode == 0 and "no intermediate values reported yet" in done.stderr
