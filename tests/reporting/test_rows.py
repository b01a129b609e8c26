"""The rows behind ``trials``, ``export``, ``plot`` and ``to_dataframe()``."""

import sys
import textwrap

import pytest
from hyperopt import hp, space_eval
from hyperopt.pyll import scope

import resumable_opt
from resumable_opt.reporting.rows import sort_rows, trial_table
from resumable_opt.space import active_values, parameters


def test_each_label_is_decoded_as_the_objective_saw_it(ckpt):
    space = {
        "optimizer": hp.choice(
            "optimizer", [{"name": "sgd", "momentum": hp.uniform("momentum", 0, 1)}, {"name": "adam"}]
        ),
        "layers": scope.int(hp.quniform("layers", 1, 4, 1)),
        "width": hp.choice("width", [32, 64, 128]),
        "lr": hp.loguniform("lr", -5, 0),
    }
    seen = []

    def objective(params):
        seen.append(params)
        return params["lr"] * params["layers"]

    state = resumable_opt.minimize(objective, space, ckpt, 15, seed=3, progress=False)
    table = trial_table(state)
    assert table.decoded and table.parameters == list(parameters(space))  # the order hyperopt walks the space
    assert sorted(table.parameters) == ["layers", "lr", "momentum", "optimizer", "width"]
    for row, params in zip(table.rows, seen, strict=True):
        assert row["optimizer"] == params["optimizer"]  # the chosen option, not its index
        assert row.get("momentum", "unused") == params["optimizer"].get("momentum", "unused")  # absent where not used
        assert row["layers"] == params["layers"] and type(row["layers"]) is int
        assert row["width"] == params["width"] and row["width"] in (32, 64, 128)
        assert row["lr"] == params["lr"] and type(row["lr"]) is float
    assert {"momentum" in row for row in table.rows} == {True, False}


def test_a_label_named_like_a_column_keeps_both(ckpt):
    space = {"loss": hp.uniform("loss", 0, 1), "status": hp.choice("status", ["a", "b"])}
    state = resumable_opt.minimize(lambda p: p["loss"], space, ckpt, 3, seed=1, progress=False)
    table = trial_table(state)
    assert table.columns == ["tid", "status", "loss", "param:loss", "param:status", "duration", "started"]
    for row in table.rows:
        assert row["loss"] == row["param:loss"] and row["status"] == "ok" and row["param:status"] in ("a", "b")


def test_failed_trials_have_no_loss_and_sort_last(ckpt):
    def objective(params):
        if params["x"] > 0.5:
            raise RuntimeError("diverged")
        return params["x"]

    state = resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, ckpt, 12, seed=2, progress=False)
    rows = trial_table(state).rows
    assert {row["status"] for row in rows} == {"ok", "fail"}
    assert all((row["loss"] is None) == (row["status"] == "fail") for row in rows)
    ordered = sort_rows(rows, "loss")
    losses = [row["loss"] for row in ordered]
    n_ok = sum(row["status"] == "ok" for row in rows)
    assert losses[:n_ok] == sorted(loss for loss in losses if loss is not None) and losses[n_ok:] == [None] * (
        len(rows) - n_ok
    )
    assert [row["loss"] for row in sort_rows(rows, "loss", descending=True)][n_ok:] == [None] * (len(rows) - n_ok)


def test_a_space_whose_module_is_gone_still_shows_what_the_objective_saw(tmp_path, ckpt, monkeypatch):
    """A choice of the user's own objects, whose module is gone: the rows show them as
    the checkpoint stored them when they were asked for (their repr), never failing."""
    module = tmp_path / "my_models.py"
    module.write_text(
        textwrap.dedent("""
        class Model:
            def __init__(self, size):
                self.size = size

            def __repr__(self):
                return f"Model({self.size})"
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_models

    space = {"model": hp.choice("model", [my_models.Model(1), my_models.Model(2)]), "x": hp.uniform("x", 0, 1)}
    resumable_opt.minimize(lambda p: p["x"] * p["model"].size, space, ckpt, 4, seed=1, progress=False)
    monkeypatch.delitem(sys.modules, "my_models")
    module.unlink()

    state = resumable_opt.load(ckpt)
    table = trial_table(state)
    assert table.decoded
    assert table.parameters == ["model", "x"]
    for row, doc in zip(table.rows, state.docs, strict=True):
        index = active_values(doc["misc"]["vals"])["model"]
        assert str(row["model"]) == f"Model({index + 1})"
    assert "Model(" in repr(state) and "raw" not in repr(state)  # the summary's best line too


@pytest.mark.parametrize("seed", [0, 1])
def test_rows_agree_with_hyperopt_space_eval(ckpt, seed):
    space = hp.choice("shape", [("circle", hp.uniform("radius", 0, 2)), ("square", hp.uniform("side", 0, 3))])
    state = resumable_opt.minimize(lambda p: p[1], space, ckpt, 10, seed=seed, progress=False)
    for row, doc in zip(trial_table(state).rows, state.trials._dynamic_trials, strict=True):
        point = space_eval(space, active_values(doc["misc"]["vals"]))
        assert row["shape"] == point
        assert (row.get("radius"), row.get("side")) == ((point[1], None) if point[0] == "circle" else (None, point[1]))
