"""Which candidate hyperopt's TPE keeps, found without computing every density exactly.

For each hyperparameter, hyperopt's TPE draws ``n_EI_candidates`` candidates
from the mixture of the good trials, computes each candidate's log density
under that mixture (``below``, at most 26 components) and under the mixture
of all the other trials (``above``, one component per trial: the cost that
grows with the history), and keeps the candidate with the largest
``below - above`` (``broadcast_best``: ``np.argmax``, the first one on a tie).
Nothing else of the densities is used.

Here :func:`broadcast_best` receives the two densities unevaluated
(:class:`Deferred`), computes ``below`` exactly and only *bounds* ``above``:

* the components within 5 (then, if need be, 8) of their sigmas of a candidate (of its
  interval, for a quantised parameter) are summed; every other component
  adds at most its peak times e**-12.5 (e**-32 at 8 sigmas; for a quantised
  parameter, its mass times the normal tail there), so their total bounds the
  rest from above;
* both bounds are widened by far more than the rounding errors of
  hyperopt's float computation and of this one can amount to: a relative
  1e-9 of the sum, and, for the quantised densities (hyperopt adds up
  differences of CDFs, each with an absolute rounding error), an absolute
  ``(16 + 2 n) * eps * sum(weights)``.

When the best candidate's lowest possible score is above every other
candidate's highest possible one, it is the one hyperopt's computation picks.
Otherwise (a near tie, or inputs these bounds do not cover: those where
hyperopt's own arithmetic strays from the exact density's rounding, with
subnormal coefficients or samples, sums past the largest float, a NaN, an
interval ``[low, high]`` that holds none of the mass) both densities
are computed exactly, with hyperopt's own operations (``densities``), and
``np.argmax`` decides as in hyperopt.  Either way the proposal is
hyperopt's, bit for bit.  Equal candidates (a quantised parameter draws the
same value often) have equal scores in hyperopt, so they are compared once,
as the first of them.

Terms that are the same for every candidate (the truncation normaliser
``p_accept``) shift all scores alike and are left out of the bounds.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hyperopt import tpe as hyperopt_tpe
from hyperopt.pyll import scope
from scipy.special import erf, erfc  # type: ignore[import-untyped]

from .densities import scratch

#: Components farther than this many of their sigmas from a candidate are only bounded: the
#: bounds are tried with the first reach, and with the second when the first could not tell.
REACHES = (5.0, 8.0)
_RELATIVE = 1e-9
#: Bins per floor sigma, and at most how many other components, for the binned bounds.
_BINS_PER_SIGMA = 32
_MAX_WIDE = 64
_LARGEST = 1e100
_TINY = 1e-250
#: Below this, a product of hyperopt's could come out subnormal, with few significant bits.
_NORMAL = 1e-280
_SMALLEST_SUBNORMAL = float(np.nextafter(0.0, 1.0))
#: The bands of distance (in units of the reach) the left-out components are counted in.
_BANDS = (1.0, 1.25, 1.5, 2.0, 3.0)
_EPS = float(np.finfo(np.float64).eps)
_SQRT_2PI = math.sqrt(2 * math.pi)

#: How many choices the bounds decided and how many needed the exact densities (for benchmarks and tests).
counts = {"bounded": 0, "exact": 0}

_hyperopt_broadcast_best = scope._impls["broadcast_best"]
_created = itertools.count()


class Deferred:
    """A density node's call (``GMM1_lpdf`` or ``LGMM1_lpdf``), made only if its values are needed."""

    __slots__ = ("function", "log_space", "args", "kwargs", "order", "_value")

    def __init__(self, function: Callable, log_space: bool, args: tuple, kwargs: dict) -> None:
        self.function, self.log_space, self.args, self.kwargs = function, log_space, args, kwargs
        self.order = next(_created)  # the graph's evaluation order, kept for the exact path
        self._value: Any = None

    def __call__(self) -> Any:
        if self._value is None:
            self._value = self.function(*self.args, **self.kwargs)
        return self._value


def deferred(function: Callable, log_space: bool) -> Callable:
    """A graph function that returns ``function``'s call as a :class:`Deferred`."""

    def defer(*args: Any, **kwargs: Any) -> Deferred:
        return Deferred(function, log_space, args, kwargs)

    return defer


def broadcast_best(samples: Any, below: Any, above: Any) -> list:
    """hyperopt's ``broadcast_best(samples, below_llik, above_llik)``, the same list, with deferred densities."""
    if len(samples):  # (an inactive branch's label has no samples: nothing to choose)
        best = _bounded_argmax(samples, below, above) if isinstance(below, Deferred) else None
        if best is not None:
            counts["bounded"] += 1
            return [samples[best]] * len(samples)
        counts["exact"] += 1
    lliks = [below, above]
    for llik in sorted((x for x in lliks if isinstance(x, Deferred)), key=lambda x: x.order):
        llik()  # in the graph's order, so that an error is the one hyperopt raises first
    below, above = (x() if isinstance(x, Deferred) else x for x in lliks)
    return _hyperopt_broadcast_best(samples, below, above)


def _bounded_argmax(samples: Any, below: Deferred, above: Any) -> int | None:
    """The index ``np.argmax(below - above)`` gives in hyperopt, or None when the bounds cannot tell."""
    if not isinstance(above, Deferred) or not isinstance(samples, np.ndarray) or samples.dtype != np.float64:
        return None
    if samples.ndim != 1 or not np.isfinite(samples).all():
        return None
    mixture = _Mixture.at(samples, above)
    if mixture is None:
        return None
    below_values = below()
    if not isinstance(below_values, np.ndarray) or below_values.shape != samples.shape:
        return None
    if below_values.dtype != np.float64 or not np.isfinite(below_values).all():
        return None
    first = _distinct(samples)
    if len(first) == 1:
        return int(first[0])
    below_values = below_values[first]
    lowest, highest = np.full(len(first), -np.inf), np.full(len(first), np.inf)
    in_play = np.arange(len(first))
    for stage in _STAGES:  # each tighter and dearer than the one before, on the candidates still in play
        bounds = stage(mixture.at_samples(first[in_play]))
        if bounds is None:
            continue
        lowest[in_play] = below_values[in_play] - bounds[1]
        highest[in_play] = below_values[in_play] - bounds[0]
        if np.isnan(lowest).any() or np.isnan(highest).any():
            return None  # (bounds out of the float range: hyperopt's own arithmetic decides)
        winner = int(np.argmax(lowest))
        others = highest.copy()
        others[winner] = -np.inf
        if lowest[winner] > others.max():
            return int(first[winner])
        in_play = np.flatnonzero(highest >= lowest[winner])
    return None


def _distinct(samples: np.ndarray) -> np.ndarray:
    """The index of the first of each set of samples with equal bits (they have equal scores)."""
    bits = samples.view(np.int64)
    ordered = np.sort(bits)
    if (ordered[1:] != ordered[:-1]).all():  # (most often, unless the parameter is quantised)
        return np.arange(len(bits))
    return np.unique(bits, return_index=True)[1]


def _arguments(samples, weights, mus, sigmas, low=None, high=None, q=None):  # noqa: ANN001, ANN202
    return samples, weights, mus, sigmas, low, high, q


def above_bounds(samples: np.ndarray, density: Deferred, reach: float = REACHES[-1]) -> tuple | None:
    """Lower and upper bounds, per sample, on the log density ``density`` holds (up to a term
    common to all samples), wide enough to hold the float value hyperopt computes for it; None
    for inputs outside what the bounds cover."""
    mixture = _Mixture.at(samples, density)
    return None if mixture is None else mixture.bounds(reach)


class _Mixture:
    """A mixture's arguments to ``GMM1_lpdf``/``LGMM1_lpdf``, checked, and where the samples read it."""

    def __init__(self, components: _Components, q: Any, interval: tuple) -> None:
        self.components, self.q = components, q
        self.u_low, self.u_high, self.log_scale = interval

    @classmethod
    def at(cls, samples: np.ndarray, density: Deferred) -> _Mixture | None:
        """The mixture of ``density`` at ``samples``; None for arguments the bounds do not cover
        (hyperopt's exact computation then has its say, errors included)."""
        try:
            _, weights, mus, sigmas, low, high, q = _arguments(*density.args, **density.kwargs)
        except TypeError:
            return None
        # (contiguous: the windows are strided views of these arrays)
        weights, mus, sigmas = (np.ascontiguousarray(x) for x in (weights, mus, sigmas))
        if any(x.dtype != np.float64 or x.ndim != 1 or len(x) != len(weights) for x in (weights, mus, sigmas)):
            return None
        if not len(weights):
            return None
        if not (mus[1:] >= mus[:-1]).all():  # (unsorted, or a NaN: argsort puts NaNs last)
            order = np.argsort(mus, kind="stable")
            weights, mus, sigmas = weights[order], mus[order], sigmas[order]
        # A few reductions check every element: a NaN makes its array's extremes NaN, an infinity shows
        # at an extreme or in the sum (a finite sum that overflows is turned away too: the exact path
        # then decides); the means, sorted, have theirs at their ends.
        smallest_weight, total = float(weights.min()), float(weights.sum())
        smallest_sigma, largest_sigma = float(sigmas.min()), float(sigmas.max())
        smallest_mu, largest_mu = float(mus[0]), float(mus[-1])
        extremes = (smallest_weight, total, smallest_sigma, largest_sigma, smallest_mu, largest_mu)
        if not all(map(math.isfinite, extremes)):
            return None
        if not (smallest_weight >= 0 and total > 0 and smallest_sigma >= hyperopt_tpe.EPS):
            return None
        if not max(largest_sigma, -smallest_mu, largest_mu, float(np.abs(samples).max())) <= _LARGEST:
            return None  # (squares of such numbers overflow: hyperopt's own arithmetic then decides)
        smallest_mass = smallest_weight or float(np.min(weights, where=weights > 0, initial=np.inf))
        if smallest_mass < _NORMAL * largest_sigma * max(total, 1.0):
            return None  # (hyperopt's weight / (sigma sqrt(2 pi)) could be subnormal, its log far off)
        if (low is None) != (high is None) or not all(_finite_number(x) for x in (low, high, q) if x is not None):
            return None
        if q is not None and not q > 0:
            return None
        if low is not None and not _accepts(weights, mus, sigmas, float(low), float(high), total):
            return None
        interval = _interval(samples, density.log_space, low, high, q)
        if interval is None:
            return None
        weight_range, sigma_range = (smallest_weight, smallest_mass, total), (smallest_sigma, largest_sigma)
        return cls(_Components(weights, mus, sigmas, weight_range, sigma_range), q, interval)

    def at_samples(self, which: np.ndarray) -> _Mixture:
        """The same mixture, read at the samples ``which`` only."""
        log_scale = None if self.log_scale is None else self.log_scale[which]
        return _Mixture(self.components, self.q, (self.u_low[which], self.u_high[which], log_scale))

    def bounds(self, reach: float) -> tuple[np.ndarray, np.ndarray]:
        near = _Near(self.components, self.u_low, self.u_high, reach)
        if self.q is None:
            return _density_bounds(self, near)
        return _mass_bounds(self, near)


class _Components:
    """A mixture's components, means ascending, and what the bounds derive from them, each worked
    out once however many stages and candidates read it (a few passes over the history saved)."""

    def __init__(
        self, weights: np.ndarray, mus: np.ndarray, sigmas: np.ndarray, weight_range: tuple, sigma_range: tuple
    ) -> None:
        self.weights, self.mus, self.sigmas = weights, mus, sigmas
        #: The smallest weight, the smallest non-zero one and their sum.
        self.smallest_weight, self.smallest_mass, self.total = weight_range
        self.floor, self.largest_sigma = sigma_range
        self._cache: dict = {}

    def _cached(self, key: Any, make: Callable[[], Any]) -> Any:
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = make()
        return value

    def __getitem__(self, name: str) -> np.ndarray:
        """One value per component: ``weights``, ``mus``, ``sigmas``, ``peaks`` (the density at the mean),
        ``log_peaks``, ``reciprocal_sigmas``, ``half_precision`` (``1 / (2 sigma**2)``) or ``bottom``
        (hyperopt's ``sqrt(2) sigma``, at least EPS)."""
        if name in ("weights", "mus", "sigmas"):
            return getattr(self, name)
        if name in _OF_SIGMA:
            return self._cached(name, lambda: _OF_SIGMA[name](self.sigmas))
        return self._cached(name, getattr(self, "_" + name))

    def _peaks(self) -> np.ndarray:
        return self.weights / (self.sigmas * _SQRT_2PI)

    def _log_peaks(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.weights) - np.log(self.sigmas * _SQRT_2PI)

    def peak_range(self) -> tuple[float, float]:
        """Bounds on the peaks of the components of non-zero weight: below the smallest, above the
        largest.  Worked out from the extremes of the weights and sigmas (every weight is at most
        their sum), widened past their rounding, when those lie well inside the float range; else
        the peaks' own extremes."""

        def make() -> tuple[float, float]:
            low = self.smallest_mass / (self.largest_sigma * _SQRT_2PI) * (1 - 1e-12)
            high = self.total / (self.floor * _SQRT_2PI) * (1 + 1e-12)
            if _TINY < low <= high < 1 / _TINY:
                return low, high
            peaks = self["peaks"]
            if self.smallest_weight > 0:
                return float(peaks.min()), float(peaks.max())
            return float(np.min(peaks, where=self.weights > 0, initial=np.inf)), float(peaks.max())

        return self._cached("peak_range", make)

    def peaks_far_from_the_float_limits(self) -> bool:
        """Whether every peak of non-zero weight surely lies within (_TINY, 1 / _TINY): sums of such
        peaks times exps may be taken as they are, not in logs."""
        smallest, largest = self.peak_range()
        return _TINY < smallest <= largest < 1 / _TINY

    def largest_log_peak(self) -> float:
        """At least the largest ``|log peak|`` of the components of non-zero weight."""
        smallest, largest = self.peak_range()
        if 0 < smallest <= largest < math.inf:
            return max(abs(math.log(smallest)), abs(math.log(largest)))
        log_peaks, some = self["log_peaks"], self.weights > 0  # (a peak under- or overflowed)
        smallest_log = float(np.min(log_peaks, where=some, initial=np.inf))
        return max(-smallest_log, float(np.max(log_peaks, where=some, initial=-np.inf)))

    def sorted_sigmas_sample(self) -> tuple[np.ndarray, int]:
        """About 256 of the sigmas, sorted, and one in how many they are."""

        def make() -> tuple[np.ndarray, int]:
            stride = max(1, len(self.sigmas) // 256)
            return np.sort(self.sigmas[::stride]), stride

        return self._cached("sigmas_sample", make)

    def wide(self, tau: float) -> np.ndarray:
        """The indices of the components whose sigma is above ``tau``."""
        return self._cached(("wide", tau), lambda: np.flatnonzero(self.sigmas > tau))

    def narrow_values(self, tau: float, name: str) -> np.ndarray:
        """``name`` of every component, with no mass for the wide ones (they are summed apart): their
        ``peaks`` and ``weights`` 0, their ``log_peaks`` -inf."""
        values, wide = self[name], self.wide(tau)
        if name not in _MASSES or not len(wide):
            return values

        def make() -> np.ndarray:
            masses = values.copy()
            masses[wide] = _MASSES[name]
            return masses

        return self._cached(("narrow", tau, name), make)

    def rows(self, tau: float, name: str, width: int, starts: np.ndarray) -> np.ndarray:
        """:meth:`narrow_values` ``starts[i]`` to ``starts[i] + width - 1`` as row ``i``."""
        return _rows(self.narrow_values(tau, name), width, starts)

    def sums_before(self, tau: float, name: str, ends: np.ndarray) -> tuple[np.ndarray, float]:
        """The sums of :meth:`narrow_values` before each of ``ends`` (``values[:end].sum()``, each end
        between 0 and their number), and their total: the sums between the ends in their order, then
        running sums of those (an ``np.cumsum`` over every component costs several times more)."""
        values = self.narrow_values(tau, name)
        flat = ends.ravel()
        order = np.argsort(flat, kind="stable")
        starts = np.empty(len(flat) + 1, np.intp)
        starts[0] = 0
        np.minimum(flat[order], len(values) - 1, out=starts[1:])  # (reduceat's indices must be in range)
        pieces = np.add.reduceat(values, starts)  # piece k: values[starts[k]:starts[k + 1]], the last to the end
        pieces[:-1][starts[1:] == starts[:-1]] = 0.0  # (for equal starts reduceat gives one value, not none)
        running = np.cumsum(pieces)
        sums = np.empty(len(flat))
        sums[order] = running[:-1]
        sums[flat == len(values)] = running[-1]  # (clipped above: their running sum misses the last value)
        return sums.reshape(ends.shape), float(running[-1])


def _rows(values: np.ndarray, width: int, starts: np.ndarray) -> np.ndarray:
    """``values[start : start + width]`` for each of ``starts`` as the rows of a new array (``values``
    contiguous, ``width`` at most its length, each start at most ``len(values) - width``)."""
    # (the overlapping windows as a view, made by the constructor: as_strided and
    # sliding_window_view cost more than the copy of the rows they are read for)
    windows = np.ndarray((len(values) - width + 1, width), values.dtype, values, 0, (values.itemsize,) * 2)
    return windows[starts]


#: The components' values that derive from their sigma alone, from the sigmas.
_OF_SIGMA: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "reciprocal_sigmas": lambda sigmas: 1 / sigmas,
    "half_precision": lambda sigmas: 0.5 / np.square(sigmas),
    "bottom": lambda sigmas: np.maximum(np.sqrt(2) * sigmas, hyperopt_tpe.EPS),
}
#: What a component of no mass has, by value.
_MASSES = {"peaks": 0.0, "weights": 0.0, "log_peaks": -np.inf}


def _accepts(weights: np.ndarray, mus: np.ndarray, sigmas: np.ndarray, low: float, high: float, total: float) -> bool:
    """Whether hyperopt's ``p_accept`` (the mass between ``low`` and ``high``, which it takes the log
    of and divides by) is surely far from 0: some component of weight at least 1e-100 of the total
    has its mean in the interval and a sigma at most 1e6 times the interval, so its mass there is at
    least 4e-7 (the prior's component of hyperopt's estimator always does)."""
    if not low < high:
        return False
    first, last = np.searchsorted(mus, low, "left"), np.searchsorted(mus, high, "right")
    for end in (min(last, first + 64), last):  # (most often one of the first few will do)
        inside = (sigmas[first:end] <= 1e6 * (high - low)) & (weights[first:end] >= 1e-100 * total)
        if inside.any():
            return True
    return False


def _finite_number(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _interval(samples: np.ndarray, log_space: bool, low: Any, high: Any, q: Any) -> tuple | None:
    """Where each sample's density is read, in the space where the components are normal
    (the log for ``LGMM1``): a point, or with ``q`` the interval hyperopt integrates over; and
    the log of the factor the point density carries (1/x for a log-normal)."""
    if q is None:
        if not log_space:
            return samples, samples, None
        if not samples.min() > _NORMAL:
            return None  # (hyperopt's sigma * x * sqrt(2 pi) could be subnormal, its log far off)
        u = np.log(samples)
        return u, u, -u
    # hyperopt's own bounds, with its own operations (GMM1_lpdf, LGMM1_lpdf, lognormal_cdf)
    if log_space:
        upper = samples + q / 2 if high is None else np.minimum(samples + q / 2, np.exp(high))
        lower = samples - q / 2 if low is None else np.maximum(samples - q / 2, np.exp(low))
        lower = np.maximum(0, lower)
        if upper.min() < 0:
            return None
        upper, lower = np.log(np.maximum(upper, hyperopt_tpe.EPS)), np.log(np.maximum(lower, hyperopt_tpe.EPS))
    else:
        upper = samples + q / 2.0 if high is None else np.minimum(samples + q / 2.0, high)
        lower = samples - q / 2.0 if low is None else np.maximum(samples - q / 2.0, low)
    if not (np.isfinite(lower).all() and np.isfinite(upper).all() and (upper >= lower).all()):
        return None
    return lower, upper, None


class _Near:
    """For each sample, the components that may lie within ``reach`` of their sigmas of it.

    Components whose sigma is at most ``tau`` ("narrow") are found by a window of ``reach * tau``
    around the sample in the sorted means; the few wider ones are taken for every sample (and count
    as having no mass in the windows and the bands).  ``tau`` is chosen by :func:`_threshold`.
    :meth:`take` lays out a value of these components as a (samples x pairs) array: a row is its
    sample's window, widened to the widest window by the next components (moved left where it
    would run past the last one), then the wide ones.  The extra components of a row are summed
    exactly as well as counted in the bands beyond: the sum stays a sum of distinct components,
    and the bound above it only grows, so both bounds hold.
    """

    def __init__(
        self,
        components: _Components,
        u_low: np.ndarray,
        u_high: np.ndarray,
        reach: float,
        tau: float | None = None,
    ) -> None:
        if tau is None:
            tau = _threshold(components, u_low, u_high, reach)
        self.components, self.tau, self.reach = components, tau, reach
        self.wide = components.wide(tau)
        mus = components.mus
        # Where each band of distance (row k: beyond reach * _BANDS[k] narrow sigmas) begins, left and
        # right of each sample; row 0 is the window.
        offsets = (reach * np.array(_BANDS))[:, None] * tau
        self.left = np.searchsorted(mus, u_low - offsets, "left")
        self.right = np.searchsorted(mus, u_high + offsets, "right")
        self.width = min(len(mus), max(1, int((self.right[0] - self.left[0]).max())))
        self.first = np.minimum(self.left[0], len(mus) - self.width)

    def beyond(self, name: str, tail: Callable[[float], float]) -> np.ndarray:
        """Per sample, an upper bound on ``sum_j value_j * tail(d_j)`` over the narrow components
        outside its window, ``value`` being the components' ``name`` and ``d_j`` (at least
        ``reach``) their distance in their own sigmas, ``tail`` decreasing: the components are
        counted in bands of distance, each at its nearest edge, from sums of the components before
        the bands' edges (a margin covers their rounding: at most one ``eps`` of the total per term
        summed, twice)."""
        sums, total = self.components.sums_before(self.tau, name, np.concatenate((self.left, self.right)))
        if not math.isfinite(total):  # (values summing past the largest float: no bound)
            return np.full(self.left.shape[1], np.inf)
        at_left, at_right = sums[: len(self.left)], sums[len(self.left) :]
        next_left = np.zeros_like(at_left)  # (beyond the last band: nothing left of the first component)
        next_left[:-1] = at_left[1:]
        next_right = np.full_like(at_right, total)
        next_right[:-1] = at_right[1:]
        tails = np.array([tail(self.reach * f) for f in _BANDS])
        bound = tails @ ((at_left - next_left) + (next_right - at_right))
        n_sums = 2 * (len(self.components.mus) + 1)
        return bound + tail(self.reach) * (8 * len(_BANDS) + n_sums) * _EPS * total

    def multiply(self, terms: np.ndarray, name: str, factor: float = 1.0) -> None:
        """``terms *= factor * take(name)``, with one number for the windows when every narrow
        component has the same ``name`` (one that derives from the sigma, which is then the floor's)."""
        of_sigma = _OF_SIGMA.get(name)
        if of_sigma is None or self.tau != self.components.floor:
            values = self.take(name, 3)
            if factor != 1.0:
                np.multiply(values, factor, out=values)
            np.multiply(terms, values, out=terms)
            return
        windows, wide = terms[:, : self.width], terms[:, self.width :]
        np.multiply(windows, factor * of_sigma(np.array([self.tau])), out=windows)
        np.multiply(wide, factor * of_sigma(self.components.sigmas[self.wide]), out=wide)

    def differences(self, u: np.ndarray, which: int) -> np.ndarray:
        """``u[i] - mus`` at sample ``i``'s components, laid out as :meth:`take` lays them, in scratch
        array ``which``; the windows' means are subtracted as they are gathered (a copy spared)."""
        out = scratch(which, (len(self.first), self.width + len(self.wide)))
        windows = self.components.rows(self.tau, "mus", self.width, self.first)
        np.subtract(u[:, None], windows, out=out[:, : self.width])
        np.subtract(u[:, None], self.components.mus[self.wide], out=out[:, self.width :])
        return out

    def weighted_sums(self, terms: np.ndarray, name: str) -> np.ndarray:
        """``(terms * take(name)).sum(axis=1)`` for ``terms`` laid out as :meth:`take` lays them,
        without laying out ``name``."""
        windows = self.components.rows(self.tau, name, self.width, self.first)
        sums = np.einsum("ij,ij->i", terms[:, : self.width], windows)
        if len(self.wide):
            sums += terms[:, self.width :] @ self.components[name][self.wide]
        return sums

    def take(self, name: str, which: int) -> np.ndarray:
        """The components' ``name`` at each sample's components, in scratch array ``which``
        (kept between calls: fresh arrays of this size cost page faults)."""
        out = scratch(which, (len(self.first), self.width + len(self.wide)))
        out[:, : self.width] = self.components.rows(self.tau, name, self.width, self.first)
        out[:, self.width :] = self.components[name][self.wide]
        return out


def _threshold(components: _Components, u_low: np.ndarray, u_high: np.ndarray, reach: float) -> float:
    """The sigma below which components are found by windows, whichever of a few makes fewest pairs:
    twice the smallest (on long histories most sigmas are hyperopt's floor, prior_sigma / 100), about
    the 97th percentile (from a sorted sample: ``np.partition`` is slow on many equal values), the largest.
    The wide components are counted in the sample too: only the cost depends on the choice, not the bounds.
    When at most ``_MAX_WIDE`` components are wider than the floor, the floor itself: no other choice
    can save more than those few columns, and any other doubles the windows at least."""
    if len(components.wide(components.floor)) <= _MAX_WIDE:
        return components.floor
    mus = components.mus
    sample, stride = components.sorted_sigmas_sample()
    best_tau, best_cost = components.largest_sigma, math.inf
    for tau in (2 * components.floor, float(sample[int(0.97 * (len(sample) - 1))]), best_tau):
        window = np.searchsorted(mus, u_high + reach * tau, "right") - np.searchsorted(mus, u_low - reach * tau, "left")
        n_wide = (len(sample) - int(np.searchsorted(sample, tau, "right"))) * stride
        cost = int(window.sum()) + len(u_low) * n_wide
        if cost < best_cost:
            best_tau, best_cost = tau, cost
    return best_tau


def _binned_bounds(mixture: _Mixture) -> tuple[np.ndarray, np.ndarray] | None:
    """Bounds from the components summed per bin, for crowded histories (None when they would not pay).

    Late in a search most components lie near the candidates (the trials crowd where the good
    ones are), with hyperopt's floor sigma ``s``.  Those within ``reach`` sigmas are summed per bin
    of ``s / 32`` of their means: in a bin of centre ``c``, at ``t = (u - c) / s``, a component at
    ``e = (mu - c) / s`` contributes ``peak * exp(-t**2 / 2) * exp(x)`` with ``x = t*e - e**2/2``.
    By Taylor's formula about the mean of ``x`` (weighted by the peaks), the bin's sum is
    ``C exp(mean) (1 + var / 2 * exp(r))`` for some ``r`` in the range of ``x - mean``, so it lies
    between the values at the ends of that range, from the bin's moments ``sum peak e**k``,
    ``k = 0..4``.  The two differ by about ``var`` times that range: a few 1e-7 of the sum.
    """
    if mixture.q is not None:
        return None
    components, u = mixture.components, mixture.u_low
    mus, sigmas = components.mus, components.sigmas
    reach, floor = REACHES[0], components.floor
    window = int(2 * reach * _BINS_PER_SIGMA) + 3
    if len(components.wide(floor)) > _MAX_WIDE:
        return None
    widest = np.searchsorted(mus, u + reach * floor, "right") - np.searchsorted(mus, u - reach * floor, "left")
    if widest.max() < 6 * window:
        return None
    width = floor / _BINS_PER_SIGMA
    start = float(u.min()) - reach * floor - width
    n_bins = int((float(u.max()) + reach * floor + width - start) / width) + 2
    if n_bins > 4 * len(mus):
        return None
    if not components.peaks_far_from_the_float_limits():
        return None  # (the sums below are not in logs: they must neither underflow nor overflow)
    peaks = components["peaks"]
    narrow_peaks = components.narrow_values(floor, "peaks")
    first, last = np.searchsorted(mus, [start, start + n_bins * width])
    crowd = mus[first:last]
    # Each component's bin, and its offset from the bin's centre in floor sigmas (the rounding of
    # ``position``, a few 1e-13 of a bin at most, is far inside the 1e-12 added to the largest offset).
    position = (crowd - start) * (1 / width)
    bin_of = np.minimum(position.astype(np.intp), n_bins - 1)
    offset = (position - bin_of - 0.5) * (width / floor)
    peak = narrow_peaks[first:last]
    size = n_bins + window
    total = np.bincount(bin_of, peak, size)
    # Per bin, the moments of e (weighted by the peaks: an empty bin has 0 / _TINY, and no weight),
    # then the variance of x = t e - e**2 / 2 is t**2 var(e) - t cov(e, e**2) + var(e**2) / 4.
    held = np.maximum(total, _TINY)
    term, moments = peak, []
    for _ in range(4):
        term = term * offset
        moments.append(np.bincount(bin_of, term, size) / held)
    mean_e, mean_e2, mean_e3, mean_e4 = moments
    var_e, cov_e_e2 = mean_e2 - mean_e * mean_e, mean_e3 - mean_e * mean_e2
    quarter_var_e2 = (mean_e4 - mean_e2 * mean_e2) / 4
    half_mean_e2 = mean_e2 / 2
    b = float(np.abs(offset).max(initial=0.0)) * (1 + 1e-9) + 1e-12  # the largest |e|, and some
    # Each sample's bins start one early: rounding may put a component exactly ``reach`` away
    # in the bin before (and the band beyond reach would not count it).  Distances are taken from
    # ``u - start``, exact to its own rounding even far from 0, not from the bins' positions.
    from_start = u - start
    first_bin = np.clip(((from_start - reach * floor) / width).astype(np.intp) - 1, 0, None)

    def at_bins(per_bin: np.ndarray) -> np.ndarray:
        return _rows(per_bin, window, first_bin)

    # Each sample's distance from each bin's centre, in floor sigmas (to a few 1e-16: far inside the slack).
    t = ((from_start - (first_bin + 0.5) * width) / floor)[:, None] - np.arange(window) * (width / floor)
    mean = t * at_bins(mean_e) - at_bins(half_mean_e2)
    variance = (t * at_bins(var_e) - at_bins(cov_e_e2)) * t + at_bins(quarter_var_e2)
    # x lies in [-|t| b - b**2 / 2, |t| b]: from the mean, at most ``below`` down and ``above`` up
    above = np.abs(t) * b
    below = above + b * b / 2 + mean
    above -= mean
    if not above.max() < 0.5:
        return None  # (the bounds on exp below need a narrow range of x)
    terms = np.square(t, out=t)
    terms *= -0.5
    terms += mean
    np.exp(terms, out=terms)
    terms *= at_bins(total)
    # Taylor's formula to second order about the mean, its remainder between exp of the ends of the
    # range: sum exp(x) = C exp(mean) (1 + var/2 exp(r)), r in [-below, above], with exp(-below) >=
    # 1 - below and exp(above) <= 1 / (1 - above).  The two differ by about var * (below + above) / 2,
    # a few 1e-7 of the sum.  Summed as they are rather than in logs: the terms lie within a few e**13
    # of the largest peak (checked above to be far from the float limits), and the sums of positive
    # terms are exact to a few 1e-13.
    with np.errstate(divide="ignore"):
        low = np.log((terms * (1 + variance / 2 * np.maximum(1 - below, 0.0))).sum(axis=1))
        high = np.log((terms * (1 + np.maximum(variance, 0.0) / 2 / (1 - above))).sum(axis=1))
    near = _Near(components, u, u, reach, tau=floor)  # (the components beyond reach, and the wide ones)
    with np.errstate(divide="ignore"):
        high = np.logaddexp(high, np.log(near.beyond("peaks", _gaussian_tail) * (1 + 1e-6)))
    if len(near.wide):
        z = (u[:, None] - mus[near.wide]) / sigmas[near.wide]
        with np.errstate(divide="ignore"):
            exact = _log_sum_rows(np.log(peaks[near.wide]) - 0.5 * z * z)
        low, high = np.logaddexp(low, exact), np.logaddexp(high, exact)
    if mixture.log_scale is not None:
        low, high = low + mixture.log_scale, high + mixture.log_scale
    largest_log_peak = components.largest_log_peak()
    return low - _slack(low, largest_log_peak), high + _slack(high, largest_log_peak)


def _gaussian_tail(d: float) -> float:
    return math.exp(-d * d / 2)


def _density_bounds(mixture: _Mixture, near: _Near) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on ``log sum_j w_j N(u; mu_j, sigma_j)`` (times the sample's factor ``exp(log_scale)``)."""
    u, log_scale = mixture.u_low, mixture.log_scale
    inside = _near_sum(mixture.components, near, u)
    if inside is None:
        inside = _near_log_sum(near, u)
    # hyperopt's float terms may exceed the exact ones by their rounding: 1e-6 covers it many times over
    outside = near.beyond("peaks", _gaussian_tail) * (1 + 1e-6)
    with np.errstate(divide="ignore"):
        far = np.log(outside)
    if log_scale is not None:
        inside = inside + log_scale
        far = far + log_scale
    slack = _slack(inside, mixture.components.largest_log_peak())
    return inside - slack, np.logaddexp(inside, far) + slack


def _near_sum(components: _Components, near: _Near, u: np.ndarray) -> np.ndarray | None:
    """``log sum_j peak_j exp(-(u - mu_j)**2 / (2 sigma_j**2))`` over each sample's components, summed as
    they are (half the passes of a sum in logs); None where that could underflow or overflow."""
    if not components.peaks_far_from_the_float_limits():
        return None
    largest_peak = components.peak_range()[1]
    terms = near.differences(u, 2)
    np.square(terms, out=terms)
    near.multiply(terms, "half_precision", -1.0)
    np.exp(terms, out=terms)
    total = near.weighted_sums(terms, "peaks")
    # A faraway component's exp may come out subnormal, off by up to the smallest subnormal, which
    # its peak then multiplies, and a term may be subnormal itself: each row's sum must dwarf all
    # such errors together (an empty window with only faraway components may not).
    if not total.min() > 1e12 * terms.shape[1] * max(largest_peak, 1.0) * _SMALLEST_SUBNORMAL:
        return None
    return np.log(total)


def _near_log_sum(near: _Near, u: np.ndarray) -> np.ndarray:
    """The same sum, in logs."""
    terms = near.differences(u, 2)
    near.multiply(terms, "reciprocal_sigmas")
    np.square(terms, out=terms)
    np.multiply(terms, -0.5, out=terms)
    np.add(terms, near.take("log_peaks", 3), out=terms)
    return _log_sum_rows(terms, scratch_terms=True)


def _slack(log_density: np.ndarray, largest_log_peak: float) -> np.ndarray:
    """How far hyperopt's float log density (and ours) may be from the exact one, many times over;
    ``largest_log_peak``: the largest ``|log peak|`` of the components of non-zero weight."""
    return _RELATIVE * (4 + np.abs(np.where(np.isfinite(log_density), log_density, 0.0)) + largest_log_peak)


def _mass_bounds(mixture: _Mixture, near: _Near) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on ``log sum_j w_j P(u_low <= N(mu_j, sigma_j) <= u_high)``, hyperopt's ``prob``."""
    weights, u_low, u_high = mixture.components.weights, mixture.u_low, mixture.u_high
    bottom = near.take("bottom", 2)
    centre = near.take("mus", 3)
    mass = _interval_mass((u_low[:, None] - centre) / bottom, (u_high[:, None] - centre) / bottom)
    inside = near.weighted_sums(mass, "weights")
    outside = near.beyond("weights", lambda d: 0.5 * math.erfc(d / math.sqrt(2)))
    rounding = (16 + 2 * len(weights)) * _EPS * float(weights.sum())
    with np.errstate(divide="ignore"):
        low = np.log(np.maximum(inside * (1 - _RELATIVE) - rounding, 0.0))
        high = np.log((inside + outside) * (1 + _RELATIVE) + rounding)
    return low, high


def _interval_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(erf(b) - erf(a)) / 2`` for ``a <= b``, without the cancellation in the tails."""
    flip = b <= 0  # the mirror image, so that the interval is never wholly left of 0
    a, b = np.where(flip, -b, a), np.where(flip, -a, b)
    mass = np.empty_like(a)
    tail = a >= 0
    mass[tail] = erfc(a[tail]) - erfc(b[tail])
    middle = ~tail
    mass[middle] = erf(b[middle]) + erf(-a[middle])
    return 0.5 * mass


def _log_sum_rows(terms: np.ndarray, scratch_terms: bool = False) -> np.ndarray:
    """``log(exp(terms).sum(axis=1))``, -inf for a row of -inf; ``terms`` is overwritten if it is scratch."""
    top = terms.max(axis=1, initial=-np.inf)
    shift = np.where(np.isfinite(top), top, 0.0)
    shifted = np.subtract(terms, shift[:, None], out=terms if scratch_terms else None)
    # exp of a term below -700 of the largest is slow (it underflows) and far below the margins
    np.maximum(shifted, -700.0, out=shifted)
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(top), np.log(np.exp(shifted, out=shifted).sum(axis=1)) + shift, -np.inf)


#: The bounds tried in turn, each on the candidates the ones before could not rule out.
_STAGES: tuple[Callable[[_Mixture], tuple | None], ...] = (
    _binned_bounds,
    *(functools.partial(_Mixture.bounds, reach=reach) for reach in REACHES),
)
