"""What runs where the evaluation happens: a worker process or a Dask worker.

The runner sends the objective and the space once per trial as cloudpickled
bytes (:func:`pack_domain`); the worker rebuilds a ``hyperopt.base.Domain``
from them the first time and keeps it for the following trials.  Outcomes are
computed by :func:`resumable_opt.evaluation.outcome.evaluate`, the same
function the in-process evaluator uses, so a failure means the same thing
wherever it happened.
"""

from __future__ import annotations

import cloudpickle
from hyperopt import base

from ..trial import TrialTicket
from .outcome import Outcome, evaluate

#: The last (payload, Domain) this worker built; a search sends one payload.
_cached: tuple[bytes, base.Domain] | None = None


def pack_domain(domain: base.Domain) -> bytes:
    """The objective and the space of ``domain``, for :func:`evaluate_packed`."""
    return cloudpickle.dumps((domain.fn, domain.expr))


def domain_from(payload: bytes) -> base.Domain:
    """The Domain of a packed objective and space, built once per worker."""
    global _cached
    if _cached is None or _cached[0] != payload:
        fn, expr = cloudpickle.loads(payload)
        _cached = (payload, base.Domain(fn, expr))
    return _cached[1]


def evaluate_packed(payload: bytes, doc: dict, ticket: TrialTicket | None = None) -> Outcome:
    """Evaluate the trial ``doc`` here; the worker has no Trials (the runner owns them)."""
    return evaluate(domain_from(payload), None, doc, ticket)
