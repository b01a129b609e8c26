"""A real terminal for the tests of what people see: a tmux session of a given size.

tmux runs the command on a pseudo-terminal and keeps the screen as a terminal
draws it (wrapping, carriage returns, the ``^C`` the terminal echoes), so a
test reads the very screen a person would see.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Screen:
    """One tmux session (on a server of its own) running ``command`` in ``cwd``."""

    def __init__(
        self, command: list[str], cwd: Path, width: int = 100, height: int = 40, env: dict | None = None
    ) -> None:
        self.socket = f"ro-test-{uuid.uuid4().hex[:12]}"
        self.width = width
        environment = {
            **os.environ,
            "COLUMNS": str(width),
            "LINES": str(height),
            "TERM": "xterm-256color",
            **(env or {}),
        }
        environment.pop("TMUX", None)
        # The shell stays after the command, so its last screen can still be read.
        # Like an interactive shell, it outlives a Ctrl-C of its command (trapped, not ignored,
        # so the command gets the default handling).
        script = f'trap true INT; cd {shlex.quote(str(cwd))} && {shlex.join(command)}; echo "[exit $?]"; sleep 600'
        subprocess.run(
            [
                "tmux",
                "-L",
                self.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                str(width),
                "-y",
                str(height),
                "sh",
                "-c",
                script,
            ],
            check=True,
            env=environment,
            timeout=30,
        )

    def text(self) -> str:
        """The screen (with the lines scrolled off it), trailing blanks removed."""
        done = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p", "-S", "-1000"], capture_output=True, text=True, timeout=30
        )
        return "\n".join(line.rstrip() for line in done.stdout.rstrip("\n").splitlines())

    def wait_for(self, fragment: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if fragment in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{fragment!r} never appeared on the screen:\n{self.text()}")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", *keys], check=True, timeout=30)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def screens():
    """Opens :class:`Screen` s, and closes them after the test."""
    opened: list[Screen] = []

    def open_screen(command: list[str], cwd: Path, **kwargs) -> Screen:
        screen = Screen(command, cwd, **kwargs)
        opened.append(screen)
        return screen

    yield open_screen
    for screen in opened:
        screen.close()


def search_command(checkpoint: Path | str, max_evals: int, *extra: str) -> list[str]:
    """``tests/searches.py`` as a command for a screen."""
    return [sys.executable, str(TESTS / "searches.py"), str(checkpoint), str(max_evals), *extra]
