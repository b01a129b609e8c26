"""Guarantee 1: the runner changes nothing about how hyperopt searches."""

import numpy as np
import pytest
from hyperopt import Trials, anneal, fmin, rand, tpe

import resumable_opt
from searches import SPACES, history, loss_of


@pytest.mark.parametrize("algo", [tpe.suggest, rand.suggest, anneal.suggest], ids=["tpe", "rand", "anneal"])
@pytest.mark.parametrize("seed", [0, 123])
def test_trials_equal_those_of_fmin(tmp_path, algo, seed):
    trials = Trials()
    argmin = fmin(
        loss_of, SPACES["mixed"](), algo, 40, trials=trials, rstate=np.random.default_rng(seed), show_progressbar=False
    )
    state = resumable_opt.minimize(
        loss_of, SPACES["mixed"](), tmp_path / "s.ckpt", 40, algo=algo, seed=seed, progress=False
    )
    assert history(state.trials) == history(trials)
    assert state.argmin == argmin
    # and the same again when read back from the file
    assert history(resumable_opt.load(tmp_path / "s.ckpt").trials) == history(trials)


def test_best_is_decoded_like_space_eval(tmp_path):
    from hyperopt import space_eval

    state = resumable_opt.minimize(loss_of, SPACES["mixed"](), tmp_path / "s.ckpt", 25, seed=3, progress=False)
    assert state.best == space_eval(SPACES["mixed"](), state.argmin)
    assert state.best_loss == min(doc["result"]["loss"] for doc in state.trials.trials)
    assert state.best_loss == pytest.approx(loss_of(state.best))
