"""Issue 10, items 1, 6, 7 and 12: where the files of a checkpoint are, and who may write them.

Real processes on real files: an objective that changes the working folder,
symbolic links, a lock file deleted under a running search, checkpoints
whose names differ only after the last dot, a FIFO beside a checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import resumable_opt
from cli.cli_helpers import cli
from conftest import run_search
from resumable_opt.checkpoint.lock import lock_path, owner_path
from resumable_opt.checkpoint.store import backup_path
from searches import history

pytestmark = pytest.mark.slow


def best_file_path(checkpoint):
    """Where the best-so-far JSON is: named after the whole file name."""
    return checkpoint.with_name(checkpoint.name + ".best.json")


def old_best_file_path(checkpoint):
    """Where it was before: the file name without its suffix."""
    return checkpoint.with_name(checkpoint.name.rsplit(".", 1)[0] + ".best.json")


CHDIR_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    import resumable_opt
    from searches import SPACES, loss_of

    def objective(params):
        os.chdir({elsewhere!r})  # as training libraries do
        return loss_of(params)

    resumable_opt.minimize(objective, SPACES["mixed"](), "run.ckpt", int(sys.argv[1]), seed=3, progress=False)
    """
)


def test_an_objective_that_changes_the_working_folder_does_not_move_the_checkpoint(tmp_path):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    # Another search of the same file name lives where the objective goes.
    other = elsewhere / "run.ckpt"
    assert run_search(other, 8, "--quiet").returncode == 0
    assert run_search(other, 9, "--quiet").returncode == 0  # now with a .bak too
    before = {path.name: path.read_bytes() for path in elsewhere.iterdir()}
    script = here / "search.py"
    tests = os.path.dirname(os.path.dirname(__file__))
    script.write_text(CHDIR_SCRIPT.format(tests=tests, elsewhere=str(elsewhere)))
    for budget in (30, 40):  # compactions and a resume, all after the first chdir
        command = [sys.executable, str(script), str(budget)]
        done = subprocess.run(command, cwd=here, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert {path.name: path.read_bytes() for path in elsewhere.iterdir()} == before  # untouched, .bak included
    state = resumable_opt.load(here / "run.ckpt")
    assert state.n_finished == 40 and len(state.runs) == 2
    assert json.loads(best_file_path(here / "run.ckpt").read_text())["tid"] == state.best_trial["tid"]
    assert not owner_path(here / "run.ckpt").exists()


def test_two_runners_through_a_symlink_share_one_lock_and_the_link_stays_a_link(tmp_path, start_search):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "search.ckpt"
    link = tmp_path / "link.ckpt"
    link.symlink_to(real)
    log = tmp_path / "calls.jsonl"
    first = start_search(real, 400, "--delay", "0.05", "--quiet", "--log", log)
    first.wait_for_log_lines(log, 3)
    for spelling in (link, tmp_path / "real" / ".." / "real" / "search.ckpt"):
        second = run_search(spelling, 400, "--quiet")
        assert second.returncode != 0 and "is in use by another run" in second.stderr, second.stderr
        assert f"pid {first.proc.pid}" in second.stderr
    first.send(signal.SIGINT)
    assert first.finish()[0] == 130
    done = run_search(link, resumable_opt.load(real).n_finished + 3, "--quiet")
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)  # written through, not replaced
    assert resumable_opt.load(link).n_finished == resumable_opt.load(real).n_finished
    assert not (tmp_path / "link.ckpt.bak").exists() and backup_path(real).exists()


def test_deleting_the_lock_file_of_a_running_search_does_not_let_a_second_runner_in(tmp_path, start_search):
    ckpt = tmp_path / "search.ckpt"
    log = tmp_path / "calls.jsonl"
    first = start_search(ckpt, 400, "--delay", "0.05", "--quiet", "--log", log)
    first.wait_for_log_lines(log, 3)
    lock_path(ckpt).unlink()  # it looks stale between runs
    second = run_search(ckpt, 400, "--quiet")
    assert second.returncode != 0 and f"is in use by another run (pid {first.proc.pid}" in second.stderr, second.stderr
    first.wait_for_log_lines(log, len(log.read_text().splitlines()) + 2)
    first.send(signal.SIGINT)
    code, _, err = first.finish()
    assert code == 130, err
    state = resumable_opt.load(ckpt)
    assert len(state.runs) == 1 and state.runs[0].outcome == "interrupted by SIGINT"
    assert state.n_finished >= 5


def test_deleting_the_lock_and_owner_files_lets_at_most_one_runner_write(tmp_path, start_search):
    ckpt = tmp_path / "search.ckpt"
    log = tmp_path / "calls.jsonl"
    first = start_search(ckpt, 100, "--delay", "0.2", "--quiet", "--log", log)
    first.wait_for_log_lines(log, 3)
    lock_path(ckpt).unlink()
    owner_path(ckpt).unlink()
    second = run_search(ckpt, 100, "--quiet", timeout=300)
    if second.returncode == 0:
        # The second runner got the lock: the first saw it at its next write and stopped writing.
        code, _, err = first.finish()
        assert code != 0 and "its lock file was deleted during this run" in err, err
    else:
        # The first runner locked a new lock file first: the second was refused.
        assert "is in use by another run" in second.stderr, second.stderr
        first.send(signal.SIGINT)
        assert first.finish()[0] == 130
    assert resumable_opt.verify(ckpt).sound
    assert run_search(ckpt, 100, "--quiet", timeout=300).returncode == 0
    reference = tmp_path / "reference.ckpt"
    assert run_search(reference, 100, "--quiet", timeout=300).returncode == 0
    assert history(resumable_opt.load(ckpt).trials) == history(resumable_opt.load(reference).trials)


@pytest.mark.parametrize("names", [("lr_0.001", "lr_0.01"), ("run.ckpt", "run.pkl")])
def test_checkpoints_whose_names_differ_after_the_last_dot_share_no_file(tmp_path, names):
    first, second = (tmp_path / name for name in names)
    assert run_search(first, 6, "--quiet", "--seed", "1").returncode == 0
    assert run_search(second, 6, "--quiet", "--seed", "2").returncode == 0
    for path in (first, second):
        best = json.loads(best_file_path(path).read_text())
        assert best["tid"] == resumable_opt.load(path).best_trial["tid"]
        assert best["loss"] == resumable_opt.load(path).best_loss
    assert not old_best_file_path(first).exists()
    side = {name for path in (first, second) for name in os.listdir(tmp_path) if name.startswith(path.name + ".")}
    assert side == {f"{path.name}{suffix}" for path in (first, second) for suffix in (".bak", ".lock", ".best.json")}


def test_an_old_style_best_file_is_adopted_only_where_it_is_unambiguous(tmp_path):
    alone = tmp_path / "alone" / "run.ckpt"
    assert run_search(alone, 4, "--quiet").returncode == 0
    best_file_path(alone).rename(old_best_file_path(alone))  # as the version before wrote it
    assert run_search(alone, 5, "--quiet").returncode == 0
    assert not old_best_file_path(alone).exists() and best_file_path(alone).exists()

    shared = tmp_path / "shared"
    first, second = shared / "lr_0.001", shared / "lr_0.01"
    assert run_search(first, 4, "--quiet").returncode == 0
    assert run_search(second, 4, "--quiet").returncode == 0
    best_file_path(first).rename(old_best_file_path(first))
    assert run_search(first, 5, "--quiet").returncode == 0
    assert old_best_file_path(first).exists()  # whose it is cannot be told: left alone


@pytest.mark.parametrize("side", [".owner.json", ".lock"])
def test_a_fifo_beside_the_checkpoint_is_refused_at_once(tmp_path, side):
    ckpt = tmp_path / "search.ckpt"
    assert run_search(ckpt, 4, "--quiet").returncode == 0
    fifo = ckpt.with_name(ckpt.name + side)
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    if side == ".owner.json":
        for command in ("show", "best", "trials"):
            done = cli(command, ckpt, timeout=60)
            assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
            assert "search.ckpt.owner.json: is not a regular file" in done.stderr
        with pytest.raises(resumable_opt.CheckpointError, match="not a regular file"):
            resumable_opt.load(ckpt)
    done = run_search(ckpt, 6, "--quiet", timeout=60)
    assert done.returncode != 0 and "is not a regular file" in done.stderr
