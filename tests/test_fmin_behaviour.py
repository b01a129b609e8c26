"""What hyperopt.fmin users rely on, without a checkpoint (delegation) and with one.

Each test runs hyperopt.fmin and resumable_opt.fmin on the same input and
compares what users see: return values, the trials, exceptions.
"""

import warnings

import numpy as np
import pytest
from hyperopt import STATUS_FAIL, STATUS_OK, Trials, exceptions, fmin, hp, pyll, rand, tpe
from hyperopt.early_stop import no_progress_loss
from hyperopt.fmin import fmin_pass_expr_memo_ctrl, generate_trials_to_calculate

import resumable_opt
from searches import history


def space():
    return {"x": hp.uniform("x", -3, 3), "c": hp.choice("c", ["a", "bb", "ccc"])}


def loss(p):
    return (p["x"] - 1) ** 2 + len(p["c"])


@pytest.fixture(params=["plain", "checkpoint"])
def checkpoint(request, tmp_path):
    """None: resumable_opt.fmin is hyperopt.fmin; a path: it runs on a checkpoint."""
    return None if request.param == "plain" else tmp_path / "b.ckpt"


def both(checkpoint, fn=loss, n=12, seed=1, space_=space, **kwargs):
    """(hyperopt's return value, its trials), (ours, our trials) for the same call."""
    results = []
    for minimise, extra in ((fmin, {}), (resumable_opt.fmin, {"checkpoint": checkpoint})):
        trials = Trials()
        value = minimise(
            fn,
            space_(),
            tpe.suggest,
            n,
            trials=trials,
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
            **kwargs,
            **extra,
        )
        results.append((value, trials))
    return results


def error_table(trials):
    return [(doc["tid"], doc["state"], doc["misc"].get("error")) for doc in trials._dynamic_trials]


def test_argmin_format_and_return_argmin_false(checkpoint):
    (theirs, their_trials), (ours, our_trials) = both(checkpoint)
    assert ours == theirs and set(ours) == {"x", "c"}
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}
    assert history(our_trials) == history(their_trials)
    if checkpoint:  # a new search: the first one's path is refused now, its backup says it existed
        checkpoint = checkpoint.with_name("second.ckpt")
    (theirs, _), (ours, _) = both(checkpoint, return_argmin=False)
    assert ours == theirs and ours["c"] in ("a", "bb", "ccc")


def test_failed_status_and_extra_result_keys(checkpoint):
    def fn(p):
        if p["x"] < 0:
            return {"status": STATUS_FAIL, "why": "negative"}
        return {"loss": loss(p), "status": STATUS_OK, "extra": [1, 2]}

    (theirs, their_trials), (ours, our_trials) = both(checkpoint, fn)
    assert ours == theirs
    assert our_trials.statuses() == their_trials.statuses() and STATUS_FAIL in our_trials.statuses()
    assert our_trials.results == their_trials.results


def test_no_trial_or_all_failed(checkpoint):
    with pytest.raises(Exception, match="There are no evaluation tasks"):
        fmin(loss, space(), tpe.suggest, 0, show_progressbar=False)
    with pytest.raises(Exception, match="There are no evaluation tasks"):
        resumable_opt.fmin(loss, space(), tpe.suggest, 0, show_progressbar=False, checkpoint=checkpoint)
    assert (
        resumable_opt.fmin(
            loss, space(), tpe.suggest, 0, show_progressbar=False, return_argmin=False, checkpoint=checkpoint
        )
        is None
    )

    def always_fails(p):
        return {"status": STATUS_FAIL}

    for minimise, extra in ((fmin, {}), (resumable_opt.fmin, {"checkpoint": checkpoint})):
        with pytest.raises(exceptions.AllTrialsFailed):
            minimise(always_fails, space(), rand.suggest, 4, show_progressbar=False, **extra)


def raises_for_negative_x(p):
    if p["x"] < 0:
        raise ValueError(f"negative x: {p['x']}")
    return loss(p)


def test_catch_eval_exceptions_false_raises_the_objectives_exception(checkpoint):
    failures = []
    for minimise, extra in ((fmin, {}), (resumable_opt.fmin, {"checkpoint": checkpoint})):
        trials = Trials()
        with pytest.raises(ValueError, match="negative x") as raised:
            minimise(
                raises_for_negative_x,
                space(),
                tpe.suggest,
                12,
                trials=trials,
                rstate=np.random.default_rng(1),
                show_progressbar=False,
                **extra,
            )
        failures.append((str(raised.value), error_table(trials), history(trials)))
    assert failures[0] == failures[1]
    if checkpoint:
        state = resumable_opt.load(checkpoint)  # the failed trial is recorded in the checkpoint
        assert error_table(state.trials) == failures[0][1] and state.n_failed == 1


def test_a_raised_exception_is_recorded_and_the_search_resumes_exactly(tmp_path):
    ckpt = tmp_path / "e.ckpt"
    with pytest.raises(ValueError):
        resumable_opt.fmin(
            raises_for_negative_x,
            space(),
            tpe.suggest,
            12,
            rstate=np.random.default_rng(1),
            show_progressbar=False,
            checkpoint=ckpt,
        )
    ours = Trials()
    resumable_opt.fmin(
        raises_for_negative_x,
        space(),
        tpe.suggest,
        12,
        trials=ours,
        rstate=np.random.default_rng(1),
        show_progressbar=False,
        catch_eval_exceptions=True,
        checkpoint=ckpt,
    )
    theirs = Trials()
    fmin(
        raises_for_negative_x,
        space(),
        tpe.suggest,
        12,
        trials=theirs,
        rstate=np.random.default_rng(1),
        show_progressbar=False,
        catch_eval_exceptions=True,
    )
    assert history(ours) == history(theirs)
    assert error_table(ours) == error_table(theirs)


def test_catch_eval_exceptions_true_records_errors_as_hyperopt(checkpoint):
    (theirs, their_trials), (ours, our_trials) = both(checkpoint, raises_for_negative_x, catch_eval_exceptions=True)
    assert ours == theirs
    assert history(our_trials) == history(their_trials)
    table = error_table(our_trials)
    assert table == error_table(their_trials)
    assert any(error and error[0] == "<class 'ValueError'>" for _, _, error in table)


def test_timeout(checkpoint):
    import time

    def slow(p):
        time.sleep(0.05)
        return loss(p)

    trials = Trials()
    resumable_opt.fmin(
        slow, space(), tpe.suggest, 500, trials=trials, timeout=0.5, show_progressbar=False, checkpoint=checkpoint
    )
    assert 1 <= len(trials) < 500
    if checkpoint:
        assert resumable_opt.load(checkpoint).runs[-1].outcome == "timeout"


def test_loss_threshold_and_early_stop(checkpoint):
    (theirs, their_trials), (ours, our_trials) = both(checkpoint, n=60, loss_threshold=1.5)
    assert history(our_trials) == history(their_trials) and len(our_trials) < 60
    if checkpoint:  # a new search: the first one's path is refused now, its backup says it existed
        checkpoint = checkpoint.with_name("second.ckpt")
    (theirs, their_trials), (ours, our_trials) = both(checkpoint, n=60, early_stop_fn=no_progress_loss(3))
    assert history(our_trials) == history(their_trials) and len(our_trials) < 60


def test_annotated_space(checkpoint):
    def fn(x: hp.uniform("x", -3, 3), c: hp.choice("c", [0, 1, 2])):
        return (x - 1) ** 2 + c

    (theirs, their_trials), (ours, our_trials) = both(checkpoint, fn, space_=lambda: "annotated")
    assert ours == theirs and history(our_trials) == history(their_trials)

    def badly_annotated(x: int):
        return x

    with pytest.raises(exceptions.InvalidAnnotatedParameter):
        resumable_opt.fmin(badly_annotated, "annotated", tpe.suggest, 3, checkpoint=checkpoint)


def test_points_to_evaluate(checkpoint):
    points = [{"x": 1.0, "c": 0}, {"x": -2.0, "c": 2}]

    def run(minimise, n, **extra):
        return minimise(
            loss,
            space(),
            tpe.suggest,
            n,
            points_to_evaluate=points,
            rstate=np.random.default_rng(1),
            show_progressbar=False,
            **extra,
        )

    def hyperopts(n):
        trials = generate_trials_to_calculate(points)  # what hyperopt.fmin makes of points_to_evaluate
        assert run(fmin, n, trials=trials) == run(fmin, n)
        return trials

    theirs = hyperopts(8)
    assert run(resumable_opt.fmin, 8, checkpoint=checkpoint) == theirs.argmin == {"x": 1.0, "c": 0}
    if checkpoint:
        assert history(resumable_opt.load(checkpoint).trials) == history(theirs)
        assert len(theirs) == 2 + 8  # the points come on top of max_evals, as in hyperopt.fmin
        # resumed with a larger budget: the points are not added again; it is hyperopt's uninterrupted search
        run(resumable_opt.fmin, 12, checkpoint=checkpoint)
        assert history(resumable_opt.load(checkpoint).trials) == history(hyperopts(12))


def test_points_to_evaluate_with_early_stop(checkpoint):
    """hyperopt calls early_stop_fn once the given points are all evaluated (it reads the last trial's loss)."""
    points = [{"x": 1.0, "c": 0}, {"x": 2.0, "c": 0}, {"x": 0.5, "c": 1}]
    theirs = generate_trials_to_calculate(points)
    fmin(
        loss,
        space(),
        tpe.suggest,
        20,
        trials=theirs,
        rstate=np.random.default_rng(1),
        early_stop_fn=no_progress_loss(2),
        show_progressbar=False,
    )
    argmin = resumable_opt.fmin(
        loss,
        space(),
        tpe.suggest,
        17,
        points_to_evaluate=points,
        rstate=np.random.default_rng(1),
        early_stop_fn=no_progress_loss(2),
        show_progressbar=False,
        checkpoint=checkpoint,
    )
    assert argmin == theirs.argmin and len(theirs) < 20
    if checkpoint:
        assert history(resumable_opt.load(checkpoint).trials) == history(theirs)


def test_a_trials_object_passed_in_and_reused(checkpoint):
    results = []
    for minimise, extra in ((fmin, {}), (resumable_opt.fmin, {"checkpoint": checkpoint})):
        trials, rstate = Trials(), np.random.default_rng(4)
        minimise(loss, space(), tpe.suggest, 5, trials=trials, rstate=rstate, show_progressbar=False, **extra)
        argmin = minimise(loss, space(), tpe.suggest, 11, trials=trials, rstate=rstate, show_progressbar=False, **extra)
        results.append((argmin, history(trials), rstate.bit_generator.state))
    assert results[0] == results[1]


def test_pass_expr_memo_ctrl(checkpoint):
    @fmin_pass_expr_memo_ctrl
    def fn(expr, memo, ctrl):
        point = pyll.rec_eval(expr, memo=memo)
        assert ctrl.current_trial["tid"] == len(ctrl.trials._dynamic_trials) - 1
        return loss(point)

    (theirs, their_trials), (ours, our_trials) = both(checkpoint, fn)
    assert ours == theirs and history(our_trials) == history(their_trials)


def test_hyperopt_fmin_seed_environment_variable(checkpoint, monkeypatch):
    monkeypatch.setenv("HYPEROPT_FMIN_SEED", "9")
    histories = []
    for minimise, extra in ((fmin, {}), (resumable_opt.fmin, {"checkpoint": checkpoint})):
        trials = Trials()
        minimise(loss, space(), tpe.suggest, 8, trials=trials, show_progressbar=False, **extra)
        histories.append(history(trials))
    assert histories[0] == histories[1]


def test_trials_save_file(tmp_path):
    saved = tmp_path / "trials.pkl"
    with pytest.warns(UserWarning, match="checkpoint=.*resumable-opt import"):
        resumable_opt.fmin(
            loss,
            space(),
            tpe.suggest,
            6,
            rstate=np.random.default_rng(2),
            show_progressbar=False,
            trials_save_file=str(saved),
        )
    assert saved.exists()  # without a checkpoint, hyperopt writes it as before
    # With a checkpoint, an existing file is the new search's history: the same as hyperopt going on from it.
    with pytest.warns(UserWarning, match="bringing the trials of"):
        resumable_opt.fmin(
            loss,
            space(),
            tpe.suggest,
            12,
            rstate=np.random.default_rng(3),
            show_progressbar=False,
            trials_save_file=str(saved),
            checkpoint=tmp_path / "s.ckpt",
        )
    ours = resumable_opt.load(tmp_path / "s.ckpt").trials
    before = saved.read_bytes()
    fmin(
        loss,
        space(),
        tpe.suggest,
        12,
        rstate=np.random.default_rng(3),
        show_progressbar=False,
        trials_save_file=str(saved),
    )
    import cloudpickle

    theirs = cloudpickle.loads(saved.read_bytes())
    assert before != saved.read_bytes() and len(theirs) == 12
    assert history(ours) == history(theirs)


# -- with a checkpoint only ---------------------------------------------------


def test_resuming_fills_an_empty_trials_and_refuses_foreign_trials_and_rstate(tmp_path):
    ckpt = tmp_path / "r.ckpt"
    resumable_opt.fmin(
        loss, space(), tpe.suggest, 6, rstate=np.random.default_rng(1), show_progressbar=False, checkpoint=ckpt
    )
    trials = Trials()  # a new process: a new Trials object, the checkpoint has the trials
    resumable_opt.fmin(
        loss,
        space(),
        tpe.suggest,
        6,
        trials=trials,
        rstate=np.random.default_rng(1),
        show_progressbar=False,
        checkpoint=ckpt,
    )
    assert history(trials) == history(resumable_opt.load(ckpt).trials) and len(trials) == 6

    foreign = Trials()
    fmin(loss, space(), rand.suggest, 3, trials=foreign, rstate=np.random.default_rng(8), show_progressbar=False)
    with pytest.raises(resumable_opt.ResumableOptError, match="holds trial 0, which is not in this checkpoint"):
        resumable_opt.fmin(
            loss, space(), tpe.suggest, 9, trials=foreign, rstate=np.random.default_rng(1), checkpoint=ckpt
        )
    with pytest.raises(resumable_opt.SeedMismatch, match="rstate given is not in the state this search started from"):
        resumable_opt.fmin(loss, space(), tpe.suggest, 9, rstate=np.random.default_rng(2), checkpoint=ckpt)
    assert resumable_opt.load(ckpt).n_trials == 6


def test_trials_that_run_their_own_fmin_are_refused(tmp_path):
    class RemoteTrials(Trials):
        def fmin(self, *args, **kwargs):
            raise AssertionError("not to be called")

    with pytest.raises(ValueError, match="RemoteTrials runs its trials elsewhere"):
        resumable_opt.fmin(loss, space(), tpe.suggest, 3, trials=RemoteTrials(), checkpoint=tmp_path / "x.ckpt")
    assert not (tmp_path / "x.ckpt").exists()


def test_no_warning_in_the_plain_case():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        resumable_opt.fmin(loss, space(), tpe.suggest, 2, show_progressbar=False)


def test_a_filled_trials_object_starts_a_new_checkpoint_as_history(tmp_path):
    """A script that kept a Trials from an earlier hyperopt.fmin call switches without losing it."""
    results = []
    for minimise, extra in ((fmin, {}), (resumable_opt.fmin, {"checkpoint": tmp_path / "h.ckpt"})):
        trials = Trials()
        fmin(loss, space(), rand.suggest, 5, trials=trials, rstate=np.random.default_rng(6), show_progressbar=False)
        argmin = minimise(
            loss,
            space(),
            tpe.suggest,
            12,
            trials=trials,
            rstate=np.random.default_rng(7),
            show_progressbar=False,
            **extra,
        )
        results.append((argmin, history(trials)))
    assert results[0] == results[1]
    assert history(resumable_opt.load(tmp_path / "h.ckpt").trials) == results[0][1]


def test_same_parameters_and_defaults_as_hyperopt_fmin_plus_checkpoint():
    import inspect

    ours = inspect.signature(resumable_opt.fmin).parameters
    theirs = inspect.signature(fmin).parameters
    assert list(ours) == [*theirs, "checkpoint", "pruner", "store_objective"]  # pruner: docs/long-trials.md
    assert all(ours[name].default == theirs[name].default for name in theirs)
    assert ours["checkpoint"].default is None and ours["pruner"].default is None
    assert ours["store_objective"].default is True


@pytest.mark.parametrize("quiet", [{"show_progressbar": False}, {"verbose": False}])
def test_progress_off_is_silent(tmp_path, capfd, quiet):
    resumable_opt.fmin(
        loss, space(), tpe.suggest, 4, rstate=np.random.default_rng(1), checkpoint=tmp_path / "q.ckpt", **quiet
    )
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    resumable_opt.fmin(loss, space(), tpe.suggest, 6, rstate=np.random.default_rng(1), checkpoint=tmp_path / "q.ckpt")
    assert "trial 6/6" in capfd.readouterr().err  # and on by default, as hyperopt's bar is
