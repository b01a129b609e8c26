"""A long trial cut short by SIGKILL or Ctrl-C resumes from its saved state,
and the search ends as one never interrupted (real processes, real signals)."""

import signal

import pytest

from resumable_opt.trial.files import trials_folder
from trial_helpers import epochs, history, interrupt_when, run, start

MAX_EVALS = 8

pytestmark = pytest.mark.slow  # real searches in child processes, interrupted several times


@pytest.mark.parametrize("pruner", ["median", "sha"])
def test_interrupted_anywhere_ends_as_uninterrupted(tmp_path, pruner):
    reference, reference_log = tmp_path / "reference.ckpt", tmp_path / "reference.log"
    run(reference, MAX_EVALS, reference_log, "--pruner", pruner)
    expected = history(reference)
    assert any(result.get("pruned") for _, _, _, result, _ in expected), "the pruner should stop some trials here"

    ckpt, log = tmp_path / "search.ckpt", tmp_path / "search.log"
    interruptions = 0
    for index, signum in enumerate([signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGINT, signal.SIGKILL]):
        proc = start(ckpt, MAX_EVALS, log, "--pruner", pruner)
        interrupt_when(proc, log, len(epochs(log)) + 3 + 2 * index, signum)
        interruptions += 1
    run(ckpt, MAX_EVALS, log, "--pruner", pruner)

    assert history(ckpt) == expected
    computed, uninterrupted = len(epochs(log)), len(epochs(reference_log))
    assert uninterrupted <= computed <= uninterrupted + interruptions
    # a trial cut short went on from its saved epoch: some trial was evaluated again (attempt 2+)
    # and its second evaluation did not start at epoch 0
    resumed = [(tid, attempt, epoch) for tid, attempt, epoch, _ in epochs(log) if attempt > 1]
    assert resumed and any(epoch > 0 for _, _, epoch in resumed[:1])
    assert not trials_folder(ckpt).exists(), "saved states are removed once their trials finish"


@pytest.mark.parametrize("mode", ["n_jobs", "dask"])
def test_interrupted_with_workers_resumes_inside_trials(tmp_path, mode):
    """With worker processes and on a Dask LocalCluster: the trials cut short by
    killing the runner go on from their saved epoch, and every trial finishes."""
    ckpt, log = tmp_path / "search.ckpt", tmp_path / "search.log"
    proc = start(ckpt, 6, log, "--mode", mode, "--pruner", "none")
    interrupt_when(proc, log, 9, signal.SIGKILL)
    cut_short = {tid: max(epoch for t, _, epoch, _ in epochs(log) if t == tid) for tid, _, _, _ in epochs(log)}
    run(ckpt, 6, log, "--mode", mode, "--pruner", "none")

    state_after = history(ckpt)
    assert len(state_after) == 6 and all(result["status"] == "ok" for _, _, _, result, _ in state_after)
    assert all(sorted(values) == list(range(6)) for *_, values in state_after)
    second = [(tid, epoch) for tid, attempt, epoch, _ in epochs(log) if attempt == 2]
    assert second, "the trials in flight when the runner was killed are evaluated again"
    for tid in {tid for tid, _ in second}:
        first_epoch = min(epoch for t, epoch in second if t == tid)
        # it starts again at the epoch that was cut short (that one is computed twice), not at 0
        assert first_epoch == cut_short[tid] or cut_short[tid] == 0, (tid, first_epoch, cut_short[tid])
    assert len(epochs(log)) <= 6 * 6 + 2  # at most one epoch again per trial in flight


def test_resume_from_the_command_line_keeps_the_pruner(tmp_path):
    """`resumable-opt resume` goes on with the pruner the search ran with: the
    same history as a search never stopped."""
    import subprocess
    import sys

    import resumable_opt

    reference, reference_log = tmp_path / "reference.ckpt", tmp_path / "reference.log"
    run(reference, MAX_EVALS, reference_log, "--pruner", "median")
    ckpt, log = tmp_path / "search.ckpt", tmp_path / "search.log"
    run(ckpt, 4, log, "--pruner", "median")
    assert (
        repr(resumable_opt.load(ckpt).pruner)
        == "MedianPruner(n_startup_trials=2, n_warmup_steps=0, interval_steps=1, n_min_trials=1)"
    )
    done = subprocess.run(
        [sys.executable, "-m", "resumable_opt", "resume", str(ckpt), "--max-evals", str(MAX_EVALS), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert history(ckpt) == history(reference)
    shown = subprocess.run([sys.executable, "-m", "resumable_opt", "show", str(ckpt)], capture_output=True, text=True)
    assert "pruner:    MedianPruner(n_startup_trials=2" in shown.stdout
