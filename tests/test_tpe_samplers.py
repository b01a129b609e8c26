"""resumable_opt.tpe.samplers: hyperopt's truncated GMM1/LGMM1 draws, bit for bit, and the same random stream."""

from __future__ import annotations

import numpy as np
import pytest
from hyperopt import tpe

from resumable_opt.tpe import samplers

PAIRS = [(tpe.GMM1, samplers.gmm1, False), (tpe.LGMM1, samplers.lgmm1, True)]


def _mixture(rng: np.random.Generator, n: int, log: bool) -> tuple:
    weights = rng.random(n)
    weights /= weights.sum()
    mus = rng.uniform(-3, 1, n) if log else rng.uniform(-5, 5, n)
    return weights, mus, rng.uniform(0.01, 3, n)


def _draw(function, args: tuple, kwargs: dict, seed: int) -> tuple:  # noqa: ANN001
    """What ``function`` returns (or raises) and the state of its Generator after."""
    rng = np.random.default_rng(seed)
    try:
        value = function(*args, rng=rng, **kwargs)
    except Exception as error:  # noqa: BLE001
        value = (type(error), str(error))
    return value, rng.bit_generator.state


@pytest.mark.parametrize(("theirs", "ours", "log"), PAIRS)
def test_truncated_draws_are_hyperopts(theirs, ours, log):  # noqa: ANN001
    rng = np.random.default_rng(0)
    bounds = [(-2.0, 0.5), (0, 1), (np.float64(-1.5), 0.25)]
    if not log:
        bounds += [(None, 0.0), (-1.0, None)]  # (LGMM1 has no one-sided truncation)
    for seed in range(40):
        n = int(rng.integers(1, 40))
        weights, mus, sigmas = _mixture(rng, n, log)
        low, high = bounds[seed % len(bounds)]
        for q in (None, 0.1):
            for size in ((24,), (3, 2), ()):
                kwargs = {"low": low, "high": high, "q": q, "size": size}
                expected, expected_state = _draw(theirs, (weights, mus, sigmas), kwargs, seed)
                got, state = _draw(ours, (weights, mus, sigmas), kwargs, seed)
                assert type(got) is type(expected)
                assert got.shape == expected.shape and got.dtype == expected.dtype
                assert got.tobytes() == expected.tobytes()
                assert state == expected_state  # the same numbers taken from the stream


@pytest.mark.parametrize(("theirs", "ours", "log"), PAIRS)
@pytest.mark.parametrize(
    "case",
    [
        "no bounds",
        "low above high",
        "lengths differ",
        "int means",
        "list arguments",
        "negative sigma",
        "scalar weights",
        "legacy rng",
    ],
)
def test_other_calls_are_hyperopts_own(theirs, ours, log, case):  # noqa: ANN001
    weights, mus, sigmas = _mixture(np.random.default_rng(1), 5, log)
    kwargs: dict = {"low": -1.0, "high": 1.0, "size": (24,)}
    args: tuple = (weights, mus, sigmas)
    if case == "no bounds":
        kwargs.update(low=None, high=None)
    elif case == "low above high":
        kwargs.update(low=1.0, high=-1.0)
    elif case == "lengths differ":
        args = (weights, mus[:-1], sigmas)
    elif case == "int means":
        args = (weights, np.arange(5) - 2, sigmas)
    elif case == "list arguments":
        args = (weights.tolist(), mus.tolist(), sigmas.tolist())
    elif case == "negative sigma":
        args = (weights, mus, -sigmas)
    elif case == "scalar weights":
        args = (np.float64(1.0), mus[:1], sigmas[:1])
    if case == "legacy rng":
        expected = theirs(*args, rng=np.random.RandomState(3), **kwargs)
        assert ours(*args, rng=np.random.RandomState(3), **kwargs).tobytes() == expected.tobytes()
        return
    expected, expected_state = _draw(theirs, args, kwargs, 3)
    got, state = _draw(ours, args, kwargs, 3)
    if isinstance(expected, tuple):
        assert got == expected  # the same error
    else:
        assert got.tobytes() == expected.tobytes() and got.shape == expected.shape
    assert state == expected_state
