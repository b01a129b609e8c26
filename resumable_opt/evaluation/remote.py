"""What runs where the evaluation happens: a worker process or a Dask worker.

The runner pickles the objective and the space once (:func:`pack_domain`)
and sends those bytes to each worker once (:func:`install`): a local worker
process when it starts, a Dask worker through a worker plugin (also one that
joins later).  The
worker rebuilds a ``hyperopt.base.Domain`` from them the first time and keeps
it for the following trials, so an objective that holds a large dataset
crosses to a worker once, not with every trial.  Outcomes are
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


#: The Domains :func:`install` kept in this worker, by name, or why one could not be built.
_installed: dict[str, base.Domain | BaseException] = {}


def install(name: str, payload: bytes) -> None:
    """Keep the Domain of ``payload`` in this worker as ``name``, for :func:`evaluate_installed`.

    Never raises (it runs as a worker's initializer or a Dask worker plugin,
    where an error would break the worker): a payload that does not unpickle
    here fails each trial with that error instead, as when it came with each trial.
    """
    try:
        fn, expr = cloudpickle.loads(payload)
        _installed[name] = base.Domain(fn, expr)
    except Exception as exc:
        _installed[name] = exc


def uninstall(name: str) -> None:
    _installed.pop(name, None)


def evaluate_installed(name: str, doc: dict, ticket: TrialTicket | None = None) -> Outcome:
    """Evaluate ``doc`` with the Domain :func:`install` kept in this worker as ``name``."""
    domain = _installed.get(name)
    if domain is None:
        raise RuntimeError("the objective was not sent to this worker")
    if isinstance(domain, BaseException):
        raise domain
    return evaluate(domain, None, doc, ticket)
