"""What the command-line tests share: running ``resumable-opt`` in a child process,
and a finished search with successes, failures and a conditional branch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import resumable_opt
from searches import SPACES, loss_of

#: Seed and size of the finished search every inspection test reads.
SEED, MAX_EVALS = 11, 24


def cli(*args: object, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """``python -m resumable_opt ARGS`` in a child process, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "resumable_opt", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def cli_all(commands: dict[str, tuple], timeout: float = 120) -> dict[str, subprocess.CompletedProcess]:
    """Run several commands at once (each ``python -m resumable_opt ARGS``); their results by name."""
    started = {
        name: (
            args,
            subprocess.Popen(
                [sys.executable, "-m", "resumable_opt", *map(str, args)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for name, args in commands.items()
    }
    done = {}
    for name, (_args, proc) in started.items():
        out, err = proc.communicate(timeout=timeout)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


def failing_above_three(params: dict) -> float:
    """``loss_of``, except that it raises for x > 3: a search with failed trials."""
    if params["x"] > 3:
        raise ValueError(f"x={params['x']} is too large")
    return loss_of(params)


# Registered as "finished"; test modules import it as finished_search, so that the
# tests' parameter named after the fixture does not shadow an imported name.
@pytest.fixture(scope="session", name="finished")
def finished_search(tmp_path_factory) -> Path:
    """A finished search over the "mixed" space (a choice with a conditional branch,
    an int, a log-uniform), some of whose trials failed."""
    path = tmp_path_factory.mktemp("finished") / "mixed.ckpt"
    resumable_opt.minimize(failing_above_three, SPACES["mixed"](), path, MAX_EVALS, seed=SEED, progress=False)
    return path


def assert_one_line_error(done: subprocess.CompletedProcess, *fragments: str) -> None:
    """A refusal: non-zero exit, one line on stderr naming what is wrong, no traceback, nothing on stdout."""
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert done.stdout == ""


def json_rows(done: subprocess.CompletedProcess) -> list[dict]:
    """The rows ``trials --format json`` printed."""
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
