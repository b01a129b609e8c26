"""The candidate choice from bounds (resumable_opt.tpe.choice) is hyperopt's choice.

The guarantee rests on one property: the bounds on the bad trials' log
density always hold the float value hyperopt computes.  It is checked here
directly, on mixtures built by hyperopt's own Parzen estimator from
observations with clusters, ties and outliers, at candidates inside, at the
edges and far outside them, for the four densities; then end to end, on long
histories, where proposals are compared with hyperopt's bit for bit and most
choices must come from the bounds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hyperopt import JOB_STATE_DONE, STATUS_OK, Trials, base, hp, rand, tpe

from resumable_opt import tpe as fast_tpe
from resumable_opt.tpe import choice
from resumable_opt.tpe.densities import gmm1_lpdf, lgmm1_lpdf
from test_tpe_exact import exact


def observations(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """Values as a search leaves them: a cluster near a good region, a spread, exact repeats, an outlier."""
    spread = rng.uniform(low, high, n)
    cluster = np.clip(rng.normal(low + 0.3 * (high - low), 0.01 * (high - low), n), low, high)
    values = np.where(rng.random(n) < 0.5, cluster, spread)
    values[rng.random(n) < 0.1] = values[0]  # ties
    values[-1] = high
    return values


def hyperopt_value(log_space: bool, samples, weights, mus, sigmas, low, high, q) -> np.ndarray:
    """hyperopt's log density, plus the term common to all samples that the bounds leave out."""
    lpdf = tpe.LGMM1_lpdf if log_space else tpe.GMM1_lpdf
    value = lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    if low is not None and (q is not None or not log_space):
        p_accept = np.sum(weights * (tpe.normal_cdf(high, mus, sigmas) - tpe.normal_cdf(low, mus, sigmas)))
        value = value + np.log(p_accept)
    return value


def deferred(log_space: bool, samples, weights, mus, sigmas, low=None, high=None, q=None) -> choice.Deferred:
    """The bad trials' density as the posterior hands it to the choice: unevaluated."""
    arguments = (samples, weights, mus, sigmas), {"low": low, "high": high, "q": q}
    return choice.Deferred(lgmm1_lpdf if log_space else gmm1_lpdf, log_space, *arguments)


CASES = [  # (log space, q, bounded)
    (False, None, False),
    (False, None, True),
    (False, 0.5, True),
    (False, 2.0, False),
    (True, None, False),
    (True, None, True),
    (True, 1.0, True),
]


@pytest.mark.parametrize("log_space, q, bounded", CASES)
def test_the_bounds_hold_hyperopts_float_value(log_space, q, bounded):
    rng = np.random.default_rng(7)
    low, high = (-2.0, 3.0) if bounded else (None, None)
    checked = 0
    for n in (1, 2, 30, 300) + (() if q is not None else (3000,)):
        for trial in range(4):
            lo_u, hi_u = (-2.0, 3.0)
            obs = observations(rng, n, lo_u, hi_u)
            prior_sigma = (hi_u - lo_u) * (0.3 + trial)
            weights, mus, sigmas = tpe.adaptive_parzen_normal(obs, 1.0, 0.5, prior_sigma)
            inside = obs[rng.integers(n, size=16)] + rng.normal(0, 0.05, 16)
            outside = np.array([lo_u - 5, hi_u + 7, lo_u - 40, hi_u + 60])
            samples = np.concatenate([inside, outside, [mus[0], mus[-1], lo_u, hi_u]])
            if log_space:
                samples = np.exp(samples)
            if bounded:
                samples = np.clip(samples, np.exp(low) if log_space else low, np.exp(high) if log_space else high)
            if q is not None:
                samples = np.round(samples / q) * q
                if log_space:
                    samples = np.maximum(samples, q)
            expected = hyperopt_value(log_space, samples, weights, mus, sigmas, low, high, q)
            density = deferred(log_space, samples, weights, mus, sigmas, low, high, q)
            for reach in choice.REACHES:
                bounds = choice.above_bounds(samples, density, reach)
                assert bounds is not None
                lower, upper = bounds
                finite = np.isfinite(expected)
                assert (lower[finite] <= expected[finite]).all(), (n, reach, (expected - lower)[finite].min())
                assert (expected[finite] <= upper[finite]).all(), (n, reach, (upper - expected)[finite].min())
                assert (lower[~finite] == -np.inf).all()  # a density hyperopt finds 0 is never bounded above 0
                checked += int(finite.sum())
    assert checked > 300


@pytest.mark.parametrize("log_space, bounded", [(False, False), (False, True), (True, False)])
def test_the_binned_bounds_hold_hyperopts_float_value_on_a_crowded_history(log_space, bounded):
    """Late in a search most trials crowd near the candidates: there the bounds come from the
    components summed per bin (checked to be used), and they too must hold hyperopt's value."""
    rng = np.random.default_rng(11)
    checked = 0
    for n, spread in ((5000, 0.05), (20000, 0.05), (5000, 0.0)):
        obs = np.concatenate([rng.normal(0.7, 0.05 if spread else 0.004, n - n // 10), rng.uniform(-2, 3, n // 10)])
        obs = np.clip(obs, -2.0, 3.0) if spread else np.concatenate([obs[: n - n // 10], np.full(n // 10, -1.5)])
        weights, mus, sigmas = tpe.adaptive_parzen_normal(obs, 1.0, 0.5, 5.0)
        # 0.98: 5.6 floor sigmas from the tight cluster, its window empty; only the bound on the rest holds it
        samples = np.concatenate([rng.normal(0.7, 0.03, 20), [0.7, -1.9, 2.9, 0.98]])
        low, high = (-2.0, 3.0) if bounded else (None, None)
        if log_space:
            samples = np.exp(samples)
        expected = hyperopt_value(log_space, samples, weights, mus, sigmas, low, high, None)
        arguments = (samples, weights, mus, sigmas), {"low": low, "high": high}
        density = choice.Deferred(lgmm1_lpdf if log_space else gmm1_lpdf, log_space, *arguments)
        mixture = choice._Mixture.at(samples, density)
        bounds = choice._binned_bounds(mixture)
        assert bounds is not None  # crowded enough for bins
        lower, upper = bounds
        assert (lower <= expected).all(), (n, (expected - lower).min())
        assert (expected <= upper).all(), (n, (upper - expected).min())
        assert (upper - lower)[:21].max() < 1e-3  # near the crowd: tight enough to tell candidates apart
        checked += len(samples)
    assert checked == 72


@pytest.mark.parametrize("log_space", [False, True])
@pytest.mark.parametrize("skew", [1, -1])
def test_the_binned_bounds_hold_where_every_component_sits_at_the_edge_of_its_bin(log_space, skew):
    """The worst case for the per-bin bounds: every component at an edge of its bin (the largest
    spread of offsets, most of them on one side) and all of them 2.5 to 4.5 sigmas from the
    samples, where the spread weighs most.  There the variance term of the bounds is about 1e-3 of
    the density and the ends of its remainder 1e-5 apart, far above the slack: a bound that drops
    the variance or takes the remainder at the wrong end fails here."""
    rng = np.random.default_rng(5)
    s, n = 0.01, 3000
    samples = np.array([0.0, 0.0001, -0.00015, 0.0002])
    width = s / choice._BINS_PER_SIGMA
    start = samples.min() - choice.REACHES[0] * s - width  # the binned stage's grid
    ring = np.concatenate([np.arange(-4.5 * s, -2.5 * s, width), np.arange(2.5 * s, 4.5 * s, width)])
    centres = start + (np.floor((ring - start) / width) + 0.5) * width
    # In every bin, one in 20 of its components at one edge and the rest at the other: the sum's
    # third-order term, of the sign of ``skew``, puts it near one bound or the other.
    centre = rng.choice(centres, n)
    mus = np.sort(centre + np.where(rng.random(n) < 0.05, -0.499, 0.499) * np.sign(centre) * skew * width)
    weights, sigmas = np.full(n, 1.0 / n), np.full(n, s)
    if log_space:
        samples = np.exp(samples)
    expected = hyperopt_value(log_space, samples, weights, mus, sigmas, None, None, None)
    arguments = (samples, weights, mus, sigmas), {}
    density = choice.Deferred(lgmm1_lpdf if log_space else gmm1_lpdf, log_space, *arguments)
    bounds = choice._binned_bounds(choice._Mixture.at(samples, density))
    assert bounds is not None  # the binned stage is the one checked
    lower, upper = bounds
    assert (lower <= expected).all(), (expected - lower).min()
    assert (expected <= upper).all(), (upper - expected).min()
    assert (upper - lower).max() < 1e-3


def test_a_tie_is_left_to_hyperopts_exact_computation():
    """Two candidates at mirror points of symmetric mixtures score the same in exact arithmetic:
    no bounds can part them, so the exact densities decide, as in hyperopt."""
    weights, mus, sigmas = np.array([0.5, 0.5]), np.array([-1.0, 1.0]), np.array([0.7, 0.7])
    samples = np.array([-0.3, 0.3, -1.0])  # -1.0 sits on a bad trial: out of the running
    below = choice.Deferred(gmm1_lpdf, False, (samples, np.array([1.0]), np.array([0.0]), np.array([2.0])), {})
    above = choice.Deferred(gmm1_lpdf, False, (samples, weights, mus, sigmas), {})
    before = dict(choice.counts)
    picked = choice.broadcast_best(samples, below, above)
    assert choice.counts["exact"] == before["exact"] + 1
    scores = tpe.GMM1_lpdf(samples, [1.0], [0.0], [2.0]) - tpe.GMM1_lpdf(samples, weights, mus, sigmas)
    assert picked == [samples[int(np.argmax(scores))]] * 3 and picked[0] != -1.0


def test_a_clear_winner_is_decided_by_the_bounds():
    weights, mus, sigmas = np.array([0.5, 0.5]), np.array([-1.0, 1.0]), np.array([0.7, 0.7])
    samples = np.array([-0.3, 0.3, 2.5])  # 2.5 is far from the bad trials
    below = choice.Deferred(gmm1_lpdf, False, (samples, np.array([1.0]), np.array([0.0]), np.array([2.0])), {})
    above = choice.Deferred(gmm1_lpdf, False, (samples, weights, mus, sigmas), {})
    before = dict(choice.counts)
    assert choice.broadcast_best(samples, below, above) == [2.5, 2.5, 2.5]
    assert choice.counts["bounded"] == before["bounded"] + 1


SPACE = {
    "u": hp.uniform("u", -5, 5),
    "lu": hp.loguniform("lu", -3, 2),
    "qu": hp.quniform("qu", 0, 20, 0.5),
    "n": hp.normal("n", 0, 2),
    "ln": hp.lognormal("ln", 0, 0.5),
    "qlu": hp.qloguniform("qlu", 0, 4, 1),
    "c": hp.choice("c", ["a", "b", "c"]),
}


def long_history(n: int, seed: int) -> tuple[base.Domain, Trials]:
    domain = base.Domain(lambda p: 0.0, SPACE)
    trials = Trials()
    docs = rand.suggest(list(range(n)), domain, trials, seed)
    rng = np.random.default_rng(seed)
    for doc in docs:
        vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
        loss = (vals["u"] - 1) ** 2 + abs(np.log(vals["lu"])) + abs(vals["qu"] - 7) / 10 + rng.normal(0, 0.1)
        doc["state"] = JOB_STATE_DONE
        doc["result"] = {"status": STATUS_OK, "loss": float(loss)}
    trials.insert_trial_docs(docs)
    trials.refresh()
    return domain, trials


def test_on_a_long_history_the_proposals_are_hyperopts_and_the_bounds_decide():
    domain, trials = long_history(1500, 3)
    before = dict(choice.counts)
    for seed in range(12):
        new_id = [len(trials)]
        theirs = tpe.suggest(new_id, domain, trials, seed)
        ours = fast_tpe.suggest(new_id, domain, trials, seed)
        assert [exact(d) for d in ours] == [exact(d) for d in theirs], seed
    bounded = choice.counts["bounded"] - before["bounded"]
    exact_choices = choice.counts["exact"] - before["exact"]
    # six continuous labels per proposal (the categorical one is hyperopt's own computation)
    assert bounded + exact_choices == 12 * 6
    assert bounded >= 12 * 6 * 0.9, (bounded, exact_choices)


@pytest.mark.parametrize(
    "space",
    [
        {"x": hp.uniform("x", -1e200, 1e200), "y": hp.loguniform("y", -700, 700)},
        {"x": hp.normal("x", 0, 1e-9), "y": hp.qnormal("y", 0, 1e6, 1), "z": hp.lognormal("z", 0, 20)},
    ],
    ids=["huge-ranges", "tiny-and-huge-sigmas"],
)
def test_extreme_spaces_are_hyperopts(space):
    """Ranges whose squares overflow, sigmas near hyperopt's EPS: every proposal is still hyperopt's."""
    from test_tpe_exact import History

    History(space, 4, n_startup_jobs=5, in_flight=2).run(60)


# Adversarial inputs (found by the review of the bounds): each stage, where it gives bounds at all
# (None is always safe: hyperopt's exact computation then decides), must hold hyperopt's float value,
# and the bounded choice must be the index hyperopt's own densities give, never an exception.


def assert_every_stage_holds(log_space, samples, weights, mus, sigmas, low=None, high=None, q=None):
    with np.errstate(all="ignore"):
        expected = hyperopt_value(log_space, samples, weights, mus, sigmas, low, high, q)
    density = deferred(log_space, samples, weights, mus, sigmas, low, high, q)
    stages = {reach: choice.above_bounds(samples, density, reach) for reach in choice.REACHES}
    mixture = choice._Mixture.at(samples, density)
    stages["binned"] = None if mixture is None else choice._binned_bounds(mixture)
    for stage, bounds in stages.items():
        if bounds is None:
            continue
        lower, upper = bounds
        assert not np.isnan(expected).any(), (stage, "hyperopt's value is NaN: no bounds can hold it")
        finite = np.isfinite(expected)
        assert (lower[finite] <= expected[finite]).all(), (stage, (expected - lower)[finite].min())
        assert (expected[finite] <= upper[finite]).all(), (stage, (upper - expected)[finite].min())
        assert (lower[~finite] == -np.inf).all(), stage


def assert_the_choice_is_hyperopts(log_space, samples, above, below, low=None, high=None, q=None):
    """``above``, ``below``: (weights, mus, sigmas) of the two mixtures."""
    lpdf, ours = (tpe.LGMM1_lpdf, lgmm1_lpdf) if log_space else (tpe.GMM1_lpdf, gmm1_lpdf)
    kwargs = {"low": low, "high": high, "q": q}
    deferred = [choice.Deferred(ours, log_space, (samples, *x), kwargs) for x in (below, above)]
    picked = choice._bounded_argmax(samples, *deferred)
    with np.errstate(all="ignore"):
        scores = lpdf(samples, *below, **kwargs) - lpdf(samples, *above, **kwargs)
    assert picked is None or picked == int(np.argmax(scores)), (picked, int(np.argmax(scores)))


def test_mixture_arrays_that_are_views_with_other_strides_are_read_as_they_are():
    """A strided or reversed view is a valid array: the windows must not read the memory around it."""
    rng = np.random.default_rng(0)
    every_other = np.sort(rng.uniform(-5, 5, 400))[::2]
    reversed_view = np.sort(rng.uniform(-5, 5, 200))[::-1].copy()[::-1]  # ascending, stride -8
    weights, sigmas = np.full(200, 1 / 200), np.full(200, 0.05)
    samples = np.array([-4.0, -1.0, 0.3, 2.0, 4.9])
    for mus in (every_other, reversed_view):
        assert_every_stage_holds(False, samples, weights, mus, sigmas)
        assert_every_stage_holds(False, samples, weights, mus, sigmas, q=0.1)
        assert_every_stage_holds(True, np.exp(samples), weights, mus, sigmas)
    assert_every_stage_holds(False, samples, weights, np.sort(every_other), np.repeat(sigmas, 2)[::2])


def test_a_nan_mean_is_left_to_hyperopt():
    """hyperopt's density is NaN for every sample (np.argmax then picks the first one)."""
    samples = np.array([-2.0, -0.5, 0.0, 1.5, 3.0])
    above = (np.full(4, 0.25), np.array([-1.0, 0.0, 1.0, np.nan]), np.full(4, 0.5))
    assert_the_choice_is_hyperopts(False, samples, above, (np.array([1.0]), np.array([0.0]), np.array([3.0])))
    assert_every_stage_holds(False, samples, *above)


def test_a_component_on_the_left_edge_of_the_binned_window_is_counted():
    """A component exactly ``reach`` floor sigmas left of the lowest sample, with a floor whose bin
    width ``w`` has ``w * (1 / w) < 1``: its bin is one left of the sample's first bin, and as it lies
    within reach, the bound on the components beyond reach does not count it either."""
    floor = 49 / 64  # width = 49 / 4096, and 49 * (1 / 49) < 1
    crowd = np.sort(np.random.default_rng(1).uniform(20.0, 20.5, 3000))
    mus = np.concatenate([[0.0 - choice.REACHES[0] * floor], crowd])
    weights, sigmas = np.full(len(mus), 1 / len(mus)), np.full(len(mus), floor)
    samples = np.array([0.0, 20.2, 20.3])
    assert_every_stage_holds(False, samples, weights, mus, sigmas)
    below = (np.array([1.0]), np.array([20.25]), np.array([2.6]))
    assert_the_choice_is_hyperopts(False, samples, (weights, mus, sigmas), below)


@pytest.mark.parametrize("shift", [1e9, 1e11])
def test_the_binned_bounds_hold_on_a_crowded_history_far_from_zero(shift):
    """A crowded history of values near ``shift`` (a floor sigma of 0.05): the distances from a
    sample to the bins' centres must not carry the rounding of the centres' positions (ulp(shift))."""
    rng = np.random.default_rng(0)
    obs = np.concatenate([rng.choice(rng.normal(0.7, 0.05, 40), 5000), rng.uniform(-2, 3, 500)]) + shift
    weights, mus, sigmas = tpe.adaptive_parzen_normal(obs, 1.0, 0.5, 5.0)
    samples = np.concatenate([rng.choice(obs, 10) + rng.normal(0, 0.01, 10), rng.choice(obs, 10), [shift + 0.7]])
    assert_every_stage_holds(False, samples, weights, mus, sigmas)


def test_log_normal_samples_near_the_smallest_float():
    """``LGMM1_lpdf`` computes ``sigma * x * sqrt(2 pi)``: for x near 1e-320 the product is subnormal
    (a few 1e-4 off) or 0, and hyperopt's value moves with it: bounds on the exact density miss it."""
    rng = np.random.default_rng(0)
    obs = rng.uniform(-745, -720, 200)
    weights, mus, sigmas = tpe.adaptive_parzen_normal(obs, 1.0, 0.5, 25.0)
    samples = np.exp(rng.uniform(-745, -720, 20))
    assert_every_stage_holds(True, samples, weights, mus, sigmas)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        obs = rng.uniform(-745.0, -725.0, int(rng.integers(5, 300)))
        above = tpe.adaptive_parzen_normal(obs, 1.0, 0.5, 20.0)
        below = tpe.adaptive_parzen_normal(rng.choice(obs, 5), 1.0, 0.5, 20.0)
        draws = rng.choice(below[1], 24) + rng.normal(0, 1, 24) * rng.choice(below[2], 24)
        assert_the_choice_is_hyperopts(True, np.exp(np.clip(draws, -745.0, -725.0)), above, below)


def test_a_search_over_log_uniform_values_near_the_smallest_float_is_hyperopts():
    from test_tpe_exact import History

    History({"y": hp.loguniform("y", -745, -725)}, 1, n_startup_jobs=5).run(10)


@pytest.mark.parametrize(
    "samples, above, low, high",
    [
        # a tiny weight far away and a weight 0 at the sample: the bound on the components beyond
        # reach (peaks times e**-(d**2 / 2), summed as they are, not in logs) underflows to 0
        ([0.0, 30.0], ([0.0, 1e-300], [0.0, 30.0], [1.0, 1.0]), None, None),
        # a tiny weight and a huge sigma: hyperopt's weight / Z is subnormal, its log a few 1e-5 off
        ([0.0, 1e19, 5e19], ([1e-300, 1e-300], [0.0, 5.0], [3e19, 1e19]), None, None),
        # peaks near the float limit whose sum overflows (hyperopt sums in logs: finite)
        ([0.0, 0.5, 3.0, 10.0], ([6e307, 6e307], [0.0, 1.0], [0.25, 0.25]), None, None),
        # all the mass outside [low, high]: hyperopt's p_accept is 0, its density NaN everywhere
        ([0.0, 0.5, 1.0, 3.0], ([0.5, 0.5], [0.0, 1.0], [0.1, 0.1]), 40.0, 41.0),
    ],
    ids=["tail-underflow", "subnormal-coefficient", "peaks-summing-to-inf", "p_accept-zero"],
)
@pytest.mark.parametrize("log_space", [False, True], ids=["normal", "log-normal"])
def test_hand_made_mixtures_at_the_float_limits(samples, above, low, high, log_space):
    samples, above = np.array(samples), tuple(np.array(x) for x in above)
    if log_space:
        samples = np.exp(samples / np.abs(samples).max() * 5)  # (the same mixture, read at positive samples)
    below = (np.array([1.0]), np.array([above[1][-1]]), np.array([0.5]))
    assert_the_choice_is_hyperopts(log_space, samples, above, below, low, high)
    assert_every_stage_holds(log_space, samples, *above, low, high)


@pytest.mark.parametrize("seed", range(20))
def test_sums_before_the_band_edges_are_the_running_sums(seed):
    """The far components' bounds read sums of the components before each band's edge; ends in any
    order, repeated, at 0 and past the last component give what a running sum gives."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 2, 5, 300]))
    weights = rng.random(n) * rng.choice([1.0, 1e-30], n)
    mus, sigmas = np.sort(rng.normal(size=n)), np.full(n, 0.1)
    if n > 2:
        sigmas[rng.integers(n)] = 5.0  # a wide component: counted as no mass
    components = choice._Components(weights, mus, sigmas, (0.0, 0.0, weights.sum()), (0.1, sigmas.max()))
    ends = rng.integers(0, n + 1, size=(10, 7))
    ends[0, :2] = (0, n)
    ends[1] = ends[2]
    sums, total = components.sums_before(0.1, "weights", ends)
    narrow = np.where(sigmas > 0.1, 0.0, weights)
    running = np.concatenate(([0.0], np.cumsum(narrow)))
    np.testing.assert_allclose(sums, running[ends], rtol=1e-12, atol=1e-300)
    assert total == pytest.approx(running[-1], rel=1e-12)
