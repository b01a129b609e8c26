"""Guarantees 4, 8 and 9: one runner per checkpoint; refusals that protect the history."""

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from hyperopt import hp

import resumable_opt
from conftest import run_search
from searches import SPACES, loss_of


def test_second_runner_is_refused_with_who_holds_it(tmp_path, ckpt, start_search):
    log = tmp_path / "calls.jsonl"
    first = start_search(ckpt, 50, "--delay", "0.2", "--log", log)
    first.wait_for_log_lines(log, 1)
    with pytest.raises(resumable_opt.CheckpointLocked) as refused:
        resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 50, seed=7, progress=False)
    # refused while the first run goes on (it does not wait for it to end)
    assert first.proc.poll() is None and resumable_opt.load(ckpt).n_finished < 50
    message = str(refused.value)
    assert f"pid {first.proc.pid}" in message and socket.gethostname() in message and "since" in message
    running = resumable_opt.load(ckpt).running
    assert running and running["pid"] == first.proc.pid


def test_a_killed_runner_leaves_no_blocking_lock(tmp_path, ckpt, start_search):
    log = tmp_path / "calls.jsonl"
    first = start_search(ckpt, 50, "--delay", "0.2", "--log", log)
    first.wait_for_log_lines(log, 2)
    first.send(signal.SIGKILL)
    first.finish()
    assert resumable_opt.load(ckpt).running is None
    state = resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 3, seed=7, progress=False)
    assert state.n_finished == 3


def test_changed_space_is_refused_and_nothing_is_written(tmp_path, ckpt):
    assert run_search(ckpt, 4, "--quiet").returncode == 0
    before = ckpt.read_bytes()
    with pytest.raises(resumable_opt.SpaceMismatch) as refused:
        resumable_opt.minimize(loss_of, SPACES["mixed_wider"](), ckpt, 8, seed=7, progress=False)
    assert "'x': uniform(-5, 5) -> uniform(-10, 5)" in str(refused.value)
    assert ckpt.read_bytes() == before


def test_same_space_rebuilt_is_accepted(ckpt):
    resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 2, seed=7, progress=False)
    assert resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 4, seed=7, progress=False).n_finished == 4


@pytest.mark.parametrize("damage", ["flip", "garbage", "empty", "folder"])
def test_damaged_checkpoint_is_refused_never_restarted(tmp_path, ckpt, damage):
    assert run_search(ckpt, 4, "--quiet").returncode == 0
    if damage == "flip":
        data = bytearray(ckpt.read_bytes())
        data[40] ^= 0x10
        ckpt.write_bytes(bytes(data))
    elif damage == "garbage":
        ckpt.write_bytes(os.urandom(500))
    elif damage == "empty":
        ckpt.write_bytes(b"")
    else:
        ckpt.unlink()
        ckpt.mkdir()
    before = ckpt.read_bytes() if ckpt.is_file() else None
    with pytest.raises(resumable_opt.CheckpointError) as refused:
        resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 8, seed=7, progress=False)
    assert str(ckpt) in str(refused.value)
    if before is not None:
        assert ckpt.read_bytes() == before
    with pytest.raises(resumable_opt.CheckpointError):
        resumable_opt.load(ckpt)


def test_other_seed_is_refused(ckpt):
    resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 2, seed=7, progress=False)
    with pytest.raises(resumable_opt.SeedMismatch):
        resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 4, seed=8, progress=False)


def test_no_seed_draws_one_and_records_it(ckpt):
    state = resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 3, progress=False)
    assert isinstance(state.seed, int)


def test_unpicklable_objective_warns_and_stores_the_rest(ckpt):
    import threading

    lock = threading.Lock()

    def objective(params):
        with lock:
            return params["x"] ** 2

    with pytest.warns(UserWarning, match="cannot be pickled"):
        resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, ckpt, 3, seed=1, progress=False)
    state = resumable_opt.load(ckpt)
    assert state.objective is None and state.n_finished == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, ckpt, 5, progress=False).n_finished == 5


def test_a_lost_checkpoint_with_a_backup_is_not_restarted(ckpt):
    resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 3, seed=7, progress=False)
    resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 4, seed=7, progress=False)
    ckpt.unlink()
    with pytest.raises(resumable_opt.CheckpointNotFound, match="backup"):
        resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 8, seed=7, progress=False)
    assert not ckpt.exists()
    resumable_opt.recover(ckpt)
    assert resumable_opt.load(ckpt).n_finished >= 3


def test_resume_without_algo_uses_the_stored_one(ckpt):
    from hyperopt import rand

    resumable_opt.minimize(loss_of, SPACES["mixed"](), ckpt, 3, algo=rand.suggest, seed=7, progress=False)
    resumable_opt.minimize(None, None, ckpt, 30, seed=7, progress=False)
    # rand.suggest, unlike TPE after its 20 startup trials, never looks at the history:
    # the whole search equals a fresh random search with the same seed.
    from searches import history

    other = ckpt.with_name("other.ckpt")
    expected = resumable_opt.minimize(loss_of, SPACES["mixed"](), other, 30, algo=rand.suggest, seed=7, progress=False)
    assert history(resumable_opt.load(ckpt).trials) == history(expected.trials)


def test_resuming_a_mistyped_path_is_refused_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "no-such-folder" / "search.ckpt"
    with pytest.raises(resumable_opt.CheckpointNotFound, match="no such checkpoint to resume"):
        resumable_opt.minimize(None, None, target, 5)
    assert list(tmp_path.iterdir()) == []  # no folder, no lock file


def test_an_owner_that_exited_unreaped_does_not_hold_the_checkpoint(tmp_path):
    """A runner stopped by a closed terminal may stay a zombie, its owner note left behind (in a
    container whose first process does not reap orphans, for good): the next run is not refused."""
    from resumable_opt.checkpoint.lock import owner_path

    ckpt = tmp_path / "z.ckpt"
    script = (
        "import os, sys; from pathlib import Path; from resumable_opt.checkpoint.lock import RunLock; "
        "RunLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); os._exit(0)"
    )
    owner = subprocess.Popen([sys.executable, "-c", script, str(ckpt)], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None and owner.stdout.readline().strip() == "locked"
    deadline = time.monotonic() + 60
    # exited, and not reaped: this test holds its Popen and does not wait on it yet
    while Path(f"/proc/{owner.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the owner did not exit"
        time.sleep(0.02)
    assert owner_path(ckpt).exists()
    state = resumable_opt.minimize(lambda p: p["x"], {"x": hp.uniform("x", 0, 1)}, ckpt, 3, seed=0, progress=False)
    assert len(state.trials) == 3
    assert owner.wait() == 0
