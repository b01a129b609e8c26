"""Issue 3, faults 7 and 8: locks under real concurrency; owner-only files.

(A lock left by a killed run never blocking the next one is exercised by
every restart in ``test_torture_kills.py``: each run after a SIGKILL must
get the lock within ``lock.ACQUIRE_TIMEOUT`` or the torture fails.)
"""

import itertools
import os
import signal

import pytest

import resumable_opt
import torture
from resumable_opt.checkpoint.lock import lock_path, owner_path
from resumable_opt.reporting.best_file import best_file_path
from searches import SPACES

# Real processes, clusters or signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow


def test_a_second_runner_is_refused_while_the_first_runs_and_readers_never_block(tmp_path):
    ckpt = tmp_path / "search.ckpt"
    # 400 trials of 50 ms: the run outlasts the readers below however fast the proposals are
    life = torture.Life(ckpt, 400, tmp_path / "run.err", torture.TortureObjective(pad=20_000, delay=0.05))
    life.wait_for(lambda: len(life.announced()) >= 3)
    with pytest.raises(resumable_opt.CheckpointLocked, match=f"pid {life.process.pid}"):
        resumable_opt.minimize(
            torture.TortureObjective(), SPACES["mixed"](), ckpt, 400, seed=torture.SEED, progress=False
        )
    # refused while the first run goes on (it does not wait for it to end)
    assert life.process.is_alive() and resumable_opt.load(ckpt).n_finished < 400
    # Readers, meanwhile and while the run appends and rewrites snapshots: never
    # an error, never a trial that changes once seen finished.
    seen, reads = {}, 0
    while life.process.is_alive() and reads < 300:
        state = resumable_opt.load(ckpt)
        assert state.running and state.running["pid"] == life.process.pid
        for doc in state.trials._dynamic_trials:
            if doc["state"] == 2:
                assert seen.setdefault(doc["tid"], doc["result"]["loss"]) == doc["result"]["loss"]
        reads += 1
    assert reads >= 20 and life.process.is_alive(), "the run ended before the readers were done"
    life.send(signal.SIGKILL)
    life.end()


def test_processes_racing_to_create_one_checkpoint_end_with_exactly_one_search(tmp_path):
    ckpt = tmp_path / "race" / "search.ckpt"  # neither the file nor its folder exists yet
    log = tmp_path / "calls.jsonl"
    context = torture.processes()
    ready, go = context.Semaphore(0), context.Event()
    racers = [
        context.Process(
            target=torture.race, args=(ready, go, str(ckpt), str(log), str(tmp_path / f"racer-{n}.err")), daemon=True
        )
        for n in range(4)
    ]
    for racer in racers:
        racer.start()
    for _ in racers:  # all of them at the start line
        assert ready.acquire(timeout=120), "a racer did not start"
    go.set()
    for racer in racers:
        racer.join(120)
    codes = [racer.exitcode for racer in racers]
    assert set(codes) <= {0, 1} and 0 in codes, codes
    for n, code in enumerate(codes):
        if code == 1:
            assert "is in use by another run" in (tmp_path / f"racer-{n}.err").read_text()
    state = resumable_opt.load(ckpt)
    # One search: each point evaluated once, runs one after another, the history of one run.
    assert len(log.read_text().splitlines()) == 6
    assert all(earlier.ended <= later.started for earlier, later in itertools.pairwise(state.runs))
    assert state.runs[0].n_done_at_start == 0 and all(run.n_done_at_start == 6 for run in state.runs[1:])
    assert torture.history(state.trials) == torture.reference_history(tmp_path, 6)


def test_checkpoint_backup_best_and_lock_files_are_owner_only(tmp_path):
    ckpt = tmp_path / "search.ckpt"
    life = torture.Life(ckpt, 400, tmp_path / "run.err", torture.TortureObjective(delay=0.01), umask=0)
    life.wait_for(lambda: len(life.announced()) >= 3)
    life.send(signal.SIGKILL)
    life.end()
    files = [ckpt, best_file_path(ckpt), lock_path(ckpt), owner_path(ckpt)]
    assert {path.name: oct(os.stat(path).st_mode & 0o777) for path in files} == {path.name: "0o600" for path in files}
    life = torture.Life(ckpt, 6, tmp_path / "run2.err", torture.TortureObjective(), umask=0)
    assert life.end() == 0
    files = [ckpt, ckpt.with_name(ckpt.name + ".bak"), best_file_path(ckpt), lock_path(ckpt)]
    assert {path.name: oct(os.stat(path).st_mode & 0o777) for path in files} == {path.name: "0o600" for path in files}
