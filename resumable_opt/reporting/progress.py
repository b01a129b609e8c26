"""What a running search shows: a banner on resume, a progress bar, a line per trial.

Everything goes to stderr, so a script's own stdout stays its own.  The bar is
drawn only on a terminal; the per-trial lines are printed either way, so a
log file of a run in tmux or under nohup still tells the story.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from typing import Any, TextIO

from tqdm.auto import tqdm


def format_loss(loss: float | None) -> str:
    return "-" if loss is None else f"{loss:.6g}"


def format_params(params: Any, width: int = 100) -> str:
    """``lr=0.1 m=10.0`` for a dict point, the repr otherwise; cut to ``width``."""
    if isinstance(params, dict):
        text = " ".join(f"{key}={_short_value(value)}" for key, value in params.items())
    else:
        text = repr(params)
    return text if len(text) <= width else text[: width - 1] + "…"


def _short_value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)


def resume_command() -> str:
    """The command line that started this process, to run again to resume.

    A console script (``resumable-opt demo``) is given as typed when the
    shell finds it by its name, not as the interpreter running its file.
    """
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    script = sys.argv[0] if sys.argv else ""
    if len(argv) > 1 and argv[1] == script and not script.endswith(".py"):
        name = os.path.basename(script)
        found = shutil.which(name)
        if found and os.path.samefile(found, script):
            argv = [name, *argv[2:]]
    return shlex.join(argv)


class Progress:
    """The console face of one run.  ``enabled=False`` makes every method silent."""

    def __init__(self, enabled: bool, total: int, done: int, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.total = total
        self._bar = None
        if enabled:
            self._bar = tqdm(
                total=total,
                initial=done,
                unit="trial",
                desc="search",
                file=self.stream,
                dynamic_ncols=True,
                disable=None,  # no bar when stderr is not a terminal
                leave=False,
            )

    def say(self, text: str) -> None:
        if self.enabled:
            tqdm.write(text, file=self.stream)

    def resumed(self, path: Any, done: int, failed: int, best_loss: float | None, best: Any, rerun: int) -> None:
        lines = [f"Resuming {path}: {done} trials done ({failed} failed), best loss {format_loss(best_loss)}"]
        if best is not None:
            lines.append(f"  best so far: {format_params(best)}")
        if rerun:
            lines.append(f"  {rerun} interrupted trial(s) will be run again first, with the same parameters")
        self.say("\n".join(lines))

    def trial_finished(
        self,
        number: int,
        tid: int,
        loss: float | None,
        failure: str | None,
        params: Any,
        duration: float,
        new_best: bool,
        best_loss: float | None,
    ) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if best_loss is not None:
                self._bar.set_postfix_str(f"best loss {format_loss(best_loss)}", refresh=False)
        if not self.enabled:
            return
        result = f"FAILED {failure}" if failure else f"loss {format_loss(loss)}"
        mark = "  * new best" if new_best else ""
        of_total = f"/{self.total}" if self.total < sys.maxsize else ""
        self.say(f"trial {number}{of_total} (tid {tid})  {result}  {format_params(params)}  [{duration:.2f}s]{mark}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
