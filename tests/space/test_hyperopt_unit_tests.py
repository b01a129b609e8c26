"""hyperopt 0.3.0's own unit tests of fmin, run against ``resumable_opt.fmin`` on a checkpoint.

The tests ship inside the installed hyperopt (``hyperopt/tests/unit``).  Each
of the modules below looks ``fmin`` up in its own globals when a test runs, so
putting our ``fmin`` there (injection, not a mock: the real search runs) makes
every call of those tests a search on a fresh checkpoint.  The fixture counts
the calls, checks that each one made its checkpoint and holds every trial the
test's Trials object holds, and fails a test that made no call at all.

Selected: every test class of the three modules that calls fmin (the others
test TPE's maths and never reach fmin).  Two tests run only with
``RESUMABLE_OPT_SLOW_TESTS=1``, for run time on a shared machine:
``gauss_wave2Tester`` of test_domains (5000 evaluations: 59 s here) and
``TestOpt.test_quadratic1`` of test_tpe (1000 TPE evaluations, twice: 28 s);
both pass, and the domains they use run in other tests of this module.
"""

from __future__ import annotations

import functools
import os

import pytest
from hyperopt import Trials

import resumable_opt

try:
    from hyperopt.tests.unit import test_anneal, test_domains, test_tpe
except ImportError as exc:  # hyperopt 0.2.7's own tests import nose, which is not installed
    pytest.skip(f"hyperopt's own unit tests cannot be imported here: {exc}", allow_module_level=True)

INJECTED_INTO = (test_anneal, test_domains, test_tpe)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def our_fmin(tmp_path, monkeypatch):
    calls: list[dict] = []

    @functools.wraps(resumable_opt.fmin)
    def fmin(*args, **kwargs):
        checkpoint = tmp_path / f"call{len(calls)}.ckpt"
        assert not checkpoint.exists()
        trials = kwargs.get("trials")
        if trials is None:
            kwargs["trials"] = trials = Trials()
        result = resumable_opt.fmin(*args, checkpoint=checkpoint, **kwargs)
        calls.append({"checkpoint": checkpoint, "trials": trials})
        return result

    for module in INJECTED_INTO:
        monkeypatch.setattr(module, "fmin", fmin)
    yield calls
    assert calls, "the test never called fmin: it did not exercise resumable_opt.fmin"
    for call in calls:
        state = resumable_opt.load(call["checkpoint"])
        assert state.n_trials == len(call["trials"].trials) > 0
        assert [doc["tid"] for doc in state.trials.trials] == [doc["tid"] for doc in call["trials"].trials]


# test_anneal: every test calls fmin.
TestAnnealRuns = test_anneal.TestItJustRuns
TestAnnealWorks = test_anneal.TestItAtLeastSortOfWorks


# test_tpe: the test classes that call fmin.
TestTpeSuggest = test_tpe.TestSuggest
TestTpeSuggestAtpe = test_tpe.TestSuggestAtpe
TestTpeOptQUniform = test_tpe.TestOptQUniform


VERY_SLOW = pytest.mark.skipif(
    not os.environ.get("RESUMABLE_OPT_SLOW_TESTS"), reason="very slow: set RESUMABLE_OPT_SLOW_TESTS=1"
)


class TestTpeOpt(test_tpe.TestOpt):
    @VERY_SLOW
    def test_quadratic1(self):
        super().test_quadratic1()


# test_domains: one class per domain, 500 evaluations of rand.suggest each.
TestDomainQuadratic1 = test_domains.quadratic1Tester
TestDomainQ1Lognormal = test_domains.q1_lognormalTester
TestDomainQ1Choice = test_domains.q1_choiceTester
TestDomainNArms = test_domains.n_armsTester
TestDomainDistractor = test_domains.distractorTester
TestDomainGaussWave = test_domains.gauss_waveTester
TestDomainManyDists = test_domains.many_distsTester
TestDomainBranin = test_domains.braninTester
TestDomainGaussWave2 = VERY_SLOW(test_domains.gauss_wave2Tester)
