"""Issue 10, items 11, 13, 14 and 15: what a run and the commands say when the night gets odd.

Real processes and real faults: a reader racing the final snapshot, an
infinite loss read with a strict JSON parser, a read-only mounted folder,
a run out of file descriptors, hints pasted back into a shell parser.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shlex
import subprocess
import sys
import textwrap

import pytest

import resumable_opt
from cli.cli_helpers import cli
from conftest import TESTS
from resumable_opt.reporting.summary import NO_END

pytestmark = pytest.mark.slow


def strict_json(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity (not JSON)."""

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def python(code: str, *args: object, cwd=None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run ``code`` in a child Python that can import the tests' helpers."""
    prelude = f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
    command = [sys.executable, "-c", prelude + textwrap.dedent(code), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout, **kwargs)


# -- item 11: a reader racing the final snapshot ------------------------------

RUN_A_LITTLE = """
    import sys
    from hyperopt import hp, rand
    import resumable_opt
    resumable_opt.minimize(lambda p: p["x"] ** 2, {"x": hp.uniform("x", -1, 1)}, sys.argv[1], int(sys.argv[2]),
                           algo=rand.suggest, seed=1, progress=False)
"""


def test_a_reader_racing_the_end_of_a_run_never_calls_it_killed(tmp_path):
    ckpt = tmp_path / "search.ckpt"
    assert python(RUN_A_LITTLE, ckpt, 1500).returncode == 0  # a checkpoint that takes a while to read
    seen_killed = []
    for budget in range(1502, 1522, 2):
        run = subprocess.Popen([sys.executable, "-c", textwrap.dedent(RUN_A_LITTLE), str(ckpt), str(budget)])
        while run.poll() is None:
            state = resumable_opt.load(ckpt)
            if state.runs and state.runs[-1].ended is None and state.running is None:
                seen_killed.append(len(state.runs))
        assert run.returncode == 0
    state = resumable_opt.load(ckpt)
    assert all(run.outcome == "budget reached" for run in state.runs)  # every run ended normally
    assert seen_killed == [], f"runs {seen_killed} were read as {NO_END!r} while they were ending normally"


# -- item 13: every JSON written is strict JSON ---------------------------------

INFINITE_LOSS = """
    import sys
    from hyperopt import hp
    import resumable_opt

    def objective(params):
        return float("-inf") if params["x"] > 0 else float("inf")

    resumable_opt.minimize(objective, {"x": hp.uniform("x", -1, 1)}, sys.argv[1], 6, seed=0, progress=False)
"""


def test_an_infinite_loss_is_written_as_strict_json_everywhere(tmp_path):
    ckpt = tmp_path / "inf.ckpt"
    done = python(INFINITE_LOSS, ckpt)
    assert done.returncode == 0, done.stderr
    (written,) = tmp_path.glob("*.best.json")
    best_file = strict_json(written.read_text())
    printed = strict_json(cli("best", ckpt, "--json").stdout)
    rows = strict_json(cli("trials", ckpt, "--format", "json").stdout)
    assert best_file["loss"] == printed["loss"] == "-inf"
    assert {row["loss"] for row in rows} == {"-inf", "inf"}  # as the best file writes it
    assert float(best_file["loss"]) == resumable_opt.load(ckpt).best_loss


# -- item 14: a read-only folder; the best-so-far file that cannot be written ----


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder holding a search, then mounted read-only (root ignores file modes, not a read-only mount)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)]
    mounted = subprocess.run(mount, capture_output=True, text=True)
    if mounted.returncode != 0:
        why = f"cannot mount a tmpfs here ({mounted.stderr.strip()}); a read-only folder needs a read-only mount"
        print(f"SKIPPED: {why}")
        pytest.skip(why)
    try:
        search = [sys.executable, str(TESTS / "searches.py"), folder / "search.ckpt", "4", "--quiet"]
        done = subprocess.run(search, timeout=300)
        assert done.returncode == 0
        remounted = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True)
        assert remounted.returncode == 0, remounted.stderr
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_read_only_folder_gives_one_clear_message(read_only_folder):
    ckpt = read_only_folder / "search.ckpt"
    before = ckpt.read_bytes()
    done = cli("resume", ckpt, "--max-evals", "8")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "unexpected error" not in done.stderr
    assert "read-only" in done.stderr and "copy the checkpoint to a folder you can write to" in done.stderr
    for command in ("show", "best", "trials", "verify"):  # reading needs no writing
        assert cli(command, ckpt).returncode == 0
    assert ckpt.read_bytes() == before


LEAKING_OBJECTIVE = """
    import os, sys
    from hyperopt import hp, rand
    import resumable_opt

    leaked, calls = [], []

    def objective(params):
        # Trials 3 and 4 run with every file descriptor in use (a leaking library),
        # and each is a new best: the best-so-far file cannot be written then.
        calls.append(1)
        if len(calls) == 3:
            try:
                while True:
                    leaked.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
        if len(calls) == 5:
            while leaked:
                os.close(leaked.pop())
        return -len(calls)

    resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, sys.argv[1], 6, algo=rand.suggest, progress=False)
"""


def test_a_best_file_that_cannot_be_written_is_a_warning_and_the_run_goes_on(tmp_path):
    ckpt = tmp_path / "leak.ckpt"

    def few_descriptors():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    done = python(LEAKING_OBJECTIVE, ckpt, preexec_fn=few_descriptors)
    assert done.returncode == 0, done.stderr
    assert "warning: could not write the best-so-far file" in done.stderr and "Too many open files" in done.stderr
    assert "Traceback" not in done.stderr
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 6 and state.best_loss == -6 and [run.outcome for run in state.runs] == ["budget reached"]
    assert strict_json(ckpt.with_name("leak.ckpt.best.json").read_text())["loss"] == -6


# -- item 15: hints that survive being pasted into a shell ----------------------


def test_the_hints_printed_at_the_end_of_a_run_are_shell_quoted(tmp_path):
    folder = tmp_path / "my searches"
    folder.mkdir()
    name = "$(touch pwned) it's.ckpt"
    done = cli("demo", "--checkpoint", folder / name, "--max-evals", "3", "--delay", "0", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    hint = re.search(r"inspect it with: (.*)\)$", done.stdout.strip().splitlines()[-1]).group(1)
    assert shlex.split(hint) == ["resumable-opt", "show", str(folder / name)]
    inspected = subprocess.run(
        hint,
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])},
    )
    assert inspected.returncode == 0, inspected.stderr
    assert not (tmp_path / "pwned").exists()
