"""``resumable_opt.space.decode``: what the parameters of a trial are, computed without running the space."""

from __future__ import annotations

import hyperopt
import numpy as np
import pytest
from hyperopt import Trials, hp, rand, space_eval
from hyperopt.pyll import scope
from hyperopt.tests.unit import test_domains

from counting_space import Counter, make_space
from dropin_spaces import SPACES
from resumable_opt.space import active_values, check_point, decode, decoder

PURE_DOMAINS = ["quadratic1", "q1_choice", "distractor", "gauss_wave", "many_dists", "branin"]


def sampled_vals(space, n=40):
    """The misc vals of ``n`` random trials of ``space`` (hyperopt runs the space to make them)."""
    trials = Trials()
    hyperopt.fmin(
        lambda _: 0.0, space, rand.suggest, n, trials=trials, rstate=np.random.default_rng(0), show_progressbar=False
    )
    return [doc["misc"]["vals"] for doc in trials.trials]


@pytest.mark.parametrize("name", [*SPACES, *PURE_DOMAINS])
def test_a_space_that_computes_nothing_of_its_own_decodes_as_space_eval(name):
    """Only structure and hyperopt's own arithmetic: the point is exactly what the objective receives."""
    space = SPACES[name]() if name in SPACES else getattr(test_domains, name)().expr
    assert not decoder(space).computes
    for vals in sampled_vals(space):
        assert decode(space, vals) == space_eval(space, active_values(vals))


def test_a_space_with_its_own_functions_decodes_label_by_label_without_calling_them(tmp_path):
    counter = Counter(tmp_path / "calls")
    space = make_space(counter)
    assert decoder(space).computes
    assert decode(space, {"a": [0.25], "b": [0], "c": []}) == {"a": 0.25, "b": 1.0}
    assert decode(space, {"a": [0.25], "b": [1], "c": [0.5]}) == {
        "a": 0.25,
        "b": "option 1, computed: counted_double(float(<c>), Counter())",
        "c": 0.5,
    }
    assert counter.calls() == 0


def test_options_are_built_from_structure_and_computed_parts_read_as_their_expression():
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    space = {
        "model": hp.choice(
            "model",
            [
                {"kind": "svm", "C": hp.lognormal("C", 0, 1), "noise": scope.normal(0, 1, rng=rng)},
                {
                    "kind": "tree",
                    "depth": scope.int(hp.quniform("depth", 1, 9, 1)),
                    "width": 2 ** hp.uniform("w", 0, 3),
                },
            ],
        ),
        "n": hp.randint("n", 5),
        "arm": hp.pchoice("arm", [(0.5, "left"), (0.5, scope.normal(1, 1, rng=rng))]),
    }
    decoded = decode(space, {"model": [0], "C": [1.5], "depth": [], "w": [], "n": [np.int64(3)], "arm": [0]})
    assert decoded == {
        "C": 1.5,
        "model": {"C": 1.5, "kind": "svm", "noise": "computed: normal(0, 1, rng=Generator(PCG64))"},
        "n": 3,
        "arm": "left",
    }
    assert type(decoded["n"]) is int
    decoded = decode(space, {"model": [1], "C": [], "depth": [4.0], "w": [1.0], "n": [0], "arm": [1]})
    assert decoded["model"] == {"depth": 4, "kind": "tree", "width": 2.0}  # hyperopt's arithmetic is computed
    assert decoded["arm"] == "option 1, computed: normal(1, 1, rng=Generator(PCG64))"
    assert rng.bit_generator.state == before  # the space's own random node never drew


def test_hyperopts_test_domains_with_their_own_random_node():
    n_arms, gauss_wave2 = test_domains.n_arms().expr, test_domains.gauss_wave2().expr
    assert decode(n_arms, {"x": [1]}) == {"x": 1}
    decoded = decode(gauss_wave2, {"hf": [1], "x": [1.5], "amp": [0.25]})
    assert decoded["x"] == 1.5 and decoded["amp"] == 0.25
    assert decoded["hf"].startswith("option 1, computed: add(add(normal(0, 0.1, rng=Generator(PCG64))")
    assert len(decoded["hf"]) == len("option 1, computed: ") + 80 and decoded["hf"].endswith("...")  # cut


def test_points_that_do_not_fit_are_refused_without_running_anything(tmp_path):
    counter = Counter(tmp_path / "calls")
    space = make_space(counter)
    check_point(space, {"a": [0.5], "b": [1], "c": [0.5]})
    check_point(space, {"a": 0.5, "b": 0})  # a point, as add_points takes it
    with pytest.raises(IndexError, match="'b' is 2: not the index of one of its 2 options"):
        check_point(space, {"a": 0.5, "b": 2})
    with pytest.raises(ValueError, match="no value for the label 'c'"):
        check_point(space, {"a": 0.5, "b": 1})
    with pytest.raises(ValueError, match="no value for the label 'a'"):
        check_point(space, {"b": 0})
    with pytest.raises(IndexError):
        decode(space, {"a": 0.5, "b": 1.5})
    assert counter.calls() == 0
