"""hyperopt's GMM1_lpdf and LGMM1_lpdf, the same numbers at less cost.

hyperopt's GMM1_lpdf and LGMM1_lpdf, the densities of the candidates under
the mixtures (one component per observation: the cost of a proposal at large
histories), with the same floating point operations on each element, so the
same bits:
- without quantisation, in two scratch arrays kept between calls instead of
  some ten fresh (candidates x components) arrays per call;
- with quantisation, hyperopt loops in Python over the components, adding
  each one's mass at the candidates into ``prob``; here every component's
  mass is computed at once and added up in the loop's order by ``np.cumsum``
  (a sequential sum, as ``prob += inc_amt``).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from hyperopt import tpe as hyperopt_tpe
from scipy.special import erf  # type: ignore[import-untyped]

from .kept import Kept


def gmm1_lpdf(samples, weights, mus, sigmas, low=None, high=None, q=None):
    """``hyperopt.tpe.GMM1_lpdf``, the same numbers."""
    samples, weights, mus, sigmas = list(map(np.asarray, (samples, weights, mus, sigmas)))
    if samples.size == 0 or weights.ndim != 1 or mus.ndim != 1 or sigmas.ndim != 1 or not len(weights):
        return hyperopt_tpe.GMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    assert len(weights) == len(mus) == len(sigmas)
    _samples = samples
    samples = _samples.flatten()
    p_accept = _p_accept(weights, mus, sigmas, low, high)
    if q is None:
        mahal = np.subtract(samples[:, None], mus, out=scratch(0, (len(samples), len(mus))))
        np.divide(mahal, np.maximum(sigmas, hyperopt_tpe.EPS), out=mahal)
        np.square(mahal, out=mahal)
        Z = np.sqrt(2 * np.pi * sigmas**2)
        coef = weights / Z / p_accept
        np.multiply(-0.5, mahal, out=mahal)
        rval = _logsum_rows(np.add(mahal, np.log(coef), out=mahal))
        return rval.reshape(_samples.shape)  # (a view: setting .shape is deprecated in numpy 2.5)
    ubound = samples + q / 2 if high is None else np.minimum(samples + q / 2, high)
    lbound = samples - q / 2 if low is None else np.maximum(samples - q / 2, low)
    mu, bottom, w = mus[:, None], np.maximum(np.sqrt(2) * sigmas, hyperopt_tpe.EPS)[:, None], weights[:, None]
    inc_amt = w * (0.5 * (1 + erf((ubound - mu) / bottom)))
    inc_amt -= w * (0.5 * (1 + erf((lbound - mu) / bottom)))
    prob = np.cumsum(inc_amt, axis=0)[-1]
    rval = np.log(prob) - np.log(p_accept)
    return rval.reshape(_samples.shape)


def lgmm1_lpdf(samples, weights, mus, sigmas, low=None, high=None, q=None):
    """``hyperopt.tpe.LGMM1_lpdf``, the same numbers."""
    samples, weights, mus, sigmas = list(map(np.asarray, (samples, weights, mus, sigmas)))
    if samples.size == 0 or weights.ndim != 1 or mus.ndim != 1 or sigmas.ndim != 1 or not len(weights):
        return hyperopt_tpe.LGMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    _samples = samples
    if samples.ndim != 1:
        samples = samples.flatten()
    p_accept = _p_accept(weights, mus, sigmas, low, high)
    if q is None:
        # lognormal_lpdf(samples[:, None], mus, sigmas), then + log(weights)
        assert np.all(sigmas >= 0)
        sigma = np.maximum(sigmas, hyperopt_tpe.EPS)
        x = samples[:, None]
        shape = (len(samples), len(mus))
        log_z = np.multiply(sigma, x, out=scratch(0, shape))
        np.multiply(log_z, np.sqrt(2 * np.pi), out=log_z)
        np.log(log_z, out=log_z)
        e = np.subtract(np.log(x), mus, out=scratch(1, shape))
        np.divide(e, sigma, out=e)
        np.square(e, out=e)
        np.multiply(0.5, e, out=e)
        np.negative(e, out=e)
        np.subtract(e, log_z, out=e)
        rval = _logsum_rows(np.add(e, np.log(weights), out=e))
        return rval.reshape(_samples.shape)  # (a view: setting .shape is deprecated in numpy 2.5)
    ubound = samples + q / 2 if high is None else np.minimum(samples + q / 2, np.exp(high))
    lbound = samples - q / 2 if low is None else np.maximum(samples - q / 2, np.exp(low))
    lbound = np.maximum(0, lbound)
    if ubound.min() < 0:  # hyperopt's lognormal_cdf refuses it: let it say so
        return hyperopt_tpe.LGMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    mu, bottom, w = mus[:, None], np.maximum(np.sqrt(2) * sigmas, hyperopt_tpe.EPS)[:, None], weights[:, None]
    with np.errstate(divide="ignore"):
        log_u, log_l = np.log(np.maximum(ubound, hyperopt_tpe.EPS)), np.log(np.maximum(lbound, hyperopt_tpe.EPS))
    inc_amt = w * (0.5 + 0.5 * erf((log_u - mu) / bottom))
    inc_amt -= w * (0.5 + 0.5 * erf((log_l - mu) / bottom))
    prob = np.cumsum(inc_amt, axis=0)[-1]
    rval = np.log(prob) - np.log(p_accept)
    return rval.reshape(_samples.shape)


def _mass_between(weights: np.ndarray, mus: np.ndarray, sigmas: np.ndarray, low: Any, high: Any) -> Any:
    """The mixture's mass between ``low`` and ``high``, as hyperopt computes it (1 when unbounded)."""
    if low is None and high is None:
        return 1
    normal_cdf = hyperopt_tpe.normal_cdf
    return np.sum(weights * (normal_cdf(high, mus, sigmas) - normal_cdf(low, mus, sigmas)))


#: The mass, kept for the good trials' mixture (the same from call to call late in a search).
_p_accept = Kept(_mass_between)


def _logsum_rows(x: np.ndarray) -> np.ndarray:
    """``hyperopt.tpe.logsum_rows``, in place (``x`` is a scratch buffer)."""
    m = x.max(axis=1)
    np.subtract(x, m[:, None], out=x)
    np.exp(x, out=x)
    return np.log(x.sum(axis=1)) + m


_BUFFERS = threading.local()


def scratch(which: int, shape: tuple[int, int]) -> np.ndarray:
    """A scratch array of ``shape`` kept between calls (a fresh one of this size
    costs page faults on every call), one set per thread."""
    buffers = getattr(_BUFFERS, "arrays", None)
    if buffers is None:
        buffers = _BUFFERS.arrays = {}
    size = shape[0] * shape[1]
    have = buffers.get(which)
    if have is None or len(have) < size:
        have = buffers[which] = np.empty(max(size, 2 * len(have) if have is not None else 0))
    return have[:size].reshape(shape)
