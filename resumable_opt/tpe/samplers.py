"""hyperopt's truncated samplers ``GMM1`` and ``LGMM1``, the same draws at less cost.

For a bounded parameter (``uniform``, ``loguniform`` and their quantised
kinds) hyperopt draws the candidates from the good trials' mixture one at a
time, redrawing those that fall outside the bounds: per draw, a component by
``rng.multinomial(1, weights)`` and a value by ``rng.normal``.  Here the loop
makes the very same calls on the Generator, with the same arguments (a
component's mean and sigma as Python floats: the same doubles), in the same
order, so the stream of random numbers and every draw are hyperopt's; it
only spares numpy's per-call wrappers (``np.argmax``, indexing by numpy
scalars).  The values are then made as hyperopt makes them (``np.exp`` of each
draw for ``LGMM1``, the same rounding to ``q``).  Any other call (no bounds, a
one-sided bound for ``LGMM1``, bounds the wrong way round, arrays of unequal
lengths) goes to hyperopt's function, so its results and errors are its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hyperopt import tpe as hyperopt_tpe


def gmm1(weights, mus, sigmas, low=None, high=None, q=None, rng=None, size=()):  # noqa: ANN001, ANN201
    """``hyperopt.tpe.GMM1``, the same draws."""
    draws = None
    if low is not None or high is not None:
        bounds = (-math.inf if low is None else low, math.inf if high is None else high)
        draws = _truncated(weights, mus, sigmas, bounds, rng, int(np.prod(size)), log=False)
    if draws is None:
        return hyperopt_tpe.GMM1(weights, mus, sigmas, low=low, high=high, q=q, rng=rng, size=size)
    return _shaped(draws, size, q)


def lgmm1(weights, mus, sigmas, low=None, high=None, q=None, rng=None, size=()):  # noqa: ANN001, ANN201
    """``hyperopt.tpe.LGMM1``, the same draws."""
    draws = None
    if low is not None and high is not None:
        draws = _truncated(weights, mus, sigmas, (low, high), rng, int(np.prod(size)), log=True)
    if draws is None:
        return hyperopt_tpe.LGMM1(weights, mus, sigmas, low=low, high=high, q=q, rng=rng, size=size)
    return _shaped(draws, size, q)


def _shaped(draws: list, size: Any, q: Any) -> np.ndarray:
    """The draws as GMM1 and LGMM1 both return them: in ``size``'s shape, rounded to ``q`` if any."""
    samples = np.reshape(np.asarray(draws), size)
    return samples if q is None else np.round(samples / q) * q


def _truncated(weights: Any, mus: Any, sigmas: Any, bounds: tuple, rng: Any, n: int, log: bool) -> list | None:
    """hyperopt's loop of draws within ``[low, high)`` (``np.exp`` of each, if ``log``); None, having drawn
    nothing, for arguments hyperopt's function must see (it raises on them, or they are not plain
    numbers and float64 vectors)."""
    if not all(_plain_number(bound) for bound in bounds) or not isinstance(rng, np.random.Generator):
        return None
    low, high = map(float, bounds)
    weights, mus, sigmas = (np.asarray(x) for x in (weights, mus, sigmas))
    if not low < high or not weights.ndim == mus.ndim == sigmas.ndim == 1:
        return None
    if not len(weights) == len(mus) == len(sigmas) or not mus.dtype == sigmas.dtype == np.float64:
        return None  # (float64 vectors: their items as Python floats are the numbers hyperopt passes)
    multinomial, normal = rng.multinomial, rng.normal
    mu_list, sigma_list = mus.tolist(), sigmas.tolist()
    samples: list = []
    while len(samples) < n:
        active = multinomial(1, weights).argmax()
        draw = normal(loc=mu_list[active], scale=sigma_list[active])
        if low <= draw < high:
            samples.append(np.exp(draw) if log else draw)
    return samples


def _plain_number(x: Any) -> bool:
    """A bound whose ``float()`` cannot fail (hyperopt converts it so, after its own checks)."""
    return type(x) in (float, np.float64) or (type(x) is int and abs(x) <= 2**53)
