"""Helpers for the stop-signal tests: processes started in a session of their
own (so that a signal can go to the whole process group, as a terminal sends
it), a module that blocks its importer until released (a stop during
start-up), waiting for observable events, and a real terminal that hangs up."""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

from processes import process_gone as process_gone
from processes import wait_until as wait_until

HERE = Path(__file__).parent
TESTS = HERE.parent
ROOT = TESTS.parent
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def env_with_path(*folders: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, folders), str(ROOT), env.get("PYTHONPATH", "")])
    # The console script is found on PATH, as the README has it.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env.update(extra)
    return env


def start(args: list, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    """A process leading a process group of its own: ``os.killpg`` then reaches it
    and every process it started, as Ctrl-C or a hang-up in a terminal does."""
    return subprocess.Popen(
        list(map(str, args)),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


# -- a module whose import blocks until released ----------------------------

BLOCKING_MODULE = '''
"""Stands in for the real module of this name: writes its pid to the marker
file, waits until the release file exists, then gives way to the real module."""
import importlib, os, sys, time

_marker = os.environ["BLOCKING_IMPORT_MARKER"]
_only_in_fork_server = os.environ.get("BLOCKING_IMPORT_ONLY_IN_FORK_SERVER") == "1"
if not _only_in_fork_server or (sys.argv[0] == "-c" and "multiprocessing.forkserver" in sys.modules):
    with open(_marker + ".tmp", "w") as _handle:
        _handle.write(str(os.getpid()))
    os.replace(_marker + ".tmp", _marker)
    _deadline = time.monotonic() + 120
    while not os.path.exists(_marker + ".release") and time.monotonic() < _deadline:
        time.sleep(0.02)
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _here]
del sys.modules[__name__]
sys.modules[__name__] = importlib.import_module(__name__)
'''


def blocking_import(folder: Path, module: str) -> tuple[Path, Path]:
    """Make ``import MODULE`` block (from a folder put first on PYTHONPATH);
    returns that folder and the marker file the import writes when it blocks."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(BLOCKING_MODULE)
    return folder, folder / f"{module}.imported"


def release(marker: Path) -> None:
    Path(str(marker) + ".release").write_text("")


# -- a real terminal ------------------------------------------------------------


class Terminal:
    """An interactive bash on a real pseudo-terminal, as over SSH or in tmux.

    :meth:`hang_up` closes the terminal: the kernel sends SIGHUP to bash, which
    sends it on to its jobs before it exits, as when an SSH connection drops.
    """

    def __init__(self, cwd: Path, env: dict) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: bash, with the terminal as its controlling terminal
            os.chdir(cwd)
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], {**env, "PS1": "$ ", "TERM": "xterm"})
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.5)
                if ready:
                    data = os.read(self.fd, 65536)
                    if not data:
                        return
                    self.output += data
            except OSError:
                return

    def run(self, args: list) -> None:
        # Typed once bash shows its prompt, the line is read by a shell that is ready for it.
        wait_until(lambda: self.output.endswith(b"$ "), 60, "the shell's prompt")
        os.write(self.fd, (shlex.join(map(str, args)) + "\n").encode())

    def hang_up(self) -> None:
        os.close(self.fd)
        os.waitpid(self.pid, 0)


def owner_pid(checkpoint: Path) -> int:
    """The pid of the run that holds ``checkpoint`` (from its owner note)."""
    return json.loads(Path(str(checkpoint) + ".owner.json").read_text())["pid"]
