"""What a run prints, read off a real terminal (tmux) of a given width: lines
that fit, a banner for a new search, a clean stop on Ctrl-C."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from conftest import run_search
from terminal import needs_tmux, search_command

TRIAL_LINE = re.compile(
    r"^trial \d+/(\d+)( \(tid \d+\))?  (loss \S+|FAILED .*?)(  .*)?  \[\d+\.\d\ds\](  \* new best)?$"
)


@needs_tmux
def test_trial_lines_fit_the_terminal_and_never_lose_loss_duration_or_mark(tmp_path, screens):
    screen = screens(search_command("wide.ckpt", 12, "--space", "wide"), tmp_path, width=80)
    shown = screen.wait_for("[exit 0]").splitlines()
    trial_lines = [line for line in shown if line.startswith("trial ")]
    assert len(trial_lines) == 12, "\n".join(shown)
    # A line wider than the terminal would wrap: its rest would be a line of its own.
    # (The banner may wrap: it gives the path whole.)
    after_banner = shown[shown.index(trial_lines[0]) :]
    for line in after_banner:
        assert line.startswith(("trial ", "[exit ")), f"a wrapped or stray line: {line!r}\n" + "\n".join(shown)
    for line in trial_lines:
        assert len(line) < 80 and TRIAL_LINE.match(line), line
        assert "learning_rate=" in line  # parameters are cut, not dropped, while there is room
    assert trial_lines[0].endswith("* new best")


def test_piped_lines_are_whole_with_flat_active_parameters(tmp_path):
    done = run_search(tmp_path / "wide.ckpt", 12, "--space", "wide", env={**_env(), "COLUMNS": "60"})
    lines = [line for line in done.stderr.splitlines() if line.startswith("trial ")]
    assert len(lines) == 12
    for line in lines:
        assert TRIAL_LINE.match(line) and "…" not in line, line
        assert "{" not in line and "'" not in line, line  # no dict reprs
        if "sampling.mode=full" in line:
            assert re.search(r"sampling\.min_samples_leaf=\d+ ", line) and "fraction_of_rows" not in line, line
        elif "sampling.mode=subsample" in line:
            assert "sampling.fraction_of_rows=" in line and "min_samples_leaf" not in line, line
        else:
            assert "sampling=None" in line, line
    chosen = {re.search(r"sampling(?:\.mode)?=(\w+)", line).group(1) for line in lines}
    assert {"full", "subsample", "None"} <= chosen


def _env() -> dict:
    import os

    return dict(os.environ)


def test_a_new_search_says_so_with_its_absolute_path(tmp_path):
    done = run_search("sub/typo.ckpt", 3, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first = done.stderr.splitlines()[0]
    assert first == f"New search: {tmp_path / 'sub' / 'typo.ckpt'}, seed 7, budget 3"
    again = run_search("sub/typo.ckpt", 5, cwd=tmp_path)
    assert "New search" not in again.stderr and again.stderr.startswith("Resuming sub/typo.ckpt: 3 trials done")


def test_rerunning_a_finished_fmin_script_says_the_budget_is_reached(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(
        textwrap.dedent("""
        import numpy as np
        from hyperopt import hp, tpe
        from resumable_opt import fmin
        print(fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=tpe.suggest, max_evals=4,
                   rstate=np.random.default_rng(0), checkpoint="run.ckpt"))
    """)
    )
    first = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and first.stderr.count("\ntrial ") == 4, first.stderr
    again = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Resuming run.ckpt: 4 trials done (0 failed)" in again.stderr
    assert "the budget of 4 trials is reached: nothing to run" in again.stderr
    assert "trial " not in again.stderr.replace("4 trials done", "").replace("4 trials is", "")
    assert again.stdout == first.stdout


@needs_tmux
def test_ctrl_c_leaves_no_stray_caret_and_counts_one_trial(tmp_path, screens):
    screen = screens(search_command("slow.ckpt", 50, "--delay", "4"), tmp_path, width=90)
    screen.wait_for("trial 1/50")
    screen.keys("C-c")  # the terminal sends SIGINT and echoes ^C, as when a person presses it
    shown = screen.wait_for("[exit 130]")
    assert "Stopped. 1 trial is done and saved in slow.ckpt." in shown, shown
    for line in shown.splitlines():
        assert not line.endswith(("^", "^C")) and not line.startswith("search:"), f"{line!r} in\n{shown}"
