"""``current_trial()`` in the objective: in process, with n_jobs=2 and on a Dask
LocalCluster; its saved state and folder; intermediate values; pruned trials."""

import os
import socket

import pytest
from hyperopt import hp

import resumable_opt
from resumable_opt.trial.files import STATE_FILE, trial_folder, trials_folder

SPACE = {"x": hp.uniform("x", 0, 1), "kind": hp.choice("kind", ["wide", "deep"])}


class Observing:
    """Reports 4 steps, saves and reloads its state, and returns what it saw of its trial."""

    def __init__(self, keep: bool = False, user_file: bool = False) -> None:
        self.keep = keep
        self.user_file = user_file

    def __call__(self, params):
        trial = resumable_opt.current_trial()
        assert trial.load_state() is None, "a first evaluation finds no state"
        loss = 0.0
        for step in range(4):
            loss = params["x"] + 1.0 / (step + 1)
            trial.report(step, loss)
            trial.save_state({"step": step, "blob": b"x" * 1000}, keep=self.keep)
        assert trial.load_state()["step"] == 3
        if self.user_file:
            (trial.dir / "model.txt").write_text(str(params))
        seen = {
            "tid": trial.tid,
            "attempt": trial.attempt,
            "params": trial.params,
            "same_params": trial.params == params,
            "dir": str(trial.dir),
            "pid": os.getpid(),
            "prune": trial.should_prune(),
        }
        return {"loss": loss, "status": "ok", "seen": seen}


def check_search(state, ckpt, n):
    assert state.n_finished == n and state.n_failed == 0, [doc["result"] for doc in state.trials._dynamic_trials]
    for doc in state.trials._dynamic_trials:
        seen = doc["result"]["seen"]
        assert seen["tid"] == doc["tid"] and seen["attempt"] == 1
        assert seen["same_params"] and seen["params"]["kind"] in ("wide", "deep")  # decoded: the option, not its index
        assert seen["dir"] == str(trial_folder(ckpt.absolute(), doc["tid"]))
        assert seen["prune"] is False, "no pruner: never prune"
        x = seen["params"]["x"]
        assert state.intermediate(doc["tid"]) == {step: x + 1.0 / (step + 1) for step in range(4)}
    assert not trials_folder(ckpt).exists(), "states are removed when their trials finish, and empty folders with them"


def test_in_process(ckpt):
    state = resumable_opt.minimize(Observing(), SPACE, ckpt, 5, seed=1, progress=False)
    check_search(state, ckpt, 5)
    assert {doc["result"]["seen"]["pid"] for doc in state.trials._dynamic_trials} == {os.getpid()}
    # durable: the values are in the checkpoint, not only in the returned state
    assert resumable_opt.load(ckpt).intermediate() == state.intermediate()


@pytest.mark.slow
def test_with_two_worker_processes(ckpt):
    state = resumable_opt.minimize(Observing(), SPACE, ckpt, 6, seed=1, progress=False, n_jobs=2)
    check_search(state, ckpt, 6)
    assert os.getpid() not in {doc["result"]["seen"]["pid"] for doc in state.trials._dynamic_trials}


@pytest.mark.slow
def test_on_a_dask_local_cluster(ckpt):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            state = resumable_opt.minimize(Observing(), SPACE, ckpt, 6, seed=1, progress=False, executor=client)
            workers = set(client.run(os.getpid).values())
    check_search(state, ckpt, 6)
    assert {doc["result"]["seen"]["pid"] for doc in state.trials._dynamic_trials} <= workers


def test_kept_states_and_user_files_stay(ckpt):
    resumable_opt.minimize(Observing(keep=True, user_file=True), SPACE, ckpt, 2, seed=1, progress=False)
    for tid in (0, 1):
        folder = trial_folder(ckpt, tid)
        assert (folder / STATE_FILE).is_file() and (folder / "model.txt").is_file()
    resumable_opt.minimize(Observing(user_file=True), SPACE, ckpt, 3, seed=1, progress=False)
    assert (trial_folder(ckpt, 2) / "model.txt").is_file() and not (trial_folder(ckpt, 2) / STATE_FILE).exists()


def test_a_state_is_never_given_to_another_search_or_trial(ckpt):
    resumable_opt.minimize(Observing(keep=True), SPACE, ckpt, 1, seed=1, progress=False)
    assert (trial_folder(ckpt, 0) / STATE_FILE).is_file()
    for leftover in ckpt.parent.glob(ckpt.name + "*"):
        if leftover.is_file():
            leftover.unlink()
    # a new search at the same path: trial 0 must not find the old trial 0's state (Observing checks it)
    state = resumable_opt.minimize(Observing(keep=True), SPACE, ckpt, 1, seed=2, progress=False)
    assert state.n_failed == 0, state.trials._dynamic_trials[0]["result"]


def test_outside_an_evaluation_a_clear_error():
    with pytest.raises(
        resumable_opt.ResumableOptError, match="only available in the objective while resumable-opt evaluates"
    ):
        resumable_opt.current_trial()


def pruned_at_step_2(params):
    trial = resumable_opt.current_trial()
    for step in range(5):
        trial.report(step, 10.0 - step)
        if step == 2:
            raise resumable_opt.TrialPruned()
    return 0.0


def pruned_without_report(params):
    raise resumable_opt.TrialPruned()


def bad_report(params):
    resumable_opt.current_trial().report(-1, 1.0)


def test_pruned_trial_is_finished_ok_with_its_last_value(ckpt):
    state = resumable_opt.minimize(pruned_at_step_2, SPACE, ckpt, 1, seed=1, progress=False)
    doc = state.trials._dynamic_trials[0]
    assert doc["result"] == {"loss": 8.0, "status": "ok", "pruned": True, "step": 2}
    assert state.best_loss == 8.0 and state.intermediate(0) == {0: 10.0, 1: 9.0, 2: 8.0}


@pytest.mark.parametrize(
    ("objective", "message"),
    [(pruned_without_report, "before it reported any value"), (bad_report, "step must be a whole number >= 0")],
)
def test_misuse_fails_the_trial_with_the_reason(ckpt, objective, message):
    state = resumable_opt.minimize(objective, SPACE, ckpt, 1, seed=1, progress=False, stop_after_initial_failures=None)
    assert state.n_failed == 1 and message in state.trials._dynamic_trials[0]["result"]["failure"]


def stops_when_told(params):
    trial = resumable_opt.current_trial()
    for step in range(6):
        trial.report(step, params["x"] * 10 + 1.0 / (step + 1))
        if trial.should_prune():
            raise resumable_opt.TrialPruned()
    return params["x"] * 10 + 1.0 / 6


def test_fmin_with_a_pruner(ckpt):
    trials = resumable_opt.fmin(
        stops_when_told,
        SPACE,
        max_evals=20,
        checkpoint=ckpt,
        show_progressbar=False,
        pruner=resumable_opt.MedianPruner(n_startup_trials=3),
        rstate=__import__("numpy").random.default_rng(0),
    )
    state = resumable_opt.load(ckpt)
    pruned = [doc for doc in state.trials._dynamic_trials if doc["result"].get("pruned")]
    assert pruned and all(doc["result"]["step"] < 5 for doc in pruned)
    assert trials is not None
    with pytest.raises(ValueError, match="pruner= needs checkpoint="):
        resumable_opt.fmin(stops_when_told, SPACE, max_evals=1, pruner=resumable_opt.MedianPruner())


def test_dir_from_a_worker_that_cannot_see_the_checkpoint():
    from resumable_opt.trial import TrialTicket
    from resumable_opt.trial.context import running

    ticket = TrialTicket(0, 1, "/nonexistent/elsewhere/search.ckpt", "x")
    with running(ticket, SPACE, {"x": [0.5], "kind": [0]}, lambda *message: ("ok", False)) as trial:
        with pytest.raises(resumable_opt.ResumableOptError, match="shared filesystem") as raised:
            trial.save_state(1)
    assert socket.gethostname() in str(raised.value)


def test_a_pruned_trial_keeps_no_values_past_its_step(ckpt):
    """Values an earlier, interrupted evaluation reported past the step the trial
    was finally pruned at are not the trial's: they are dropped."""
    from resumable_opt.checkpoint import journal

    data = journal.SearchData(meta={})
    doc = {"tid": 0, "state": 1, "misc": {}, "result": {}}
    index = {0: doc}
    for step in range(6):
        journal.apply(data, (journal.REPORTED, 0, step, float(step)), index)
    result = {"loss": 2.0, "status": "ok", "pruned": True, "step": 2}
    journal.apply(data, (journal.FINISHED, 0, 2, result, {}, None, []), index)
    assert data.intermediate == {0: {0: 0.0, 1: 1.0, 2: 2.0}}
