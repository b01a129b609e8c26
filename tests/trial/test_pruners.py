"""The pruners' rules: hand-computed cases, the same decisions as Optuna's
pruners on the same values, and decisions that ignore a trial's values past
the step being decided (so that they are the same after a resume)."""

import math
import random

import pytest
from hyperopt import JOB_STATE_DONE, JOB_STATE_RUNNING

from resumable_opt import MedianPruner, SuccessiveHalvingPruner
from resumable_opt.pruners import History, check_pruner


def done(tid, loss, pruned=False):
    result = {"loss": loss, "status": "ok"}
    if pruned:
        result.update(pruned=True)
    return {"tid": tid, "state": JOB_STATE_DONE, "result": result}


def running(tid):
    return {"tid": tid, "state": JOB_STATE_RUNNING, "result": {"status": "new"}}


def history(curves, finished=(), pruned=()):
    """curves: {tid: [value at step 0, 1, ...]}; finished/pruned: tids (others are running)."""
    intermediate = {tid: dict(enumerate(values)) for tid, values in curves.items()}
    docs = {}
    for tid, values in curves.items():
        if tid in finished or tid in pruned:
            docs[tid] = done(tid, values[-1], pruned=tid in pruned)
        else:
            docs[tid] = running(tid)
    return History(intermediate, docs)


FIVE_DONE = {0: [1.0, 1.0], 1: [2.0, 2.0], 2: [3.0, 3.0], 3: [4.0, 4.0], 4: [5.0, 5.0]}


def test_median_prunes_above_the_median_of_completed_trials_at_that_step():
    pruner = MedianPruner(n_startup_trials=5)
    # completed values at step 0: 1 2 3 4 5, median 3
    assert pruner.prune(history({**FIVE_DONE, 9: [3.5]}, finished=range(5)), 9, 0)
    assert not pruner.prune(history({**FIVE_DONE, 9: [3.0]}, finished=range(5)), 9, 0)  # not worse than the median
    assert not pruner.prune(history({**FIVE_DONE, 9: [2.9]}, finished=range(5)), 9, 0)


def test_median_uses_the_best_value_so_far():
    pruner = MedianPruner(n_startup_trials=5)
    # step 1: its value 10 is above the median 3, but its best so far (1 at step 0) is not
    assert not pruner.prune(history({**FIVE_DONE, 9: [1.0, 10.0]}, finished=range(5)), 9, 1)
    assert pruner.prune(history({**FIVE_DONE, 9: [4.0, 10.0]}, finished=range(5)), 9, 1)


def test_median_waits_for_startup_trials_and_warmup_steps():
    curves = {**FIVE_DONE, 9: [100.0, 100.0]}
    assert not MedianPruner(n_startup_trials=6).prune(history(curves, finished=range(5)), 9, 0)
    assert not MedianPruner(n_startup_trials=5, n_warmup_steps=1).prune(history(curves, finished=range(5)), 9, 0)
    assert MedianPruner(n_startup_trials=5, n_warmup_steps=1).prune(history(curves, finished=range(5)), 9, 1)
    # only completed trials count: pruned and running ones do not
    assert not MedianPruner(n_startup_trials=5).prune(history(curves, finished=range(4), pruned=[4]), 9, 0)
    assert not MedianPruner(n_startup_trials=5).prune(history(curves, finished=range(4)), 9, 0)
    assert MedianPruner(n_startup_trials=4).prune(history(curves, finished=range(4), pruned=[4]), 9, 0)


def test_median_with_no_completed_value_at_that_step_does_not_prune():
    assert not MedianPruner(n_startup_trials=1).prune(history({0: [1.0], 9: [5.0, 5.0]}, finished=[0]), 9, 1)


def test_median_prunes_a_trial_whose_values_are_all_nan():
    assert MedianPruner(n_startup_trials=5).prune(history({**FIVE_DONE, 9: [math.nan]}, finished=range(5)), 9, 0)


def test_successive_halving_rungs_by_hand():
    # min_resource=1, reduction_factor=2: rungs at steps 1, 2, 4, ...
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    assert not pruner.prune(history({0: [9.0]}), 0, 0)  # step 0: no rung reached yet
    # alone at rung 0 (step 1): promoted only as the best of fewer than 2 values: it is
    assert not pruner.prune(history({0: [9.0, 9.0]}), 0, 1)
    # rung 0 values of others: 1 and 5; ours 3: competing [1, 3, 5] -> index 3 // 2 - 1 = 0 -> only 1 goes on
    curves = {0: [0, 1.0], 1: [0, 5.0], 9: [0, 3.0]}
    assert pruner.prune(history(curves, finished=[0, 1]), 9, 1)
    # four competing [1, 2, 3, 5]: index 1 -> values <= 2 go on
    curves = {0: [0, 1.0], 1: [0, 5.0], 2: [0, 3.0], 9: [0, 2.0]}
    assert not pruner.prune(history(curves, finished=[0, 1, 2]), 9, 1)
    # running trials that reached the rung compete too
    curves = {0: [0, 1.0], 1: [0, 5.0], 2: [0, 1.5], 9: [0, 2.0]}
    assert pruner.prune(history(curves, finished=[0, 1]), 9, 1)


def test_successive_halving_auto_resource_and_bootstrap():
    auto = SuccessiveHalvingPruner(reduction_factor=2)
    assert not auto.prune(history({9: [5.0, 5.0]}), 9, 1), "no completed trial: no min_resource yet"
    # a completed trial with 300 steps: min_resource = 300 // 100 = 3, first rung at step 3
    long = {0: [1.0] * 301, 9: [5.0] * 4}
    assert not auto.prune(history(long, finished=[0]), 9, 2)
    assert auto.prune(history(long, finished=[0]), 9, 3)
    assert SuccessiveHalvingPruner(min_resource=1, bootstrap_count=2).prune(history({9: [0.0, 0.0]}), 9, 1)


@pytest.mark.parametrize(
    "pruner", [MedianPruner(n_startup_trials=1), SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)]
)
def test_a_decision_ignores_the_trials_own_later_values(pruner):
    """After a resume a trial reports again steps it reported before it was cut
    short, while its later values are already in the checkpoint."""
    others = {0: [1.0, 1.0, 1.0, 1.0], 1: [2.0, 2.0, 2.0, 2.0]}
    before = history({**others, 9: [5.0, 5.0]}, finished=[0, 1])
    after = history({**others, 9: [5.0, 5.0, 0.1, 0.1]}, finished=[0, 1])
    for step in (0, 1):
        assert pruner.prune(before, 9, step) == pruner.prune(after, 9, step)


def test_pruner_arguments_are_checked():
    with pytest.raises(ValueError, match="n_startup_trials"):
        MedianPruner(n_startup_trials=-1)
    with pytest.raises(ValueError, match="reduction_factor"):
        SuccessiveHalvingPruner(reduction_factor=1)
    with pytest.raises(TypeError, match="pruner must be"):
        check_pruner("median")


# -- the same decisions as Optuna's pruners ---------------------------------------


def curve(rng: random.Random, steps: int) -> list[float]:
    start, rate, floor = rng.uniform(1, 10), rng.uniform(0.05, 0.6), rng.uniform(0, 2)
    return [floor + start * math.exp(-rate * step) + rng.gauss(0, 0.2) for step in range(steps)]


def optuna_decisions(optuna, pruner, curves):
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    decisions = []
    for values in curves:
        trial = study.ask()
        for step, value in enumerate(values):
            trial.report(value, step)
            prune = trial.should_prune()
            decisions.append(prune)
            if prune:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, values[-1])
    return decisions


def our_decisions(pruner, curves):
    intermediate, docs, decisions = {}, {}, []
    for tid, values in enumerate(curves):
        docs[tid] = running(tid)
        for step, value in enumerate(values):
            intermediate.setdefault(tid, {})[step] = value
            prune = pruner.prune(History(intermediate, docs), tid, step)
            decisions.append(prune)
            if prune:
                docs[tid] = done(tid, value, pruned=True)
                break
        else:
            docs[tid] = done(tid, values[-1])
    return decisions


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "make",
    [
        lambda pruners: pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
        lambda pruners: pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2, interval_steps=3),
        lambda pruners: pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        # min_resource="auto" differs on purpose: Optuna leaves out of the rungs the trials that
        # reported before it knew the resource; here every trial that reached a rung competes
        lambda pruners: pruners.SuccessiveHalvingPruner(min_resource=1),
        lambda pruners: pruners.SuccessiveHalvingPruner(min_resource=2, reduction_factor=2, min_early_stopping_rate=1),
    ],
)
def test_same_decisions_as_optuna(seed, make):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import resumable_opt

    rng = random.Random(seed)
    curves = [curve(rng, 20) for _ in range(40)]
    theirs = optuna_decisions(optuna, make(optuna.pruners), curves)
    ours = our_decisions(make(resumable_opt), curves)
    assert ours == theirs
    assert any(ours), "the case should prune something"
