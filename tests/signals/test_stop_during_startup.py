"""Issue 10, item 10: Ctrl-C, SIGTERM or SIGHUP during start-up (hyperopt and
scipy loading, a checkpoint being read, its objective unpickled, worker
processes starting) ends the command or the call with one line and the
shell's status, and the checkpoint is untouched.

Each signal lands at a known moment: a module on PYTHONPATH blocks the import
in progress and writes a marker file, and the test signals only once the
marker is there.
"""

import os
import signal
import subprocess
import sys

import pytest

import resumable_opt
from stop_helpers import EXIT, blocking_import, env_with_path, process_gone, release, start, wait_until

# Real processes and real signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def snapshot_of(folder):
    """Every file under ``folder`` with its bytes: what a clean stop must leave as it was."""
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def finished_demo(tmp_path_factory):
    """A folder with a demo search of 3 trials, the checkpoint a stopped command must not touch."""
    folder = tmp_path_factory.mktemp("demo")
    done = start(
        ["resumable-opt", "demo", "--max-evals", "3", "--delay", "0", "--quiet"], cwd=folder, env=env_with_path()
    )
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    return folder


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize(
    "command", [["resumable-opt"], [sys.executable, "-m", "resumable_opt"]], ids=["console-script", "python-m"]
)
def test_a_stop_while_the_command_imports_hyperopt_is_one_line(tmp_path, finished_demo, command, signum):
    work = tmp_path / "work"
    folder, marker = blocking_import(tmp_path / "block", "hyperopt")
    before = snapshot_of(finished_demo)
    process = start(
        [*command, "resume", finished_demo / "checkpoints" / "demo.ckpt", "--max-evals", "6"],
        env=env_with_path(folder, BLOCKING_IMPORT_MARKER=str(marker)),
        cwd=finished_demo,
    )
    wait_until(marker.exists, what="the command to import hyperopt", proc=process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT[signum], err
    assert err == f"resumable-opt: stopped by {signal.Signals(signum).name}\n"
    assert out == ""
    assert snapshot_of(finished_demo) == before
    assert not work.exists()


USER_MODULE = '''
"""A user's objective whose module takes long to import (torch, a big model):
it writes a marker and waits for a release file."""
import os, time

marker = os.environ.get("USER_MODULE_MARKER")
if marker:
    open(marker, "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(marker + ".release") and time.monotonic() < deadline:
        time.sleep(0.02)


class Objective:
    def __call__(self, params):
        return (params["x"] - 0.3) ** 2
'''

RESUME_FROM_PYTHON = """
import sys
import resumable_opt
resumable_opt.minimize(None, None, sys.argv[1], 6, progress=False)
print("finished")
"""


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_while_minimize_unpickles_the_stored_objective_leaves_the_checkpoint_untouched(tmp_path, signum):
    (tmp_path / "userobjective.py").write_text(USER_MODULE)
    ckpt = tmp_path / "user.ckpt"
    create = (
        "import resumable_opt, userobjective\nfrom hyperopt import hp\n"
        "resumable_opt.minimize(userobjective.Objective(), {'x': hp.uniform('x', 0, 1)}, 'user.ckpt', 3, seed=1)"
    )
    done = start([sys.executable, "-c", create], cwd=tmp_path, env=env_with_path(tmp_path))
    assert done.communicate(timeout=120) and done.returncode == 0
    before = snapshot_of(tmp_path)

    marker = tmp_path / "imported"
    process = start(
        [sys.executable, "-c", RESUME_FROM_PYTHON, ckpt],
        cwd=tmp_path,
        env=env_with_path(tmp_path, USER_MODULE_MARKER=str(marker)),
    )
    wait_until(marker.exists, what="minimize to unpickle the stored objective", proc=process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT[signum], err
    assert err == f"Stopped by {signal.Signals(signum).name} before the search started; {ckpt} was not changed.\n"
    assert out == ""
    after = snapshot_of(tmp_path)
    assert after == {**before, marker.relative_to(tmp_path): b""}, "nothing written, nothing left behind"

    # The lock was let go: the next run resumes the same search.
    done = start([sys.executable, "-c", RESUME_FROM_PYTHON, ckpt], cwd=tmp_path, env=env_with_path(tmp_path))
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0 and out == "finished\n", err
    assert resumable_opt.load(ckpt).n_finished == 6


POOL_SEARCH = """
import sys
from hyperopt import hp
import resumable_opt


def objective(params):
    return params["x"] ** 2

if __name__ == "__main__":
    resumable_opt.minimize(objective, {"x": hp.uniform("x", -1, 1)}, sys.argv[1], 4, seed=1, n_jobs=2, progress=False)
"""


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_to_the_process_group_while_worker_processes_start_is_one_line(tmp_path, signum):
    """The fork server is blocked importing hyperopt when a terminal's signal
    reaches the whole process group: the runner stops cleanly, and the fork
    server never prints a traceback of its own (it ignores the group's stop
    signals: the runner decides) and goes away with its runner."""
    script = tmp_path / "pool.py"
    script.write_text(POOL_SEARCH)
    ckpt = tmp_path / "pool.ckpt"
    folder, marker = blocking_import(tmp_path / "block", "hyperopt")
    env = env_with_path(folder, BLOCKING_IMPORT_MARKER=str(marker), BLOCKING_IMPORT_ONLY_IN_FORK_SERVER="1")
    # stderr in a file: what is there when the runner has exited is what the user saw at the prompt.
    with open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(script), str(ckpt)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        wait_until(lambda: marker.exists() or process.poll() is not None, what="the fork server to import hyperopt")
        assert process.poll() is None, (tmp_path / "stderr").read_text()
        fork_server = int(marker.read_text())
        os.killpg(process.pid, signum)
        assert process.wait(timeout=60) == EXIT[signum], (tmp_path / "stderr").read_text()
        assert (
            (tmp_path / "stderr").read_text()
            == f"Stopped by {signal.Signals(signum).name} before the search started; {ckpt} was not changed.\n"
        )
        assert not process_gone(fork_server), "the signal to the process group did not kill the fork server"
        assert not ckpt.exists()
    finally:
        release(marker)
    # A spawn request the runner had queued keeps the fork server until it serves it; then it goes.
    wait_until(lambda: process_gone(fork_server), 60, "the fork server to go with its runner")
