"""The Parzen estimator of the bad trials, sorted by the history's kept order, is hyperopt's to the bit.

``resumable_opt.tpe.parzen.adaptive_parzen_normal`` is compared with
``hyperopt.tpe.adaptive_parzen_normal`` on its own (every returned array's
bytes, dtype and shape; the same error when hyperopt fails), with the right
order, none, wrong ones, ties, NaN, the prior on an observation, short inputs
and every ``LF``; then in whole searches, counting (not timing) that the kept
order is used and merged rather than sorted anew at every call.
"""

from __future__ import annotations

import numpy as np
import pytest
from hyperopt import JOB_STATE_DONE, JOB_STATE_ERROR, STATUS_OK, Trials, base, hp, rand, tpe

from resumable_opt import tpe as fast_tpe
from resumable_opt.tpe import history as tpe_history
from resumable_opt.tpe import parzen
from test_tpe_exact import History, exact, hyperopts_with_linear_forgetting


def same(theirs: tuple, ours: tuple) -> bool:
    return len(theirs) == len(ours) and all(
        np.asarray(t).tobytes() == np.asarray(o).tobytes()
        and np.asarray(t).dtype == np.asarray(o).dtype
        and np.shape(t) == np.shape(o)
        for t, o in zip(theirs, ours, strict=True)
    )


def compare(mus, prior_weight, prior_mu, prior_sigma, order, **lf) -> str:
    """Both functions on the same arguments, ``order`` handed to ours; which path ours took."""
    before = dict(parzen.counts)
    split = parzen.Split(np.zeros(0), np.asarray(mus), order)
    try:
        theirs = tpe.adaptive_parzen_normal(mus, prior_weight, prior_mu, prior_sigma, **lf)
    except Exception as exc:
        with pytest.raises(type(exc)) as ours_failed:
            parzen.adaptive_parzen_normal(mus, prior_weight, prior_mu, prior_sigma, **lf, split=split)
        assert str(ours_failed.value) == str(exc)
        return "error"
    ours = parzen.adaptive_parzen_normal(mus, prior_weight, prior_mu, prior_sigma, **lf, split=split)
    assert same(theirs, ours), (mus, prior_mu, prior_sigma, order, lf)
    return "fast" if parzen.counts["fast"] > before["fast"] else "fallback"


def other_orders(order: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    """Orders other than argsort's, each with whether it must be refused (the others are argsort's
    order read as numpy's indexing or its clipping may read it: the results must be equal either way)."""
    n = len(order)
    swapped = order.copy()
    i = int(rng.integers(n - 1))
    swapped[[i, i + 1]] = swapped[[i + 1, i]]
    shuffled = rng.permutation(n)
    return [
        (swapped, True),
        (order[::-1].copy(), True),
        (order[:-1], True),  # too short
        (np.concatenate([order, order[:1]]), True),  # too long
        (np.concatenate([order[:1], order[:-1]]), True),  # a repeated index
        (np.concatenate([[n + 5], order[1:]]), order[0] != n - 1),  # out of range
        (np.concatenate([order[:-1], [n + 5]]), order[-1] != n - 1),  # out of range (after the last)
        (order.astype(np.float64), True),
        (order.reshape(1, -1), True),
        (np.zeros(n, dtype=bool), True),
        (shuffled, not np.array_equal(shuffled, order)),
        (np.where(order == n - 1, -1, order), False),  # one counted from the end (or before the first)
        (order.astype(np.int32), False),
    ]


def test_equals_hyperopts_on_random_inputs_whatever_the_order():
    rng = np.random.default_rng(0)
    paths = {"fast": 0, "fallback": 0, "error": 0}
    for case in range(400):
        n = int(rng.choice([0, 1, 2, 3, 24, 25, 26, 27, 60, 500, 3000]))
        kind = case % 5
        if kind == 0:
            mus = rng.uniform(-5, 5, n)
        elif kind == 1:
            mus = np.log(rng.lognormal(0, 2, n))
        elif kind == 2:
            mus = np.round(rng.normal(0, 3, n))  # ties
        elif kind == 3:
            mus = rng.normal(0, 1e-300, n)  # subnormal gaps
        else:
            mus = rng.uniform(0, 1, n) * 10.0 ** rng.integers(-8, 8)
        if n and rng.random() < 0.1:
            mus[int(rng.integers(n))] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0])
        prior_mu = float(rng.choice([0.0, 0.5, -7.0, 1e9]))
        if n and rng.random() < 0.3:
            prior_mu = float(mus[int(rng.integers(n))])  # on an observation
        prior_sigma = float(rng.choice([1.0, 10.0, 0.25, 1e-3])) if rng.random() < 0.9 else int(rng.integers(1, 5))
        prior_weight = float(rng.choice([1.0, 0.5, 3.0]))
        lf = {} if rng.random() < 0.5 else {"LF": int(rng.choice([1, 7, 25, 26, n, n + 1, 10_000]))}
        order = np.argsort(mus)
        paths[compare(mus, prior_weight, prior_mu, prior_sigma, order, **lf)] += 1
        assert compare(mus, prior_weight, prior_mu, prior_sigma, None, **lf) in ("fallback", "error")
        if n >= 2:
            for other, refused in other_orders(order, rng):
                path = compare(mus, prior_weight, prior_mu, prior_sigma, other, **lf)
                assert path != "fast" or not refused, other
    # every path was exercised, the fast one on most inputs that allow it
    assert paths["fast"] > 100 and paths["fallback"] > 50


def test_odd_arguments_are_hyperopts_results_and_errors():
    rng = np.random.default_rng(1)
    mus = rng.uniform(0, 1, 50)
    order = np.argsort(mus)
    for args in [
        (mus, 1.0, 0.5, 0.0),  # hyperopt's assert on prior_sigma
        (mus, 1.0, 0.5, -1.0),
        (mus, 1.0, 0.5, np.nan),
        (mus, 1.0, np.nan, 1.0),
        (mus, 1.0, np.inf, 1.0),
        (mus, 1, 0, 1),  # ints
        (mus, np.float64(2.0), np.float64(0.5), np.float64(2.0)),
        (mus, np.float32(2.0), np.float32(0.5), np.float32(2.0)),
        (mus, 1.0, 0.5, 2**60),
        (mus, True, 0.5, 1.0),
        (list(mus), 1.0, 0.5, 1.0),
        (mus.astype(np.float32), 1.0, 0.5, 1.0),
        (mus.reshape(5, 10), 1.0, 0.5, 1.0),
        (mus.astype(object), 1.0, 0.5, 1.0),
    ]:
        compare(*args, order)
    assert compare(mus, 1.0, 0.5, 1.0, order, LF=0) == "fallback"  # hyperopt: no forgetting
    assert compare(mus, 1.0, 0.5, 1.0, order, LF=np.int64(7)) == "fallback"
    assert compare(mus, 1.0, 0.5, 1.0, order, LF=7) == "fast"


def test_ties_in_a_label_stop_the_kept_order_until_truncated():
    label = tpe_history._Label()
    for position, value in enumerate([0.5, 0.25, 1.0, 0.75]):
        label.append(position, value)
    assert list(label.sorted_positions()) == [1, 0, 3, 2]
    label.append(4, 0.6)
    assert list(label.sorted_positions()) == [1, 0, 4, 3, 2]
    label.append(5, 0.25)  # ties with position 1
    assert label.sorted_positions() is None
    label.append(6, 0.1)
    assert label.sorted_positions() is None
    label.truncate(5)  # the tie is gone
    assert list(label.sorted_positions()) == [1, 0, 4, 3, 2]
    label.append(5, 3)  # an int: np.asarray would not make floats of them all
    assert label.sorted_positions() is None
    label.truncate(5)
    for position, value in enumerate(np.linspace(2, 3, 40), start=5):  # more than a merge
        label.append(position, float(value))
    expected = np.argsort(label.floats.view())
    assert np.array_equal(label.sorted_positions(), expected)
    label.append(45, float("nan"))
    assert label.sorted_positions() is None
    label.truncate(40)
    assert np.array_equal(label.sorted_positions(), expected[expected < 40])


CONTINUOUS = {
    "u": hp.uniform("u", -2, 3),
    "l": hp.loguniform("l", -3, 1),
    "n": hp.normal("n", 0, 1),
    "g": hp.lognormal("g", 0, 0.5),
    "c": hp.choice("c", [0, 1]),
}


def run_counting(space: dict, steps: int, **history_params) -> tuple[History, dict, dict]:
    """A search compared with hyperopt's at every step; what the fast path and the history's sort did."""
    history = History(space, 5, n_startup_jobs=5, **history_params)
    history.run(60)  # past LF observations among the bad trials
    parzen_before, sorts_before = dict(parzen.counts), dict(tpe_history.counts)
    history.run(steps)
    assert history.compared == 60 + steps
    parzen_used = {k: parzen.counts[k] - parzen_before[k] for k in parzen.counts}
    sorts = {k: tpe_history.counts[k] - sorts_before[k] for k in tpe_history.counts}
    return history, parzen_used, sorts


@pytest.mark.parametrize("in_flight", [1, 4])
def test_a_continuous_search_takes_the_kept_order(in_flight):
    """Counted, not timed, in a search with failed trials, NaN losses, trials that leave the list
    (error state) and trials in flight: every bad trials' estimator of the four continuous labels
    takes the kept order, and the history merges new values into it rather than sorting again."""
    history, used, sorts = run_counting(CONTINUOUS, 150, in_flight=in_flight, refresh=in_flight == 1)
    assert used == {"fast": 4 * 150, "fallback": 0}
    left = sum(doc["state"] == JOB_STATE_ERROR for doc in history.trials._dynamic_trials)
    assert left > 0  # the history was truncated (and the kept order with it)
    assert sorts["sorted"] <= 4 * left  # a full sort only after a truncation took more than a few values
    assert sorts["merged"] >= 3 * 150  # (a call after a trial left the list may have nothing new to merge)


def test_a_quantised_search_falls_back_without_sorting_at_every_call():
    space = {"q": hp.quniform("q", 0, 10, 1), "r": hp.qnormal("r", 0, 3, 0.5), "u": hp.uniform("u", 0, 1)}
    history, used, sorts = run_counting(space, 120)
    assert used == {"fast": 120, "fallback": 2 * 120}  # only "u" is without ties
    left = sum(doc["state"] == JOB_STATE_ERROR for doc in history.trials._dynamic_trials)
    assert sorts["sorted"] <= 3 * (left + 1)


def test_linear_forgetting_takes_the_kept_order_too():
    """``linear_forgetting=7`` reaches the replaced estimators (as ``LF``): hyperopt's proposals with its
    forgetting defaults set to 7, through the kept order."""
    history = History(CONTINUOUS, 8, n_startup_jobs=5)
    history.run(60)
    seeds = range(6)
    theirs = hyperopts_with_linear_forgetting(history, seeds, 7)
    before = dict(parzen.counts)
    ours = [
        exact(fast_tpe.suggest([999], history.domain, history.trials, s, n_startup_jobs=5, linear_forgetting=7)[0])
        for s in seeds
    ]
    assert ours == theirs
    assert parzen.counts["fast"] - before["fast"] == 4 * len(seeds)
    assert parzen.counts["fallback"] == before["fallback"]


def test_trials_out_of_id_order_take_the_kept_order_too():
    """Trials brought in with ids out of order (the split then orders each label's observations by id,
    and the order of the bad ones is derived through that permutation): still the kept order, still
    hyperopt's proposals."""
    history = History(CONTINUOUS, 9, n_startup_jobs=5, in_flight=3)
    history.run(20)
    domain = base.Domain(lambda p: 0.0, CONTINUOUS)
    docs = rand.suggest(list(range(40)), domain, Trials(), 4)
    tids = np.random.default_rng(4).permutation(np.arange(1000, 1120, 3))
    for doc, tid in zip(docs, tids.tolist(), strict=True):
        doc["tid"] = doc["misc"]["tid"] = tid
        doc["misc"]["idxs"] = {label: [tid] if idxs else [] for label, idxs in doc["misc"]["idxs"].items()}
        doc["state"], doc["result"] = JOB_STATE_DONE, {"status": STATUS_OK, "loss": float(tid % 7)}
    history.add(docs)
    before = dict(parzen.counts)
    history.run(40)
    assert not tpe_history.HISTORIES[history.trials].irregular
    assert parzen.counts["fast"] - before["fast"] == 4 * 40


@pytest.mark.parametrize("N, LF", [(0, 25), (1, 25), (24, 25), (25, 25), (26, 25), (10_000, 25), (7, 1)])
def test_kept_forgetting_weights_are_hyperopts_and_read_only(N, LF):
    theirs = tpe.linear_forgetting_weights(N, LF)
    for _ in range(2):  # computed, then kept
        ours = parzen.forgetting_weights(N, LF)
        assert ours.dtype == theirs.dtype and ours.tobytes() == theirs.tobytes()
        assert not ours.flags.writeable  # shared by the labels of a proposal: nobody may change it
    # (other types of N are hyperopt's call, every time)
    assert parzen.forgetting_weights(np.int64(N), LF).tobytes() == theirs.tobytes()
