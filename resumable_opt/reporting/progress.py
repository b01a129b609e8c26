"""What a running search shows: a banner, a progress bar, a line per trial.

Everything goes to stderr, so a script's own stdout stays its own.  The bar is
drawn only on a terminal; the per-trial lines are printed either way, so a
log file of a run in tmux or under nohup still tells the story.  On a
terminal each line fits its width: the parameters are cut (ending in "…"),
never the loss, the duration or the new-best mark; in a log they are whole.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Iterator

from ..errors import in_ipython

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any, TextIO

#: Columns the bar leaves free at the end of its line, where a terminal echoes ``^C``.
ECHO_ROOM = 3


def format_loss(loss: float | None) -> str:
    return "-" if loss is None else f"{loss:.6g}"


def plural(count: int, word: str) -> str:
    """``1 trial``, ``2 trials``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def format_value(value: Any) -> str:
    """One value as a person reads it: ``0.1``, ``3``, ``full``, ``None``; never a numpy repr."""
    numpy = sys.modules.get("numpy")  # a numpy value exists only once numpy is imported
    if numpy is not None and isinstance(value, numpy.generic):
        value = value.item()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        # Bare unless the text would be misread in a ``name=value`` list.
        return value if value and not any(char.isspace() or char in "=,'\"" for char in value) else repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {format_value(item)}" for key, item in value.items()) + "}"
    return str(value)


def flat_params(params: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """A decoded point as ``(name, value)`` pairs, nested dicts flattened to
    ``outer.inner`` names; only what the point holds, i.e. the parameters
    active in that trial."""
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from flat_params(value, name + ".")
        else:
            yield name, value


def format_params(params: Any, width: int | None = None) -> str:
    """``lr=0.1 sampling.mode=full`` for a dict point, the value otherwise; cut to ``width``."""
    if isinstance(params, dict):
        text = " ".join(f"{name}={format_value(value)}" for name, value in flat_params(params))
    else:
        text = format_value(params)
    return cut(text, width)


def cut(text: str, width: int | None) -> str:
    """``text``, ending in "…" if it is longer than ``width``."""
    if width is None or len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…" if width > 0 else ""


def terminal_width(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to (``COLUMNS`` wins, as
    for ``shutil.get_terminal_size``), or None when it is not a terminal."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    try:
        columns = int(os.environ.get("COLUMNS", ""))
        if columns > 0:
            return columns
    except ValueError:
        pass
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return None


def fit_line(essential: list[str], params: str, tail: list[str], width: int | None) -> str:
    """One line of ``essential`` parts, the parameters, then the ``tail`` parts,
    within ``width`` columns: only the parameters are cut, never the other parts."""
    head, end = "  ".join(essential), "  ".join(tail)
    if width is None:
        return "  ".join(part for part in (head, params, end) if part)
    room = width - 1 - len(head) - len(end) - 4  # -1: a line as wide as the terminal wraps on some
    shown = cut(params, room) if room >= 8 else ""
    return "  ".join(part for part in (head, shown, end) if part)


def resume_command() -> str:
    """The command line that started this process, to run again to resume.

    A console script (``resumable-opt demo``) is given as typed when the
    shell finds it by its name, not as the interpreter running its file.
    """
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    script = sys.argv[0] if sys.argv else ""
    if len(argv) > 1 and argv[1] == script and not script.endswith(".py"):
        import shutil  # here: it imports bz2 and lzma, which the inspecting commands need not

        name = os.path.basename(script)
        found = shutil.which(name)
        if found and os.path.samefile(found, script):
            argv = [name, *argv[2:]]
    return shlex.join(argv)


def resume_hint() -> str:
    """How to go on after a stop: the command to run again, or in IPython the cell."""
    if in_ipython():
        return "To resume, run the cell again (or resumable_opt.minimize with the same checkpoint)."
    return f"To resume, run the same command again: {resume_command()}"


def budget_text(total: int) -> str:
    return "no budget" if total >= sys.maxsize else f"budget {total}"


class Progress:
    """The console face of one run.  ``enabled=False`` makes every method silent."""

    def __init__(self, enabled: bool, total: int, done: int, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.total = total
        self._bar = None
        self.width = terminal_width(self.stream) if enabled else None
        if enabled:
            # Imported here: the inspecting commands use this module's formatting, never a bar.
            # Not tqdm.auto: its notebook bar needs ipywidgets (an ImportError with older tqdm);
            # a kernel gets plain lines.
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=done,
                unit="trial",
                desc="search",
                file=self.stream,
                # Not the whole line: the terminal echoes ^C after the bar, and
                # a bar as wide as the line would push it onto a line of its own.
                ncols=max(20, self.width - ECHO_ROOM) if self.width else None,
                disable=None,  # no bar when stderr is not a terminal
                leave=False,
            )

    def say(self, text: str) -> None:
        if self.enabled:
            from tqdm import tqdm

            tqdm.write(text, file=self.stream)

    def started_new(self, path: Any, seed: int | None, budget: int, done: int = 0, first: int = 0) -> None:
        """The banner of a new search (its first run): a mistyped path shows
        here, with the absolute path, rather than as a silent "trial 1"."""
        seed_text = "seed given as a Generator" if seed is None else f"seed {seed}"
        lines = [f"New search: {os.path.abspath(path)}, {seed_text}, {budget_text(budget)}"]
        if done or first:
            lines.append(
                f"  it starts from {plural(done, 'finished trial')} brought in; "
                f"{plural(first, 'point')} to evaluate first"
            )
        self.say("\n".join(lines))

    def resumed(
        self, path: Any, done: int, failed: int, best_loss: float | None, best: Any, rerun: int, budget: int
    ) -> None:
        lines = [f"Resuming {path}: {plural(done, 'trial')} done ({failed} failed), best loss {format_loss(best_loss)}"]
        if best is not None:
            lines.append(cut(f"  best so far: {format_params(best)}", self.width and self.width - 1))
        if rerun:
            lines.append(f"  {plural(rerun, 'interrupted trial')} will be run again first, with the same parameters")
        elif done >= budget:
            lines.append(f"  the budget of {budget} trials is reached: nothing to run (raise max_evals to go on)")
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
        self.say(trial_line(number, self.total, tid, loss, failure, params, duration, new_best, self.width))

    def interrupted(self) -> None:
        """Before the stop message: the bar is gone, and with it the ``^C`` the terminal echoed."""
        self.close()
        if self.enabled and self.width:
            self.stream.write("\r" + " " * (self.width - 1) + "\r")
            self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def trial_line(
    number: int,
    total: int,
    tid: int,
    loss: float | None,
    failure: str | None,
    params: Any,
    duration: float,
    new_best: bool,
    width: int | None = None,
) -> str:
    """``trial 3/90 (tid 2)  loss 0.25  a=1 b.c=x  [0.71s]  * new best``, within ``width``."""
    of_total = f"/{total}" if total < sys.maxsize else ""
    if failure:
        first = failure.strip().splitlines()[0] if failure.strip() else "failed"
        result = f"FAILED {cut(first, 60) if width else first}"
    else:
        result = f"loss {format_loss(loss)}"
    seconds = f"[{duration:.2f}s]" if math.isfinite(duration) else "[?]"
    tail = [seconds] + (["* new best"] if new_best else [])
    line = fit_line([f"trial {number}{of_total} (tid {tid})", result], format_params(params), tail, width)
    if width is not None and len(line) >= width:  # still too wide: the trial id goes too
        line = fit_line([f"trial {number}{of_total}", result], format_params(params), tail, width)
    return line
