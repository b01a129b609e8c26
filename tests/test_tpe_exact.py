"""resumable_opt.tpe.suggest proposes exactly hyperopt.tpe.suggest's points.

Each test grows a history step by step and, at every step, asks both
hyperopt's ``tpe.suggest`` and ours for a proposal on the very same
``Trials`` (ours keeps its state between the calls, as in a search), and
compares the two documents bit for bit: every value with its type and the
bits of its float.  The histories have what searches see: failed trials
(``fail`` status, error state, NaN loss), trials brought in from elsewhere
(other ids, out of order, ints for floats), trials finishing out of order
with several in flight, tied losses, a resumed search's fresh ``Trials``.
"""

from __future__ import annotations

import functools
import math
import pickle

import numpy as np
import pytest
from hyperopt import JOB_STATE_DONE, JOB_STATE_ERROR, STATUS_FAIL, STATUS_OK, Trials, base, hp, rand, tpe
from hyperopt.pyll import scope

from resumable_opt import tpe as fast_tpe
from resumable_opt.tpe import densities as tpe_densities
from resumable_opt.tpe import history as tpe_history
from resumable_opt.tpe import posterior as tpe_posterior

SPACES = {
    "uniform": lambda: {"a": hp.uniform("a", -2, 3)},
    "quniform": lambda: {"a": hp.quniform("a", 0, 10, 2), "b": hp.quniform("b", -1, 1, 0.25)},
    "uniformint": lambda: {"a": hp.uniformint("a", 1, 8)},
    "loguniform": lambda: {"a": hp.loguniform("a", -3, 1)},
    "qloguniform": lambda: {"a": hp.qloguniform("a", 0, 3, 1)},
    "normal": lambda: {"a": hp.normal("a", 0, 1)},
    "qnormal": lambda: {"a": hp.qnormal("a", 5, 2, 1)},
    "lognormal": lambda: {"a": hp.lognormal("a", 0, 0.5)},
    "qlognormal": lambda: {"a": hp.qlognormal("a", 1, 0.5, 1)},
    "choice": lambda: {"a": hp.choice("a", ["x", "y", None]), "u": hp.uniform("u", 0, 1)},
    "pchoice": lambda: {"a": hp.pchoice("a", [(0.2, 1.5), (0.5, -2.0), (0.3, 0.0)])},
    "randint": lambda: {"a": hp.randint("a", 6), "b": hp.randint("b", 3, 9)},
    "nested": lambda: {
        "model": hp.choice(
            "model",
            [
                {
                    "type": "svm",
                    "C": hp.lognormal("C", 0, 1),
                    "kernel": hp.choice("kernel", [("linear",), ("rbf", hp.uniform("g", 0, 1))]),
                },
                {"type": "tree", "depth": scope.int(hp.quniform("depth", 1, 10, 1)), "h": hp.uniform("h", 0, 4) / 2},
            ],
        ),
        "layers": [hp.uniform("l0", 0, 1), (hp.choice("l1", [1, 2]), 3)],
    },
    "shared_label": lambda: shared_label(hp.uniform("x", 0, 1)),
    "scope": lambda: {
        "s": scope.exp(hp.uniform("s", 0, 1)) + scope.int(hp.qloguniform("t", 0, 2, 1)),
        "m": scope.minimum(hp.normal("m", 0, 2), 1),
    },
}


def test_what_hyperopt_refuses_is_refused_alike():
    """A distribution whose argument is another hyperparameter: hyperopt's TPE fails on it (once past the
    start-up trials), and so does ours, with the same error."""
    space = {"a": hp.uniform("a", 0, 1), "b": hp.uniform("b", 0, 2 + hp.uniform("c", 0, 1))}
    with pytest.raises(TypeError):
        History(space, 0, n_startup_jobs=5).run(10)


def shared_label(x):
    """One hyperparameter in two branches of a choice."""
    return {"a": hp.choice("a", [{"x": x}, {"x": x, "y": hp.normal("y", 0, 1)}]), "z": x}


def objective(rng_value: float):
    return rng_value


def as_bits(value):
    """A value as something ``==`` compares bit for bit, with its type."""
    if isinstance(value, (float, np.floating)):
        return (type(value).__name__, np.float64(value).tobytes())
    return (type(value).__name__, value)


def exact(doc: dict) -> tuple:
    misc = doc["misc"]
    return (
        doc["tid"],
        {k: list(v) for k, v in misc["idxs"].items()},
        {k: [as_bits(v) for v in vs] for k, vs in misc["vals"].items()},
        misc["tid"],
    )


class History:
    """A history grown the way runners grow one, for both algorithms at once."""

    def __init__(self, space, seed: int, *, in_flight: int = 1, refresh: bool = True, **params) -> None:
        self.domain = base.Domain(objective, space)
        self.trials = Trials()
        self.rng = np.random.default_rng(seed)
        self.in_flight = in_flight
        self.refresh = refresh
        self.params = params
        self.pending: list[dict] = []
        self.compared = 0

    def both(self, seed: int) -> list[dict]:
        new_id = self.trials.new_trial_ids(1)
        try:
            theirs = tpe.suggest(new_id, self.domain, self.trials, seed, **self.params)
        except Exception as exc:  # hyperopt cannot: neither can we, the same way
            with pytest.raises(type(exc)) as ours_failed:
                fast_tpe.suggest(new_id, self.domain, self.trials, seed, **self.params)
            assert str(ours_failed.value) == str(exc)
            raise
        ours = fast_tpe.suggest(new_id, self.domain, self.trials, seed, **self.params)
        assert [exact(d) for d in ours] == [exact(d) for d in theirs], (len(self.trials), seed)
        self.compared += 1
        return ours

    def add(self, docs: list[dict]) -> None:
        self.trials.insert_trial_docs(docs)
        if self.refresh:
            self.trials.refresh()
        else:  # the runner's way: the same list, grown in place
            self.trials._trials.extend(self.trials._dynamic_trials[-len(docs) :])

    def loss(self, doc: dict) -> dict:
        roll = self.rng.random()
        if roll < 0.05:
            return {"status": STATUS_FAIL}
        if roll < 0.08:
            return {"status": STATUS_OK, "loss": float("nan")}
        vals = [v for vs in doc["misc"]["vals"].values() for v in vs]
        loss = sum(abs(float(v) - 0.3) for v in vals) + self.rng.normal(0, 0.1)
        if roll < 0.3:
            loss = round(loss, 1)  # ties
        return {"status": STATUS_OK, "loss": loss}

    def finish_one(self) -> None:
        doc = self.pending.pop(int(self.rng.integers(len(self.pending))))
        if self.rng.random() < 0.05:
            doc["state"] = JOB_STATE_ERROR  # leaves trials.trials at the next refresh
            doc["result"] = {"status": STATUS_FAIL}
            if not self.refresh:
                self.trials._trials.remove(doc)
        else:
            doc["state"] = JOB_STATE_DONE
            doc["result"] = self.loss(doc)
        if self.refresh:
            self.trials.refresh()

    def step(self) -> None:
        docs = self.both(int(self.rng.integers(2**31 - 1)))
        self.add(docs)
        self.pending.extend(docs)
        while len(self.pending) >= self.in_flight:
            self.finish_one()

    def run(self, n: int) -> None:
        for _ in range(n):
            self.step()


def imported(space, n: int, seed: int) -> list[dict]:
    """Trials brought in from elsewhere: ids out of order, some ints for floats, finished."""
    domain = base.Domain(objective, space)
    trials = Trials()
    docs = rand.suggest(list(range(n)), domain, trials, seed)
    rng = np.random.default_rng(seed)
    tids = [int(t) for t in rng.permutation(np.arange(100, 100 + 3 * n, 3))[:n]]
    for doc, tid in zip(docs, tids, strict=True):
        misc = doc["misc"]
        doc["tid"] = misc["tid"] = tid
        for label, idxs in misc["idxs"].items():
            if idxs:
                misc["idxs"][label] = [tid]
                value = misc["vals"][label][0]
                if isinstance(value, float) and rng.random() < 0.2:
                    value = round(value)  # an int where hyperopt would put a float
                misc["vals"][label] = [value]
        doc["state"] = JOB_STATE_DONE
        doc["result"] = {"status": STATUS_OK, "loss": float(rng.random())}
    return docs


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_every_proposal_is_hyperopts(kind):
    for seed in (0, 1):
        history = History(SPACES[kind](), seed, n_startup_jobs=5, in_flight=1 + 3 * seed, refresh=bool(seed))
        history.run(80)
        assert history.compared == 80


@pytest.mark.parametrize("kind", ["nested", "quniform", "pchoice", "randint"])
def test_imported_trials_and_a_resumed_trials_object(kind):
    space = SPACES[kind]()
    history = History(space, 3, n_startup_jobs=10, in_flight=4)
    history.add(imported(space, 30, 3))
    history.run(40)
    # a resumed search reads the same trials into a new Trials object
    history.trials = pickle.loads(pickle.dumps(history.trials))
    history.pending = [d for d in history.trials._dynamic_trials if d["state"] not in (JOB_STATE_DONE, JOB_STATE_ERROR)]
    history.run(40)


def test_many_seeds_on_a_long_history():
    history = History(SPACES["nested"](), 11, in_flight=8)
    history.run(220)
    for seed in range(30):
        history.both(seed)


@pytest.mark.parametrize(
    "params",
    [
        {"gamma": 0.5, "n_EI_candidates": 7, "prior_weight": 0.5},
        {"n_startup_jobs": 0},
        {"n_EI_candidates": 1, "gamma": 0.1},
        {"verbose": False, "n_startup_jobs": 3},
    ],
)
def test_parameters_as_hyperopts(params):
    History(SPACES["nested"](), 5, in_flight=2, **params).run(60)


def hyperopts_with_linear_forgetting(history: History, seeds: range, lf: int) -> list:
    """hyperopt's proposals (``exact``) with its forgetting functions' default ``LF`` set to ``lf``."""
    patched = [tpe.adaptive_parzen_normal, tpe.ap_categorical_sampler, tpe.ap_randint_sampler]
    defaults = [f.__defaults__ for f in patched]
    try:
        for f in patched:
            f.__defaults__ = f.__defaults__[:-1] + (lf,)
        return [exact(tpe.suggest([999], history.domain, history.trials, s, n_startup_jobs=5)[0]) for s in seeds]
    finally:
        for f, d in zip(patched, defaults, strict=True):
            f.__defaults__ = d


def test_linear_forgetting_is_hyperopts_with_that_constant():
    """hyperopt 0.3 always forgets with 25: with another value, ours matches
    hyperopt with its forgetting functions' defaults set to that value."""
    space = SPACES["nested"]()
    history = History(space, 9, n_startup_jobs=5, in_flight=1)
    history.run(60)
    seeds = range(10)
    theirs = hyperopts_with_linear_forgetting(history, seeds, 7)
    ours = [
        exact(fast_tpe.suggest([999], history.domain, history.trials, s, n_startup_jobs=5, linear_forgetting=7)[0])
        for s in seeds
    ]
    plain = [exact(fast_tpe.suggest([999], history.domain, history.trials, s, n_startup_jobs=5)[0]) for s in seeds]
    assert ours == theirs
    assert ours != plain
    at_25 = [
        exact(fast_tpe.suggest([999], history.domain, history.trials, s, n_startup_jobs=5, linear_forgetting=25)[0])
        for s in seeds
    ]
    assert at_25 == plain
    with pytest.raises(ValueError, match="linear_forgetting"):
        fast_tpe.suggest([999], history.domain, history.trials, 0, linear_forgetting=0)


def test_unusual_trials_are_read_as_hyperopt_reads_them():
    """from_tid groups and repeated ids take hyperopt's own loops, with the same result."""
    space = SPACES["nested"]()
    history = History(space, 4, n_startup_jobs=5)
    history.run(30)
    copy = pickle.loads(pickle.dumps(history.trials._dynamic_trials[3]))
    copy["misc"]["from_tid"] = copy["tid"]
    copy["tid"] = copy["misc"]["tid"] = 10_000
    copy["misc"]["idxs"] = {k: [10_000] if v else [] for k, v in copy["misc"]["idxs"].items()}
    copy["result"] = {"status": STATUS_OK, "loss": -5.0}
    history.add([copy])
    history.run(10)


def test_a_finished_trials_result_replaced_is_read_again():
    """A result object replaced after its trial finished (a loss corrected by hand) is seen at the
    next call after ``trials.refresh()`` (hyperopt's fmin calls it at every evaluation), whether
    the list was rebuilt at every change or grown in place (the runner's way, which never replaces
    a finished trial's result: there no call looks at every result)."""
    for refresh in (True, False):
        history = History(SPACES["nested"](), 12, n_startup_jobs=5, refresh=refresh)
        history.run(40)
        trials = history.trials.trials
        finished = [d for d in trials if d["state"] == JOB_STATE_DONE and d["result"].get("loss") is not None]
        finished[3]["result"] = {"status": STATUS_OK, "loss": -100.0}  # the best now, by far
        history.trials.refresh()
        before = [exact(d) for d in history.both(7)]
        finished[5]["result"] = {"status": STATUS_OK, "loss": -200.0}
        history.trials.refresh()
        assert [exact(d) for d in history.both(7)] != before  # (both() checks ours against hyperopt's)
        history.run(5)


def test_a_result_written_after_the_state_is_read_when_it_arrives():
    """hyperopt's fmin (and SparkTrials) mark a trial done, then write its result: a call between the
    two writes, on a list grown in place, must not take the placeholder for the trial's result."""
    for in_flight in (2, 4):
        history = History(SPACES["nested"](), 12, n_startup_jobs=5, in_flight=in_flight, refresh=False)
        history.run(40)
        doc = history.pending.pop(0)
        doc["state"] = JOB_STATE_DONE
        history.both(7)
        doc["result"] = {"status": STATUS_OK, "loss": -100.0}  # the best by far: the proposals follow it
        history.both(8)  # (both() checks ours against hyperopt's)
        history.run(5)


def test_tied_losses_at_the_edge_of_the_good_trials_split_as_hyperopt():
    """Which of equal losses count as good is up to argsort's order: ours must take hyperopt's."""
    history = History(SPACES["nested"](), 13, n_startup_jobs=5)
    history.run(30)
    for doc in history.trials.trials:
        if doc["result"].get("loss") is not None:
            doc["result"] = {"status": STATUS_OK, "loss": round(doc["result"]["loss"], 0)}
    history.run(20)


def test_a_trial_without_an_inactive_label_as_hyperopt():
    """A document whose misc lacks a label it does not use: hyperopt's TPE proposes at random during
    the start-up trials, then fails on it with a KeyError; so does ours."""
    history = History(SPACES["nested"](), 6, n_startup_jobs=8)
    history.run(3)
    doc = pickle.loads(pickle.dumps(history.trials._dynamic_trials[0]))
    doc["tid"] = doc["misc"]["tid"] = 50
    doc["misc"]["idxs"] = {label: [50] if idxs else [] for label, idxs in doc["misc"]["idxs"].items()}
    for vals in (doc["misc"]["idxs"], doc["misc"]["vals"]):
        for label in [label for label, idxs in doc["misc"]["idxs"].items() if not idxs]:
            del vals[label]
    history.add([doc])
    history.run(4)
    with pytest.raises(KeyError):
        history.run(2)


def test_used_in_hyperopt_fmin_gives_fmins_trials():
    from hyperopt import fmin

    runs = []
    for algo in (tpe.suggest, fast_tpe.suggest, functools.partial(fast_tpe.suggest, n_startup_jobs=4, gamma=0.3)):
        if isinstance(algo, functools.partial):
            runs.append(None)
            algo_h = functools.partial(tpe.suggest, n_startup_jobs=4, gamma=0.3)
            trials_h, trials_o = Trials(), Trials()
            fmin(
                lambda p: p["a"] ** 2,
                {"a": hp.uniform("a", -1, 1)},
                algo_h,
                40,
                trials=trials_h,
                rstate=np.random.default_rng(2),
                show_progressbar=False,
            )
            fmin(
                lambda p: p["a"] ** 2,
                {"a": hp.uniform("a", -1, 1)},
                algo,
                40,
                trials=trials_o,
                rstate=np.random.default_rng(2),
                show_progressbar=False,
            )
            assert [exact(d) for d in trials_o] == [exact(d) for d in trials_h]
            continue
        trials = Trials()
        fmin(
            lambda p: math.sin(3 * p["a"]),
            {"a": hp.uniform("a", -1, 1)},
            algo,
            50,
            trials=trials,
            rstate=np.random.default_rng(1),
            show_progressbar=False,
        )
        runs.append([exact(d) for d in trials])
    assert runs[0] == runs[1]


def test_fast_equivalent():
    assert fast_tpe.fast_equivalent(tpe.suggest) is fast_tpe.suggest
    swapped = fast_tpe.fast_equivalent(functools.partial(tpe.suggest, gamma=0.3, n_EI_candidates=5))
    assert swapped.func is fast_tpe.suggest and swapped.keywords == {"gamma": 0.3, "n_EI_candidates": 5}
    assert fast_tpe.fast_equivalent(rand.suggest) is rand.suggest
    odd = functools.partial(tpe.suggest, linear_forgetting=3)  # hyperopt refuses it; so do we, the same way
    assert fast_tpe.fast_equivalent(odd) is odd


def test_work_per_proposal_does_not_grow_with_the_history():
    """Counted, not timed: over a search with trials in flight, failures and
    re-reads, each trial document is read a bounded number of times (hyperopt
    reads all of them at every call), and the posterior is compiled once."""
    history = History(SPACES["nested"](), 21, n_startup_jobs=5, in_flight=6, refresh=False)
    history.both = lambda seed: fast_tpe.suggest(
        history.trials.new_trial_ids(1), history.domain, history.trials, seed, n_startup_jobs=5
    )
    history.run(400)
    kept = tpe_history.HISTORIES[history.trials]
    assert not kept.irregular
    # each document is read when it arrives, when its result arrives, and once
    # more for each error-state trial that left the list before it (rare); the
    # results are all looked at once, at the first call (the list is never rebuilt)
    assert kept.reads < 3 * 400
    models = tpe_posterior.MODELS[history.domain]
    assert len(models) == 1 and isinstance(next(iter(models.values())), tpe_posterior.Model)


@pytest.mark.parametrize("q", [None, 0.5])
@pytest.mark.parametrize("low_high", [(None, None), (0.0, 3.0)])
def test_mixture_densities_are_hyperopts_to_the_bit(low_high, q):
    rng = np.random.default_rng(0)
    low, high = low_high
    for n in (1, 2, 50, 300, 3000):
        if q is not None and n > 300:
            continue  # hyperopt's own loop is slow
        weights = rng.random(n)
        weights /= weights.sum()
        mus, sigmas = rng.uniform(0, 3, n), rng.uniform(0.01, 2, n)
        samples = rng.uniform(0.2, 3, 24)
        if q is not None:
            samples = np.round(samples / q) * q
        for theirs, ours in ((tpe.GMM1_lpdf, tpe_densities.gmm1_lpdf), (tpe.LGMM1_lpdf, tpe_densities.lgmm1_lpdf)):
            expected = theirs(samples, weights, mus, sigmas, low=low, high=high, q=q)
            for _ in range(2):  # the second time in the kept scratch arrays
                got = ours(samples, weights, mus, sigmas, low=low, high=high, q=q)
                assert got.tobytes() == expected.tobytes() and got.shape == expected.shape


@pytest.mark.parametrize(
    "args",
    [
        ([3, 5, 9],),
        ([5, 3, 9],),
        ([3, 3, 9],),
        ([],),
        ([7],),
        ([2**62, 2**63 - 1],),
        ([2**63, 2**64],),
        ([np.int64(3), 5],),
        ([1.0, 2.0],),
        ([True, 2],),
        (np.array([3, 5, 9]),),
        (np.array([9, 5, 3]),),
        (np.array([3, 3]),),
        (np.array([], dtype=np.int64),),
        (np.array([1.5, 2.5]),),
        (np.array([[1, 2]]),),
        ([3, 5], [4, 5]),
        (np.array([3, 5]), [1]),
    ],
)
def test_array_union_is_hyperopts(args):
    try:
        theirs = scope._impls["array_union"](*args)
    except Exception as error:  # (what hyperopt refuses, ours refuses alike)
        with pytest.raises(type(error)):
            tpe_posterior.array_union(*args)
        return
    ours = tpe_posterior.array_union(*args)
    assert type(ours) is type(theirs) and ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert ours.tobytes() == theirs.tobytes()
    assert all(ours is not arg for arg in args)  # a new array, as hyperopt's


def test_a_graph_an_instruction_returns_is_evaluated_as_rec_eval_does():
    """randint_via_categorical returns a categorical call to evaluate: made directly, it draws what
    rec_eval's evaluation draws; any other graph is rec_eval's."""
    from hyperopt.pyll import as_apply, rec_eval

    p = np.array([0.2, 0.5, 0.3])
    rng_node = as_apply(np.random.default_rng(0))  # (its value in the memo is the one read)
    returned = scope._impls["randint_via_categorical"](p, rng_node, 7)
    nested = scope.categorical(scope.mul(as_apply(p), 1.0), rng_node, 7)
    switch = scope.switch(as_apply(1), as_apply("a"), as_apply("b"))
    for graph in (returned, nested, switch):
        seeded = {rng_node: np.random.default_rng(5)}
        theirs = rec_eval(graph, memo=seeded)
        seeded = {rng_node: np.random.default_rng(5)}
        ours = tpe_posterior._evaluate_returned(graph, seeded)
        assert type(ours) is type(theirs) and np.array_equal(ours, theirs)
