"""resumable_opt.tpe.kept: a function's results kept for arguments of the same bits."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from resumable_opt.tpe import densities
from resumable_opt.tpe.kept import Kept


def traced() -> tuple[Kept, list]:
    calls: list = []

    def function(values, scale=1.0, shift=None):
        calls.append((values, scale, shift))
        out = np.asarray(values, dtype=float) * scale
        return out, (out.sum() if shift is None else out.sum() + shift)

    return Kept(function, largest=8, most=3), calls


def test_the_same_bits_are_computed_once_and_other_bits_again():
    kept, calls = traced()
    values = np.array([0.5, -1.0, 2.0])
    first = kept(values, 2.0)
    again = kept(values.copy(), 2.0)
    assert len(calls) == 1 and kept.counts == {"kept": 1, "computed": 1}
    assert first[0].tobytes() == again[0].tobytes() and first[1] == again[1]
    for args, kwargs in [
        ((values, -0.0), {}),  # -0.0 is not 0.0 ...
        ((values, 0.0), {}),
        ((values, 2), {}),  # ... nor 2 the float 2.0
        ((values, np.float64(2.0)), {}),
        ((values,), {"scale": 2.0}),  # a keyword argument is keyed by its name
        ((values, 2.0), {"shift": 1.0}),
        ((np.array([0.5, -1.0, 2.5]), 2.0), {}),
    ]:
        before = len(calls)
        kept(*args, **kwargs)
        assert len(calls) == before + 1, (args, kwargs)


def test_arrays_handed_out_are_copies():
    kept, _ = traced()
    values = np.array([1.0, 2.0])
    out, _ = kept(values)
    out[:] = 99.0  # what a caller does to its result ...
    assert kept(values)[0].tolist() == [1.0, 2.0]  # ... does not reach the next call


@pytest.mark.parametrize(
    "args",
    [
        (np.arange(9.0),),  # longer than kept arrays are
        (np.array([1.0, 2.0], dtype=np.float32),),
        (np.array([[1.0, 2.0]]),),
        ([1.0, 2.0],),
        (np.array([1.0]), float("nan")),  # (NaN payloads would be lost in the key)
        (np.array([1.0]), True),
    ],
)
def test_arguments_whose_bits_are_not_the_whole_story_are_plain_calls(args):
    kept, calls = traced()
    for _ in range(2):
        kept(*args)
    assert len(calls) == 2 and kept.counts == {"kept": 0, "computed": 0}


def test_the_oldest_result_is_dropped_first():
    kept, calls = traced()
    for scale in (1.0, 2.0, 3.0, 4.0):  # one more than it keeps
        kept(np.ones(2), scale)
    kept(np.ones(2), 4.0)
    kept(np.ones(2), 1.0)
    assert [call[1] for call in calls] == [1.0, 2.0, 3.0, 4.0, 1.0]


def test_threads_get_the_functions_results():
    kept, _ = traced()
    wrong = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(300):
            values, scale = rng.integers(0, 3, 2).astype(float), float(rng.integers(1, 4))
            out, total = kept(values, scale)
            if out.tolist() != (values * scale).tolist() or total != (values * scale).sum():
                wrong.append((values, scale))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong and kept.counts["kept"] > 0


def test_the_good_mixtures_mass_is_kept_between_calls():
    weights, mus, sigmas = np.array([0.25, 0.75]), np.array([0.0, 1.0]), np.array([1.0, 0.5])
    before = dict(densities._p_accept.counts)
    masses = [densities._p_accept(weights, mus, sigmas, -1.0, 2.0) for _ in range(3)]
    assert masses[0] == densities._mass_between(weights, mus, sigmas, -1.0, 2.0) == masses[2]
    assert densities._p_accept.counts["kept"] - before["kept"] >= 2
