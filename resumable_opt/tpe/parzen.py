"""hyperopt's ``adaptive_parzen_normal`` on the bad trials, without its sort.

hyperopt's Parzen estimator sorts its observations (``np.argsort``) at every
call; on the "above" (bad) trials, one per trial of the history, that sort is
most of its cost.  The history keeps each label's values in sorted order
between calls (``history._Label``) and hands, with the split, the order of
the above array it derives from it (:class:`Split`).
:func:`adaptive_parzen_normal` uses that order instead of sorting.

Guarantee: it returns what ``hyperopt.tpe.adaptive_parzen_normal`` returns
for the same arguments, bit for bit, whatever order it is handed.  The order
is used only after a check that ``mus[order]`` is strictly increasing and as
long as ``mus`` (an index out of range read as the nearest one, for ``mus``
and the weights alike): then it is the one permutation ``np.argsort(mus)``
can return (no ties, no NaN), so hyperopt's own steps, done here with the
same numpy operations on equal arrays, give the same floats.  When the check
fails, or no order came, or the input is anything but a vector of float64
with at least two values and more of them than ``LF`` (the case of the
history's bad trials), hyperopt's function is called as it is, so its
results and its errors are hyperopt's.  The ``maxsigma = prior_sigma`` of
hyperopt 0.3 is ``prior_sigma / 1.0`` in 0.2.7: the same float for the float
and small int sigmas this path accepts.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from hyperopt import tpe as hyperopt_tpe

#: How many calls took the kept order and how many hyperopt's function (for benchmarks and tests).
counts = {"fast": 0, "fallback": 0}

_hyperopt_apn = hyperopt_tpe.adaptive_parzen_normal
_linear_forgetting_weights = hyperopt_tpe.linear_forgetting_weights
#: Scalars whose arithmetic here is hyperopt's: floats, and ints a float64 holds exactly.
_FLOATS = (float, np.float64)


def forgetting_weights(N: Any, LF: Any) -> np.ndarray:
    """hyperopt's ``linear_forgetting_weights(N, LF)``, kept (read-only) for the next label of as
    many trials: the bad trials' estimators and categorical counts of one proposal share it."""
    if type(N) is int and type(LF) is int:
        return _kept_forgetting_weights(N, LF)
    return _linear_forgetting_weights(N, LF)


@functools.lru_cache(maxsize=4)
def _kept_forgetting_weights(N: int, LF: int) -> np.ndarray:
    weights = _linear_forgetting_weights(N, LF)
    weights.flags.writeable = False
    return weights


class Split(tuple):
    """``ap_split_trials``'s ``(below, above)``, with ``above_order``: indices
    into ``above`` that may sort it (checked before use), or None."""

    above_order: np.ndarray | None

    def __new__(cls, below: np.ndarray, above: np.ndarray, above_order: np.ndarray | None) -> Split:
        split = super().__new__(cls, (below, above))
        split.above_order = above_order
        return split


def adaptive_parzen_normal(mus, prior_weight, prior_mu, prior_sigma, LF=hyperopt_tpe.DEFAULT_LF, *, split=None):
    """``hyperopt.tpe.adaptive_parzen_normal``, the same bits, sorting ``mus`` by
    ``split.above_order`` when that order checks out (``mus`` being the split's
    above array or its log)."""
    order = getattr(split, "above_order", None)
    if order is not None and _plain(mus, prior_weight, prior_mu, prior_sigma, LF) and len(order) == len(mus):
        rval = _sorted_parzen(mus, order, prior_weight, prior_mu, prior_sigma, LF)
        if rval is not None:
            counts["fast"] += 1
            return rval
    counts["fallback"] += 1
    return _hyperopt_apn(mus, prior_weight, prior_mu, prior_sigma, LF=LF)


def _plain(mus: Any, prior_weight: Any, prior_mu: Any, prior_sigma: Any, LF: Any) -> bool:
    """Inputs on which the steps below are hyperopt's: plain scalars, a float64 vector longer than max(LF, 1)."""
    if type(mus) is not np.ndarray or mus.dtype != np.float64 or mus.ndim != 1:
        return False
    if not all(_scalar(x) for x in (prior_weight, prior_mu, prior_sigma)):
        return False
    return type(LF) is int and 0 < LF < len(mus) and len(mus) >= 2


def _scalar(x: Any) -> bool:
    return type(x) in _FLOATS or (type(x) is int and -(2**53) <= x <= 2**53)


def _sorted_parzen(mus: np.ndarray, order: np.ndarray, prior_weight, prior_mu, prior_sigma, LF: int) -> tuple | None:
    """hyperopt's steps for ``len(mus) >= 2`` and ``LF < len(mus)``, with ``order`` for ``np.argsort(mus)``;
    None if ``order`` is not the permutation argsort returns or hyperopt would fail its asserts."""
    if order.dtype.kind not in "iu" or order.ndim != 1:
        return None
    n = len(mus)
    # hyperopt's mus[order] is gathered straight into srtd_mus[1:] (the prior goes in below). Indices out
    # of range are clipped, here as for the weights: if the check passes, the clipped order is argsort's.
    srtd_mus = np.empty(n + 1)
    srtd = np.take(mus, order, out=srtd_mus[1:], mode="clip")
    if not (srtd[1:] > srtd[:-1]).all():  # ties, NaN or a wrong order: leave it to argsort
        return None
    # From here, hyperopt's operations on equal arrays, each element computed by the same float
    # operation; only temporary arrays are spared.
    prior_pos = np.searchsorted(srtd, prior_mu)
    srtd_mus[:prior_pos] = srtd[:prior_pos]  # (moved down one place)
    srtd_mus[prior_pos] = prior_mu
    # hyperopt's srtd_mus[1:-1] - srtd_mus[0:-2] and srtd_mus[2:] - srtd_mus[1:-1], computed once
    gaps = np.subtract(srtd_mus[1:], srtd_mus[:-1])
    sigma = np.empty(n + 1)
    np.maximum(gaps[:-1], gaps[1:], out=sigma[1:-1])
    sigma[0] = gaps[0]
    sigma[-1] = gaps[-1]

    srtd_weights = np.empty(n + 1)
    weights = np.take(forgetting_weights(n, LF), order, out=srtd_weights[1:], mode="clip")
    srtd_weights[:prior_pos] = weights[:prior_pos]
    srtd_weights[prior_pos] = prior_weight

    maxsigma = prior_sigma
    minsigma = prior_sigma / min(100.0, (1.0 + len(srtd_mus)))
    if not (prior_sigma > 0 and minsigma > 0):  # hyperopt's asserts: let it raise them
        return None
    np.clip(sigma, minsigma, maxsigma, out=sigma)
    sigma[prior_pos] = prior_sigma
    if not (sigma > 0).all():
        return None
    srtd_weights /= srtd_weights.sum()
    return srtd_weights, srtd_mus, sigma
