"""The runner's answer to a trial's ``report(step, value)``: record it, ask the pruner.

Called in the runner's main thread (directly by the in-process evaluator,
through the report channel for workers), so the checkpoint keeps one writer.
The value is durable in the checkpoint before the trial hears the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..checkpoint import journal
from ..pruners import History

if TYPE_CHECKING:
    from .run import Run


def answer_report(run: Run, tid: int, attempt: int, step: int, value: float) -> tuple[str, Any]:
    """``("ok", prune?)``, or ``("error", why)`` for a trial this run no longer evaluates
    (an evaluation that timed out or was superseded, still running somewhere)."""
    if tid not in run.in_flight or run.data.starts.get(tid) != attempt:
        why = f"trial {tid} (attempt {attempt}) is no longer being evaluated by this run; its result will not be used"
        return "error", why
    with run.guard.critical():
        run._commit([(journal.REPORTED, int(tid), int(step), float(value))], durable=True)
        if run.store.compaction_due():
            run.store.write_snapshot(run.data)
    pruner = run.options.pruner
    if pruner is None:
        return "ok", False
    try:
        return "ok", bool(pruner.prune(History(run.data.intermediate, run.docs_by_tid), int(tid), int(step)))
    except Exception as exc:  # a pruner of the user's own that fails: this trial fails, the search goes on
        return "error", f"the pruner {pruner!r} failed: {type(exc).__name__}: {exc}"
