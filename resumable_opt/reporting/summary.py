"""The plain-text summary of a search (``repr`` of a loaded search, ``show``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import describe_owner
from .progress import format_loss, format_params

if TYPE_CHECKING:
    from ..search_state import SearchState


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def status_line(state: "SearchState") -> str:
    if state.running:
        return f"running now ({describe_owner(state.running)})"
    if not state.runs:
        return "never run"
    last = state.runs[-1]
    return f"not running; last run ended: {last.outcome or 'killed or crashed (no clean end recorded)'}"


def summary_text(state: "SearchState") -> str:
    budget = state.max_evals if state.max_evals is not None else "?"
    lines = [
        f"Search {state.path}",
        f"  status:   {status_line(state)}",
        f"  trials:   {state.n_finished} finished of {budget} ({state.n_failed} failed), {state.n_pending} pending",
    ]
    if state.best_trial is not None:
        try:
            best = format_params(state.best)
        except Exception as exc:  # the space could not be unpickled here
            best = f"{state.argmin} (raw; space not loadable: {exc})"
        lines.append(f"  best:     loss {format_loss(state.best_loss)} at trial {state.best_trial['tid']}: {best}")
    else:
        lines.append("  best:     no successful trial yet")
    lines.append(f"  seed:     {state.seed}   algorithm: {state.algo_name}   objective: {state.objective_name}")
    lines.append(f"  time:     {format_duration(state.total_seconds)} over {len(state.runs)} run(s)")
    if state.stopped_because:
        lines.append(f"  stopped:  {state.stopped_because}")
    for index, run in enumerate(state.runs, 1):
        lines.append(
            f"  run {index}: {_when(run.started)} -> {_when(run.ended)}  {run.outcome or '(no end recorded)'}"
            f"  [pid {run.pid} on {run.host}]"
        )
    return "\n".join(lines)
