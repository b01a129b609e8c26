"""Bringing hyperopt Trials over (import_trials, `resumable-opt import`) and warm starts (add_points)."""

import pickle
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from hyperopt import Trials, fmin, hp, tpe
from hyperopt.early_stop import no_progress_loss

import resumable_opt
from resumable_opt.importing import TrialsDontFit
from searches import SPACES, history, loss_of

FILE_SPACE = """
from hyperopt import hp
from hyperopt.pyll import scope
space = {
    "x": hp.uniform("x", -5, 5),
    "y": hp.loguniform("y", -3, 2),
    "kind": hp.choice("kind", ["linear", {"name": "poly", "degree": scope.int(hp.quniform("degree", 1, 5, 1))}]),
}
other = {"x": hp.uniform("x", -5, 5), "z": hp.uniform("z", 0, 1)}
"""


def hyperopt_trials(n, seed=2):
    trials = Trials()
    fmin(
        loss_of,
        SPACES["mixed"](),
        tpe.suggest,
        n,
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return trials


@pytest.fixture
def pickled(tmp_path):
    path = tmp_path / "trials.pkl"
    path.write_bytes(pickle.dumps(hyperopt_trials(10)))
    return path


def test_imported_trials_are_the_history_tpe_goes_on_from(tmp_path, pickled):
    state = resumable_opt.import_trials(pickled, SPACES["mixed"](), tmp_path / "i.ckpt", fn=loss_of)
    assert state.n_finished == 10 and history(state.trials) == history(hyperopt_trials(10))
    assert resumable_opt.load(tmp_path / "i.ckpt").best == state.best
    # going on from them is hyperopt going on from the same Trials with the same rstate
    ours = Trials()
    resumable_opt.fmin(
        loss_of,
        SPACES["mixed"](),
        tpe.suggest,
        25,
        trials=ours,
        rstate=np.random.default_rng(7),
        show_progressbar=False,
        checkpoint=tmp_path / "i.ckpt",
    )
    theirs = hyperopt_trials(10)
    fmin(
        loss_of,
        SPACES["mixed"](),
        tpe.suggest,
        25,
        trials=theirs,
        rstate=np.random.default_rng(7),
        show_progressbar=False,
    )
    assert history(ours) == history(theirs)
    # and with no seed anywhere, the objective stored at import time resumes it without the script
    resumable_opt.import_trials(pickled, SPACES["mixed"](), tmp_path / "j.ckpt", fn=loss_of, seed=4)
    assert resumable_opt.minimize(None, None, tmp_path / "j.ckpt", 14, progress=False).n_finished == 14


def test_import_from_a_trials_object_and_unfinished_trials_run_first(tmp_path):
    trials = hyperopt_trials(6)
    trials._dynamic_trials[-1]["state"] = 1  # running when its process was killed
    state = resumable_opt.import_trials(trials, SPACES["mixed"](), tmp_path / "o.ckpt", seed=1)
    assert state.n_pending == 1 and trials._dynamic_trials[-1]["state"] == 1  # the source is not changed
    seen = []

    def objective(params):
        seen.append(params)
        return loss_of(params)

    resumable_opt.minimize(objective, SPACES["mixed"](), tmp_path / "o.ckpt", 8, progress=False)
    from hyperopt import space_eval

    assert seen[0] == space_eval(
        SPACES["mixed"](), {k: v[0] for k, v in trials._dynamic_trials[-1]["misc"]["vals"].items() if v}
    )
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (
            {"x": hp.uniform("x", -5, 5), "y": hp.loguniform("y", -3, 2)},
            "has label(s) 'degree', 'kind', which the space does not have",
        ),
        ({**SPACES["mixed"](), "z": hp.uniform("z", 0, 1)}, "no trial has the label(s) 'z' of the space"),
        (
            {**SPACES["mixed"](), "kind": hp.choice("kind", ["linear"]), "degree": hp.quniform("degree", 1, 5, 1)},
            "does not fit the space (IndexError",
        ),
    ],
    ids=["labels missing", "label added", "fewer choices"],
)
def test_trials_that_do_not_fit_the_space_are_refused(tmp_path, pickled, space, message):
    with pytest.raises(TrialsDontFit, match=re.escape(message)):
        resumable_opt.import_trials(pickled, space, tmp_path / "bad.ckpt")
    assert not (tmp_path / "bad.ckpt").exists()


def test_import_refuses_to_write_over_a_search_and_bad_files(tmp_path, pickled):
    ckpt = tmp_path / "x.ckpt"
    resumable_opt.import_trials(pickled, SPACES["mixed"](), ckpt)
    before = ckpt.read_bytes()
    with pytest.raises(resumable_opt.CheckpointError, match="already exists"):
        resumable_opt.import_trials(pickled, SPACES["mixed"](), ckpt)
    with pytest.raises(resumable_opt.CheckpointError, match="is already a resumable-opt checkpoint"):
        resumable_opt.import_trials(ckpt, SPACES["mixed"](), tmp_path / "y.ckpt")
    assert ckpt.read_bytes() == before
    torn = tmp_path / "torn.pkl"
    torn.write_bytes(pickled.read_bytes()[:-40])  # what a kill during trials_save_file's rewrite leaves
    with pytest.raises(resumable_opt.CheckpointError, match="is not a readable pickle"):
        resumable_opt.import_trials(torn, SPACES["mixed"](), tmp_path / "z.ckpt")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(resumable_opt.CheckpointError, match="holds a list, not a hyperopt Trials"):
        resumable_opt.import_trials(tmp_path / "list.pkl", SPACES["mixed"](), tmp_path / "z.ckpt")


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "resumable_opt", *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd
    )


@pytest.mark.slow
def test_import_command(tmp_path, pickled):
    (tmp_path / "myspace.py").write_text(FILE_SPACE)
    ckpt = tmp_path / "cli.ckpt"
    done = cli("import", pickled, ckpt, "--space", tmp_path / "myspace.py:space", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert "Imported 10 trials (0 failed, 0 not finished)" in done.stdout and "checkpoint=" in done.stdout
    assert history(resumable_opt.load(ckpt).trials) == history(hyperopt_trials(10))
    assert resumable_opt.load(ckpt).seed == 3

    wrong = cli("import", pickled, tmp_path / "w.ckpt", "--space", "myspace:other", cwd=tmp_path)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert wrong.stderr.startswith("resumable-opt: error:") and "which the space does not have" in wrong.stderr
    missing = cli("import", tmp_path / "nope.pkl", tmp_path / "w.ckpt", "--space", tmp_path / "myspace.py:space")
    assert missing.returncode == 1 and "nope.pkl: no such file" in missing.stderr
    bad_spec = cli("import", pickled, tmp_path / "w.ckpt", "--space", "myspace")
    assert bad_spec.returncode == 1 and "module:attribute" in bad_spec.stderr
    assert not (tmp_path / "w.ckpt").exists()


def test_added_points_are_evaluated_first_when_the_search_goes_on(tmp_path):
    ckpt = tmp_path / "p.ckpt"
    resumable_opt.fmin(
        loss_of,
        SPACES["mixed"](),
        tpe.suggest,
        6,
        rstate=np.random.default_rng(1),
        show_progressbar=False,
        checkpoint=ckpt,
    )
    points = [{"x": 1.0, "y": 1.0, "kind": 0}, {"x": 0.5, "y": 2.0, "kind": 1, "degree": 3.0}]
    assert resumable_opt.add_points(ckpt, points) == [6, 7]
    state = resumable_opt.load(ckpt)
    assert state.n_pending == 2 and state.n_finished == 6
    seen = []

    def objective(params):
        seen.append(params)
        return loss_of(params)

    resumable_opt.fmin(
        objective,
        SPACES["mixed"](),
        tpe.suggest,
        10,
        rstate=np.random.default_rng(1),
        show_progressbar=False,
        early_stop_fn=no_progress_loss(5),
        checkpoint=ckpt,
    )
    assert seen[:2] == [
        {"x": 1.0, "y": 1.0, "kind": "linear"},
        {"x": 0.5, "y": 2.0, "kind": {"name": "poly", "degree": 3}},
    ]
    assert len(seen) == 4 and resumable_opt.load(ckpt).best_loss == 0.0  # x=1, y=1, linear is the optimum

    before = ckpt.read_bytes()
    with pytest.raises(TrialsDontFit, match="label\\(s\\) 'lr', which the space does not have"):
        resumable_opt.add_points(ckpt, [{"lr": 0.1}])
    with pytest.raises(TrialsDontFit, match="give a value for each label the point uses"):
        resumable_opt.add_points(ckpt, [{"x": 1.0, "y": 1.0, "kind": 1}])  # "poly" needs its degree
    assert ckpt.read_bytes() == before


@pytest.mark.slow
def test_add_points_command_and_lock(tmp_path, start_search):
    ckpt = tmp_path / "search.ckpt"
    log = tmp_path / "calls.jsonl"
    search = start_search(ckpt, 50, "--delay", "0.5", "--log", log, "--quiet")
    search.wait_for_log_lines(log, 1)
    busy = cli("add-points", ckpt, '{"x": 1.0, "y": 1.0, "kind": 0}')
    assert busy.returncode == 1 and "is in use by another run" in busy.stderr
    search.send(signal.SIGTERM)
    assert search.finish()[0] == 143
    done = cli("add-points", ckpt, '[{"x": 1.0, "y": 1.0, "kind": 0}]', '{"x": 2.0, "y": 1.0, "kind": 0}')
    assert done.returncode == 0, done.stderr
    assert "Added 2 point(s)" in done.stdout and "evaluates them first" in done.stdout
    bad = cli("add-points", ckpt, "{x: 1}")
    assert bad.returncode == 1 and "is not JSON" in bad.stderr
    state = resumable_opt.load(ckpt)
    assert [doc["misc"]["vals"] for doc in state.trials._dynamic_trials[-2:]] == [
        {"x": [1.0], "y": [1.0], "kind": [0]},
        {"x": [2.0], "y": [1.0], "kind": [0]},
    ]
