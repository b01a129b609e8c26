"""Following a run from elsewhere: ``resumable-opt watch CKPT``.

The watcher only reads: it loads the checkpoint the way ``load`` does (once
per change of the file, without the lock), so it never blocks, slows or
changes the run, and any number of watchers may follow one run, from another
terminal or over SSH.  It ends by itself when the run ends, with the run's
outcome.

On a terminal the view is drawn live with ``rich`` (the ``watch`` extra); in a
log, or without rich, it prints one plain line whenever a trial finishes (and
a line at least every :data:`PLAIN_HEARTBEAT` seconds while one runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..checkpoint.lock import running_owner
from ..errors import CheckpointError
from ..values import active_values
from .progress import cut, format_loss, format_params, plural
from .rows import STATUS_FAIL, STATUS_OK, STATUS_PENDING, STATUS_RUNNING, TrialTable, trial_table
from .summary import NO_END, format_duration, status_line

if TYPE_CHECKING:
    from ..search_state import SearchState

#: Seconds between two looks at the file.
REFRESH = 1.0
#: Trials listed under "last trials".
LAST_TRIALS = 8
#: In plain mode, a line at least this often (seconds) while nothing finishes.
PLAIN_HEARTBEAT = 30.0
#: Reads in a row that may fail (a file being replaced under us) before the watcher gives up.
READ_ATTEMPTS = 10


@dataclass
class WatchView:
    """What the watcher shows, worked out from one reading of the checkpoint."""

    path: Path
    running: bool
    #: The run being watched has recorded its end (its outcome is known).
    ended: bool
    outcome: str
    who: str
    finished: int
    failed: int
    budget: int | None
    #: Seconds since the current run started (None: no run record yet).
    elapsed: float | None
    eta: float | None
    best: str
    best_loss: float | None = None
    best_tid: int | None = None
    #: (tid, seconds so far, parameters) of each trial being evaluated.
    in_flight: list[tuple[int, float | None, str]] = field(default_factory=list)
    #: The last finished trials, newest last: (tid, status, loss, duration, parameters).
    last: list[tuple[int, str, float | None, float | None, str]] = field(default_factory=list)
    last_failure: str = ""


def current_run(state: SearchState) -> Any:
    """The run record of the run holding the checkpoint now, or None (none, or not recorded yet)."""
    owner = state.running or {}
    if not state.runs or not owner:
        return None
    run = state.runs[-1]
    since = owner.get("since_epoch")
    if run.pid != owner.get("pid") or (isinstance(since, (int, float)) and run.started < since - 1):
        return None  # the record of an earlier run: the new one has not written its start yet
    return run


def watch_view(state: SearchState, table: TrialTable | None, now: float | None = None) -> WatchView:
    """The view of ``state`` at ``now`` (epoch seconds)."""
    now = time.time() if now is None else now
    run = current_run(state)
    running = state.running is not None and (run is None or run.outcome is None)
    if running:
        outcome = "running"
    elif state.runs and state.runs[-1].outcome:
        outcome = state.runs[-1].outcome
    elif state.runs:
        outcome = NO_END
    else:
        outcome = "never run"
    owner = state.running or {}
    who = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}" if owner else ""
    elapsed = eta = None
    budget = state.max_evals
    if run is not None:
        elapsed = max(0.0, now - run.started)
        budget = run.max_evals
        done_here = state.n_finished - run.n_done_at_start
        if done_here > 0 and budget is not None and elapsed > 0:
            eta = max(0, budget - state.n_finished) * elapsed / done_here
    best = "no successful trial yet"
    if state.best_trial is not None:
        try:
            params = format_params(state.best)
        except Exception:  # the space cannot be loaded here: the raw point
            params = format_params(state.argmin)
        best = f"loss {format_loss(state.best_loss)} at trial {state.best_trial['tid']}: {params}"
    view = WatchView(
        path=state.path,
        running=running,
        ended=not running,
        outcome=outcome,
        who=who,
        finished=state.n_finished,
        failed=state.n_failed,
        budget=budget,
        elapsed=elapsed,
        eta=eta,
        best=best,
        best_loss=state.best_loss,
        best_tid=None if state.best_trial is None else state.best_trial["tid"],
    )
    if table is not None:
        for row in table.rows:
            if row["status"] in (STATUS_RUNNING, STATUS_PENDING):
                started = row["started"]
                seconds = max(0.0, now - started.timestamp()) if isinstance(started, datetime) else None
                if row["status"] == STATUS_RUNNING:
                    view.in_flight.append((row["tid"], seconds, _params_of(state, row["tid"])))
        finished = [row for row in table.rows if row["status"] in (STATUS_OK, STATUS_FAIL)]
        finished.sort(key=lambda row: (_finished_at(row), row["tid"]))
        view.last = [
            (row["tid"], row["status"], row["loss"], row["duration"], _params_of(state, row["tid"]))
            for row in finished[-LAST_TRIALS:]
        ]
        failures = [doc for doc in state.trials._dynamic_trials if doc["result"].get("status") == "fail"]
        if failures:
            last = max(failures, key=lambda doc: doc["tid"])
            reason = str(last["result"].get("failure") or last["misc"].get("error") or "failed").strip().splitlines()
            view.last_failure = f"trial {last['tid']}: {reason[-1] if reason else 'failed'}"
    return view


def _finished_at(row: dict) -> float:
    started, duration = row["started"], row["duration"] or 0.0
    return started.timestamp() + duration if isinstance(started, datetime) else 0.0


def _params_of(state: SearchState, tid: int) -> str:
    """The parameters of one trial as the per-trial lines show them (flat, only those it used)."""
    doc = next(doc for doc in state.trials._dynamic_trials if doc["tid"] == tid)
    try:
        return format_params(state.decoded(doc))
    except Exception:  # the space cannot be loaded here: the raw point
        return format_params(active_values(doc["misc"]["vals"]))


def progress_text(view: WatchView) -> str:
    budget = "?" if view.budget is None else str(view.budget)
    parts = [f"{view.finished} of {budget} trials finished ({view.failed} failed)"]
    if view.in_flight:
        parts.append(f"{len(view.in_flight)} running")
    if view.eta is not None and view.running:
        parts.append(f"ETA {format_duration(view.eta)}")
    return ", ".join(parts)


def ending_line(view: WatchView) -> str:
    """What the watcher prints last: how the run ended."""
    best = f", best loss {format_loss(view.best_loss)} at trial {view.best_tid}" if view.best_tid is not None else ""
    return f"The run ended: {view.outcome}. {plural(view.finished, 'trial')} finished ({view.failed} failed){best}."


def plain_line(view: WatchView, width: int | None = None) -> str:
    """One line of plain mode: the time, the progress, the best, the trials running."""
    stamp = datetime.now(timezone.utc).astimezone().strftime("%H:%M:%S")
    running = "; ".join(
        f"trial {tid} running for {format_duration(seconds) if seconds is not None else '?'}"
        for tid, seconds, _ in view.in_flight
    )
    text = f"{stamp}  {progress_text(view)}; best {view.best}" + (f"; {running}" if running else "")
    return cut(text, width)


def rich_view(view: WatchView, width: int) -> Any:
    """The live view as a ``rich`` renderable."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text.assemble(("Watching ", "bold"), (str(view.path.resolve()), "bold cyan"))]
    if view.budget:
        bar = Table.grid(padding=(0, 1))
        bar.add_column(no_wrap=True)
        bar.add_column(ratio=1)
        bar.add_row(
            f"{100 * min(1.0, view.finished / view.budget):3.0f}%",
            ProgressBar(total=view.budget, completed=view.finished),
        )
        parts.append(bar)
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True, min_width=12)
    facts.add_column(overflow="ellipsis", no_wrap=True, ratio=1)
    if view.who:
        facts.add_row("run", view.who + (f", for {format_duration(view.elapsed)}" if view.elapsed is not None else ""))
    facts.add_row("trials", progress_text(view))
    facts.add_row("best", view.best)
    for tid, seconds, params in view.in_flight:
        facts.add_row(
            "running", f"trial {tid} for {format_duration(seconds) if seconds is not None else '?'}: {params}"
        )
    if view.last_failure:
        facts.add_row("last failure", view.last_failure)
    parts.append(facts)
    if view.last:
        trials = Table(title=None, box=None, header_style="bold", pad_edge=False, expand=False, width=width)
        trials.add_column("tid", justify="right", no_wrap=True)
        trials.add_column("status", no_wrap=True)
        trials.add_column("loss", justify="right", no_wrap=True)
        trials.add_column("duration", justify="right", no_wrap=True)
        trials.add_column("parameters", overflow="ellipsis", no_wrap=True, ratio=1)
        for tid, status, loss, duration, params in view.last:
            trials.add_row(str(tid), status, format_loss(loss), "-" if duration is None else f"{duration:.2f}s", params)
        parts.append(Text("last trials", style="bold"))
        parts.append(trials)
    return Group(*parts)


class Watcher:
    """Reads a checkpoint again whenever it changes (at most once per ``refresh`` seconds)."""

    def __init__(self, path: Path, load: Callable[[Path], SearchState]) -> None:
        self.path = path
        self.load = load
        self._seen: tuple | None = None
        self.state: SearchState | None = None
        self.table: TrialTable | None = None
        self._failed_reads = 0

    def look(self) -> SearchState:
        """The search as it is now: the file is read again only when it changed;
        otherwise only the run's lock note is looked at (is its process alive?)."""
        try:
            stat = self.path.stat()
            seen: tuple | None = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError:
            seen = None
        if self.state is not None and seen == self._seen:
            self.state.running = running_owner(self.path)
            return self.state
        try:
            state = self.load(self.path)
        except CheckpointError:
            # The file replaced at this very moment: the last view stays a second longer.
            self._failed_reads += 1
            if self.state is None or self._failed_reads >= READ_ATTEMPTS:
                raise
            return self.state
        self._failed_reads = 0
        self._seen, self.state, self.table = seen, state, trial_table(state)
        return state


def no_run_text(state: SearchState) -> str:
    return (
        f"No run is going on for {state.path}: {status_line(state)}. "
        f"{plural(state.n_finished, 'trial')} finished ({state.n_failed} failed)."
    )


def watch(
    path: Path,
    load: Callable[[Path], SearchState],
    out: TextIO,
    live: bool,
    width: int | None,
    refresh: float = REFRESH,
) -> str:
    """Follow the run on ``path`` until it ends; return what was printed last.

    ``live``: draw with rich's Live on ``out`` (a terminal); else plain lines.
    When no run is going on, say so (with how the last one ended) and return.
    """
    watcher = Watcher(path, load)
    state = watcher.look()
    if state.running is None:
        text = no_run_text(state)
        print(text, file=out, flush=True)
        return text
    if live:
        view = _watch_live(watcher, out, refresh)
    else:
        view = _watch_plain(watcher, out, width, refresh)
    text = ending_line(view)
    print(text, file=out, flush=True)
    return text


def _watch_live(watcher: Watcher, out: TextIO, refresh: float) -> WatchView:
    from rich.console import Console
    from rich.live import Live

    console = Console(file=out)
    view = watch_view(watcher.look(), watcher.table)
    with Live(rich_view(view, console.width), console=console, auto_refresh=False, transient=False) as live:
        while view.running:
            time.sleep(refresh)
            view = watch_view(watcher.look(), watcher.table)
            live.update(rich_view(view, console.width), refresh=True)
    return view


def _watch_plain(watcher: Watcher, out: TextIO, width: int | None, refresh: float) -> WatchView:
    view = watch_view(watcher.look(), watcher.table)
    print(plain_line(view, width), file=out, flush=True)
    printed_at, printed_finished = time.monotonic(), view.finished
    while view.running:
        time.sleep(refresh)
        view = watch_view(watcher.look(), watcher.table)
        if view.running and (view.finished != printed_finished or time.monotonic() - printed_at >= PLAIN_HEARTBEAT):
            print(plain_line(view, width), file=out, flush=True)
            printed_at, printed_finished = time.monotonic(), view.finished
    return view
