"""Guarantee 7: feedback while it runs, and a banner on resume."""

from conftest import run_search


def test_one_line_per_trial_with_decoded_params_and_best_marks(ckpt):
    done = run_search(ckpt, 5)
    lines = [line for line in done.stderr.splitlines() if line.startswith("trial ")]
    assert len(lines) == 5
    assert lines[0].startswith("trial 1/5 (tid 0)  loss ") and "* new best" in lines[0]
    assert "kind" in lines[0] and "x=" in lines[0]


def test_resume_banner(ckpt):
    run_search(ckpt, 3, "--quiet")
    done = run_search(ckpt, 5)
    assert "Resuming" in done.stderr and "3 trials done" in done.stderr
    assert sum(line.startswith("trial ") for line in done.stderr.splitlines()) == 2
