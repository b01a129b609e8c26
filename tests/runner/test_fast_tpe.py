"""minimize and fmin compute hyperopt's TPE with resumable_opt.tpe, unless told not to."""

import functools
import logging

import numpy as np
import pytest
from hyperopt import Trials, fmin, tpe

import resumable_opt
from resumable_opt.tpe.history import HISTORIES
from searches import SPACES, history, loss_of


def run(tmp_path, name, algo, **options):
    trials = Trials()
    resumable_opt.fmin(
        loss_of, SPACES["mixed"](), algo, 45, trials=trials, rstate=np.random.default_rng(4),
        show_progressbar=False, checkpoint=tmp_path / f"{name}.ckpt", **options,
    )  # fmt: skip
    return trials


@pytest.mark.parametrize(
    "algo", [tpe.suggest, functools.partial(tpe.suggest, n_startup_jobs=5, gamma=0.4)], ids=["plain", "partial"]
)
def test_fast_by_default_and_the_trials_are_fmins(tmp_path, algo):
    reference = Trials()
    fmin(
        loss_of, SPACES["mixed"](), algo, 45, trials=reference, rstate=np.random.default_rng(4), show_progressbar=False
    )
    trials = run(tmp_path, "fast", algo)
    assert trials in HISTORIES  # resumable_opt.tpe made the proposals
    assert history(trials) == history(reference)
    # the checkpoint records the algorithm asked for
    assert resumable_opt.load(tmp_path / "fast.ckpt").algo_name.startswith("hyperopt.tpe.suggest")


def test_switched_off_by_environment_for_fmin(tmp_path, monkeypatch):
    fast = run(tmp_path, "fast", tpe.suggest)
    monkeypatch.setenv("RESUMABLE_OPT_FAST_TPE", "0")
    off = run(tmp_path, "off", tpe.suggest)
    assert off not in HISTORIES
    assert history(fast) == history(off)


@pytest.mark.parametrize("environment", [None, "0"])
def test_switched_off_or_on_by_argument_for_minimize(tmp_path, monkeypatch, caplog, environment):
    if environment is not None:
        monkeypatch.setenv("RESUMABLE_OPT_FAST_TPE", environment)
    caplog.set_level(logging.DEBUG, logger="resumable_opt.tpe")
    off = resumable_opt.minimize(loss_of, SPACES["mixed"](), tmp_path / "off.ckpt", 30, seed=2, progress=False,
                                 fast_tpe=False)  # fmt: skip
    assert "following a new Trials" not in caplog.text
    on = resumable_opt.minimize(loss_of, SPACES["mixed"](), tmp_path / "on.ckpt", 30, seed=2, progress=False,
                                fast_tpe=True)  # the argument wins over the environment  # fmt: skip
    assert "following a new Trials" in caplog.text
    assert history(off.trials) == history(on.trials)


def test_resumed_search_rebuilds_the_state_and_goes_on_as_fmin(tmp_path, caplog):
    reference = Trials()
    fmin(loss_of, SPACES["mixed"](), tpe.suggest, 60, trials=reference, rstate=np.random.default_rng(8),
         show_progressbar=False)  # fmt: skip
    path = tmp_path / "r.ckpt"
    resumable_opt.minimize(loss_of, SPACES["mixed"](), path, 35, seed=8, progress=False)
    caplog.set_level(logging.DEBUG, logger="resumable_opt.tpe")
    # resumed with what the checkpoint stores: the objective, the space and hyperopt.tpe.suggest
    state = resumable_opt.minimize(None, None, path, 60, progress=False)
    assert "following a new Trials" in caplog.text
    assert history(state.trials) == history(reference)
