"""The summary of a search: ``repr`` of a loaded search, ``resumable-opt show``,
and the HTML a notebook shows.

The facts are gathered once (:func:`summary_fields`, :func:`run_spans`) and
then drawn as text or as HTML, so both always say the same thing.  Nothing
here needs the search's own code: the space is described from the text
stored with it, so a summary works even where the objective's modules are
not importable.
"""

from __future__ import annotations

import bisect
import html
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..checkpoint.journal import RunRecord
from ..trials import is_pending
from .progress import format_loss, format_params
from .rows import STATUS_PRUNED, STATUS_RUNNING, as_local_time, trial_status

if TYPE_CHECKING:
    from ..search_state import SearchState

NO_END = "killed or crashed (no end recorded)"


def when(epoch: float | None) -> str:
    """An epoch time as local ``YYYY-mm-dd HH:MM:SS``."""
    return "-" if epoch is None else datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@dataclass
class RunSpan:
    """One run of the search as the summary tells it."""

    number: int
    record: RunRecord
    #: Seconds the run took (so far, for the run going on now).
    seconds: float
    #: True when the run left no end: its time is up to its last finished trial.
    estimated: bool
    #: Trials finished when the run started, and when it ended (or now).
    trials_before: int
    trials_after: int
    running_now: bool

    @property
    def outcome(self) -> str:
        if self.running_now:
            return "running now"
        return self.record.outcome or NO_END

    @property
    def took(self) -> str:
        return ("~" if self.estimated else "") + format_duration(self.seconds)


def run_spans(state: SearchState, now: float | None = None) -> list[RunSpan]:
    """Each run with how long it took and how many trials it finished.

    A run killed without recording its end is counted up to the last trial
    it finished (``estimated``); the run going on now, up to ``now``.
    """
    now = time.time() if now is None else now
    finished_at = sorted(
        moment.timestamp()
        for moment in (as_local_time(doc.get("refresh_time")) for doc in state.docs if not is_pending(doc))
        if moment is not None
    )
    runs = state.runs
    spans = []
    for index, run in enumerate(runs):
        is_last = index == len(runs) - 1
        running_now = (
            is_last and run.ended is None and state.running is not None and state.running.get("pid") == run.pid
        )
        estimated = False
        if run.ended is not None:
            end = run.ended
        elif running_now:
            end = now
        else:  # killed: the last trial it finished before the next run began
            next_start = runs[index + 1].started if not is_last else float("inf")
            position = bisect.bisect_left(finished_at, next_start)
            end = max(run.started, finished_at[position - 1]) if position else run.started
            estimated = True
        after = runs[index + 1].n_done_at_start if not is_last else state.n_finished
        spans.append(
            RunSpan(index + 1, run, max(0.0, end - run.started), estimated, run.n_done_at_start, after, running_now)
        )
    return spans


def status_line(state: SearchState) -> str:
    """Whether a run is going on (who, since when), or how the last one ended."""
    owner = state.running
    if owner:
        since = owner.get("since_epoch")
        age = f" (for {format_duration(time.time() - since)})" if isinstance(since, (int, float)) else ""
        started = when(since) if since else owner.get("since", "?")
        who = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}, since {started}{age}"
        if owner.get("unverified"):
            return f"running on another host as far as its lock note says ({who}); it cannot be checked from here"
        return f"running now: {who}"
    if not state.runs:
        return "never run"
    last = state.runs[-1]
    if last.outcome is None:
        return f"not running; the last run (pid {last.pid} on {last.host}) was {NO_END}; resume it to go on"
    return f"not running; the last run ended {when(last.ended)}: {last.outcome}"


def _trials_line(state: SearchState) -> str:
    budget = state.max_evals if state.max_evals is not None else "?"
    running = sum(1 for doc in state.docs if trial_status(doc, state.running is not None) == STATUS_RUNNING)
    return (
        f"{state.n_finished} of {budget} finished ({state.n_failed} failed), "
        f"{running} running, {state.n_pending - running} pending"
    )


def _best_line(state: SearchState) -> str:
    if state.best_trial is None:
        return "no successful trial yet"
    try:
        params = format_params(state.best)
    except Exception as exc:  # the space could not be unpickled here
        params = f"{state.argmin} (raw: the space cannot be loaded here: {exc})"
    return f"loss {format_loss(state.best_loss)} at trial {state.best_trial['tid']}: {params}"


def _time_line(state: SearchState, spans: list[RunSpan]) -> str:
    total = sum(span.seconds for span in spans)
    about = "about " if any(span.estimated for span in spans) else ""
    going = " (one going on)" if any(span.running_now for span in spans) else ""
    return f"{about}{format_duration(total)} over {len(spans)} run{'s' if len(spans) != 1 else ''}{going}"


def _steps_line(state: SearchState, reported: dict[int, dict]) -> str:
    """The intermediate values reported, and the trials the pruner stopped."""
    running = state.running is not None
    pruned = [doc for doc in state.docs if trial_status(doc, running) == STATUS_PRUNED]
    count = sum(len(values) for values in reported.values())
    line = f"{count} intermediate values from {len(reported)} trials; {len(pruned)} pruned"
    steps = sorted(doc["result"]["step"] for doc in pruned if "step" in doc["result"])
    if steps:
        line += f" (at step {steps[0]})" if steps[0] == steps[-1] else f" (at steps {steps[0]} to {steps[-1]})"
    return line


def space_parameters(state: SearchState) -> dict[str, str]:
    """Each label and its distribution, from the description stored with the space, as
    :func:`readable_distribution` gives it."""
    stored = state.meta.get("space_signature", {}).get("parameters", {})
    return {label: readable_distribution(text) for label, text in stored.items()}


_NUMPY_SCALAR = re.compile(r"np\.(?:float|int|uint|bool_?)\d*\(([^()]*)\)")
_NUMBER = re.compile(r"(?<![\w.'\"])-?\d+\.\d+(?:e[-+]?\d+)?(?![\w.'\"])")
_LOG_BOUNDS = re.compile(r"^(q?loguniform)\((-?[\d.e+-]+), (-?[\d.e+-]+)")


def readable_distribution(text: str) -> str:
    """A stored description as a person reads it: no numpy reprs, long numbers to 6
    significant digits, a log distribution's bounds to 3 and also as the values drawn.

    ``loguniform(np.float64(-4.605170185988091), np.float64(0.0))`` reads
    ``loguniform(-4.61, 0)  (values 0.01 to 1)``: hyperopt's bounds are the
    logarithms of the values the objective gets.
    """
    text = _NUMPY_SCALAR.sub(lambda match: match.group(1), text)
    bounds = _LOG_BOUNDS.match(text)
    values = ""
    if bounds:
        try:
            low, high = (float(bounds.group(index)) for index in (2, 3))
            text = f"{bounds.group(1)}({low:.3g}, {high:.3g}" + text[bounds.end() :]
            values = f"  (values {math.exp(low):.3g} to {math.exp(high):.3g})"
        except (ValueError, OverflowError):
            pass
    return _NUMBER.sub(_six_digits, text) + values


def _six_digits(match: re.Match) -> str:
    """A number with more than 6 significant digits to 6 (float noise such as
    ``-4.605170185988091``); shorter ones as written (``1.0`` stays a float)."""
    text = match.group(0)
    digits = text.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return f"{float(text):.6g}" if len(digits) > 6 else text


def summary_fields(state: SearchState, spans: list[RunSpan]) -> list[tuple[str, str]]:
    """The summary as (name, text) pairs, in the order they are shown."""
    fields = [
        ("status", status_line(state)),
        ("trials", _trials_line(state)),
        ("best", _best_line(state)),
        ("time", _time_line(state, spans)),
        ("seed", str(state.seed)),
        ("algorithm", state.algo_name),
        ("objective", state.objective_name),
    ]
    if state.meta.get("pruner_name"):
        fields.append(("pruner", state.meta["pruner_name"]))
    reported = state.intermediate()
    if reported:
        fields.append(("steps", _steps_line(state, reported)))
    if state.stopped_because:
        fields.append(("stopped", state.stopped_because))
    if state.torn_bytes:
        fields.append(("note", f"{state.torn_bytes} bytes of an unfinished write at the end were ignored"))
    if state.format_version == 1:
        fields.append(("format", "1 (pickled records: open only files you trust); the next run converts it"))
    return fields


RUN_COLUMNS = ["run", "started", "took", "trials", "how it ended", "where"]


def _run_cells(span: RunSpan) -> list[str]:
    run = span.record
    return [
        str(span.number),
        when(run.started),
        span.took,
        f"{span.trials_before} -> {span.trials_after}",
        span.outcome,
        f"pid {run.pid} on {run.host}",
    ]


def summary_text(state: SearchState) -> str:
    """The summary as plain text (what ``repr`` and ``resumable-opt show`` print)."""
    spans = run_spans(state)
    fields = summary_fields(state, spans)
    width = max(len(name) for name, _ in fields + [("space", "")]) + 2
    lines = [f"Search {state.path}"]
    lines += [f"  {name + ':':<{width}}{text}" for name, text in fields]
    parameters = space_parameters(state)
    if parameters:
        label_width = max(len(label) for label in parameters)
        for index, (label, described) in enumerate(parameters.items()):
            lead = f"{'space:':<{width}}" if index == 0 else " " * width
            lines.append(f"  {lead}{label:<{label_width}}  {described}")
    if spans:
        lines.append("  runs:")
        from tabulate import tabulate  # here: with wcwidth it takes longer to import than `best` takes to run

        table = tabulate(
            [_run_cells(span) for span in spans], headers=RUN_COLUMNS, tablefmt="plain", disable_numparse=True
        )
        lines += ["    " + line for line in table.splitlines()]
    return "\n".join(lines)


def summary_html(state: SearchState) -> str:
    """The summary as an HTML fragment, for Jupyter (``SearchState._repr_html_``)."""
    spans = run_spans(state)
    esc = html.escape
    rows = [
        f"<tr><th style='text-align:left'>{esc(name)}</th><td style='text-align:left'>{esc(text)}</td></tr>"
        for name, text in summary_fields(state, spans)
    ]
    parameters = space_parameters(state)
    if parameters:
        listing = "<br>".join(f"<code>{esc(label)}</code>: {esc(described)}" for label, described in parameters.items())
        rows.append(f"<tr><th style='text-align:left'>space</th><td style='text-align:left'>{listing}</td></tr>")
    parts = [f"<div><strong>Search <code>{esc(str(state.path))}</code></strong>", "<table>", *rows, "</table>"]
    if spans:
        head = "".join(f"<th>{esc(column)}</th>" for column in RUN_COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in _run_cells(span)) + "</tr>" for span in spans
        )
        parts.append(f"<details><summary>{len(spans)} run(s)</summary><table><tr>{head}</tr>{body}</table></details>")
    parts.append("</div>")
    return "\n".join(parts)
