"""``resume``: a search goes on from its checkpoint alone, as the same search."""

import signal
import threading

import pytest
from hyperopt import rand

import resumable_opt
from cli_helpers import assert_one_line_error, cli
from conftest import TESTS, run_search
from resumable_opt.cli import main
from searches import SPACES, history, loss_of


def test_resume_extends_a_finished_search_exactly(tmp_path, ckpt):
    assert run_search(ckpt, 4, "--quiet").returncode == 0  # the objective is tests/searches.py's, pickled by value
    done = cli("resume", ckpt, "--max-evals", "7")
    assert done.returncode == 0, done.stderr
    assert "Resuming" in done.stderr and "4 trials done" in done.stderr
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 7 and state.runs[-1].max_evals == 7
    assert done.stdout.splitlines()[0] == f"Best loss {state.best_loss:.6g} after 7 trials (0 failed)"
    uninterrupted = resumable_opt.minimize(
        loss_of, SPACES["mixed"](), tmp_path / "straight.ckpt", 7, seed=7, progress=False
    )
    assert history(state.trials) == history(uninterrupted.trials)

    again = cli("resume", ckpt)  # the budget of the last run is reached: nothing to do, and it says so
    assert again.returncode == 0 and "budget of 7" in again.stderr and "--max-evals" in again.stderr
    assert len(resumable_opt.load(ckpt).runs) == 2  # no empty run recorded


def test_resume_without_max_evals_finishes_the_interrupted_budget(tmp_path, ckpt, start_search):
    log = tmp_path / "calls.jsonl"
    search = start_search(ckpt, 8, "--delay", "0.2", "--log", log, "--quiet")
    search.wait_for_log_lines(log, 3)
    search.send(signal.SIGINT)
    assert search.finish()[0] == 130
    interrupted = resumable_opt.load(ckpt)
    assert interrupted.n_finished < 8

    done = cli("resume", ckpt, "--quiet")
    assert done.returncode == 0, done.stderr
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 8 and state.n_pending == 0
    uninterrupted = resumable_opt.minimize(
        loss_of, SPACES["mixed"](), tmp_path / "straight.ckpt", 8, seed=7, progress=False
    )
    assert history(state.trials) == history(uninterrupted.trials)


def test_resume_keeps_the_stored_algorithm_and_imports_from_the_current_folder(tmp_path, ckpt):
    """A search made with random search goes on with random search, not minimize's default TPE.

    Its objective, ``searches.loss_of``, is pickled by reference: ``resume``
    finds it when run from the folder that holds ``searches.py``, as
    ``python -m`` would, and says what to do when run elsewhere.
    """
    resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 3, algo=rand.suggest, seed=5, progress=False)
    elsewhere = cli("resume", ckpt, "--max-evals", "12", cwd=tmp_path)
    assert_one_line_error(
        elsewhere,
        "the objective stored in the checkpoint cannot be loaded here",
        "No module named 'searches'",
        "run this command from the folder",
    )
    done = cli("resume", ckpt, "--max-evals", "12", "--quiet", cwd=TESTS)
    assert done.returncode == 0, done.stderr
    straight = resumable_opt.minimize(
        loss_of, SPACES["mixed"](), tmp_path / "straight.ckpt", 12, algo=rand.suggest, seed=5, progress=False
    )
    assert history(resumable_opt.load(ckpt).trials) == history(straight.trials)


def test_resume_without_a_stored_objective_says_what_to_do(ckpt, capsys):
    lock = threading.Lock()

    def unpicklable(params):
        with lock:
            return loss_of(params)

    with pytest.warns(UserWarning):
        resumable_opt.minimize(unpicklable, SPACES["mixed"](), ckpt, 2, seed=1, progress=False)
    assert main(["resume", str(ckpt), "--max-evals", "4"]) == 1
    err = capsys.readouterr().err
    assert (
        len(err.splitlines()) == 1
        and str(ckpt) in err
        and "holds no objective" in err
        and "resumable_opt.minimize(" in err
    )
