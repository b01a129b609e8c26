"""The history's good/bad split is ``ap_split_trials``', bit for bit, at every step.

The split keeps state between calls (the good trials of the last call, the
trials touched since); these tests change the trials the ways that state must
follow (a new trial among the good ones, a result replaced so that an old
trial leaves or enters them, ties at the last good loss, NaN losses, trials
gone from the list, reordered, out of tid order) and compare, after every
change, our split with the one hyperopt's ``suggest`` makes (its own loop over
the trials and its ``ap_split_trials``), and our proposals with hyperopt's.
"""

from __future__ import annotations

import numpy as np
import pytest
from hyperopt import JOB_STATE_DONE, STATUS_OK, Trials, base, hp, rand, tpe

from resumable_opt import tpe as fast_tpe
from resumable_opt.tpe import history as tpe_history
from resumable_opt.tpe.posterior import model_for

SPACE = {"x": hp.uniform("x", -5, 5), "y": hp.loguniform("y", -3, 2), "c": hp.choice("c", ["a", "b", "c"])}
#: Labels active in some trials only.
NESTED = {
    "m": hp.choice("m", [{"a": hp.uniform("a", 0, 1)}, {"b": hp.normal("b", 0, 1), "q": hp.quniform("q", 0, 9, 1)}]),
    "z": hp.uniform("z", 0, 1),
}
GAMMA = 0.25


def objective(params: dict) -> float:
    return 0.0


class Search:
    """A ``Trials`` whose documents and losses the test sets, split by us and by hyperopt after each change."""

    def __init__(self, seed: int = 0, space: dict = SPACE) -> None:
        self.domain = base.Domain(objective, space)
        self.trials = Trials()
        self.rng = np.random.default_rng(seed)
        self.model = model_for(self.domain, 1.0, GAMMA, 25)
        self.next_tid = 0
        self.compared = 0

    def doc(self, loss: float | None, tid: int | None = None) -> dict:
        tid = self.next_tid if tid is None else tid
        self.next_tid = max(self.next_tid, tid + 1)
        (doc,) = rand.suggest([tid], self.domain, Trials(), int(self.rng.integers(2**31 - 1)))
        doc["result"] = {"status": STATUS_OK} if loss is None else {"status": STATUS_OK, "loss": loss}
        doc["state"] = JOB_STATE_DONE
        return doc

    def add(self, *losses: float | None) -> None:
        self.trials.insert_trial_docs([self.doc(loss) for loss in losses])
        self.trials.refresh()

    def set_loss(self, index: int, loss: float) -> None:
        """A trial's result replaced (as a user correcting a loss would), then ``trials.refresh()``
        (as hyperopt's fmin calls it at every evaluation: a finished trial's result is looked at again then)."""
        self.trials.trials[index]["result"] = {"status": STATUS_OK, "loss": loss}
        self.trials.refresh()

    def check(self, gamma: float = GAMMA) -> None:
        """Our split is hyperopt's, and so is our proposal."""
        labels = self.model.labels
        history = tpe_history.history_for(self.trials, labels)
        with history.lock:
            ours = history.observations(self.trials.trials).split(gamma, self.model.ordered_labels)
        theirs = hyperopts_split(self.trials, labels, gamma)
        assert set(ours) == set(theirs)
        for label, (below, above) in theirs.items():
            for got, expected in zip(ours[label], (below, above), strict=True):
                assert got.dtype == expected.dtype and got.shape == expected.shape, label
                assert got.tobytes() == expected.tobytes(), (label, len(self.trials.trials))
            order = getattr(ours[label], "above_order", None)
            if order is not None:  # when given, it sorts the bad values (else the estimator sorts them)
                assert np.array_equal(above[order], np.sort(above)), label
        new_id = self.trials.new_trial_ids(1)
        seed = int(self.rng.integers(2**31 - 1))
        theirs_doc = tpe.suggest(new_id, self.domain, self.trials, seed, n_startup_jobs=1, gamma=gamma)
        ours_doc = fast_tpe.suggest(new_id, self.domain, self.trials, seed, n_startup_jobs=1, gamma=gamma)
        assert ours_doc[0]["misc"]["vals"] == theirs_doc[0]["misc"]["vals"]
        self.compared += 1


def hyperopts_split(trials: Trials, labels: list[str], gamma: float) -> dict:
    """What ``hyperopt.tpe.suggest`` hands its posterior: its loop over the trials, then ``ap_split_trials``
    (as the history reads unusual trials; test_tpe_exact compares those reads with hyperopt's proposals)."""
    return tpe_history._ExactObservations(trials.trials, labels).split(gamma)


def counted(fn, keys: tuple = ("followed", "partitioned")) -> dict:
    before = dict(tpe_history.counts)
    fn()
    return {key: tpe_history.counts[key] - before[key] for key in keys}


def test_the_common_path_does_not_partition_every_loss():
    """Counted, not timed: with one trial added per call, the good trials are found among the last
    ones and the new one; every loss is partitioned only when the number of good trials grows."""
    search = Search(1)
    search.add(*search.rng.random(30).tolist())
    search.check()

    def grow() -> None:
        for _ in range(200):
            search.add(float(search.rng.random()))
            search.check()

    used = counted(grow)
    ks = {tpe_history._n_below(GAMMA, n) for n in range(31, 231)}
    assert used["partitioned"] <= len(ks)  # (k went from 2 to 4 on the way)
    assert used["followed"] >= 2 * 200 - len(ks)  # (two splits a step: the check's and the proposal's)


def test_a_new_trial_among_the_good_ones():
    search = Search(2)
    search.add(*search.rng.random(100).tolist())
    search.check()
    for loss in (-1.0, -2.0, 0.5, -3.0, 2.0, -0.5, -4.0):  # the new best, or not
        search.add(loss)
        search.check()
    search.add(-10.0, 5.0, -11.0)  # several at once
    search.check()


def test_a_result_replaced_so_that_a_trial_leaves_or_enters_the_good_ones():
    search = Search(3)
    search.add(*search.rng.random(100).tolist())
    search.check()
    losses = [doc["result"]["loss"] for doc in search.trials.trials]
    best = int(np.argmin(losses))
    search.set_loss(best, 100.0)  # the best leaves: an untouched trial enters the good ones
    used = counted(search.check)
    # the check saw the candidates miss it (then the proposal's split followed, nothing touched since)
    assert used == {"followed": 1, "partitioned": 1}
    search.set_loss(7, -100.0)  # an old trial enters: a touched one, among the candidates
    assert counted(search.check) == {"followed": 2, "partitioned": 0}
    search.set_loss(7, 0.5)  # and leaves again
    search.add(0.9)
    search.check()
    for index in search.rng.permutation(100)[:10].tolist():  # several at once, with a new trial
        search.set_loss(index, float(search.rng.normal()))
    search.add(-0.2)
    search.check()
    search.trials.trials[12]["result"] = {"status": "fail"}  # no loss: inf
    search.trials.refresh()
    search.check()


def test_ties_at_the_last_good_loss():
    """Which of equal losses at the edge are good is argsort's choice: ours must make the same."""
    search = Search(4)
    search.add(*np.round(search.rng.random(100), 1).tolist())
    search.check()
    for loss in (0.0, 0.0, 0.1, 0.0, 0.3, -1.0, 0.0):
        search.add(loss)
        search.check()
    search.add(None, None)  # trials without a loss (inf), tied among themselves
    search.check()


def test_nan_losses():
    search = Search(5)
    search.add(*search.rng.random(80).tolist())
    search.check()
    search.add(float("nan"))  # excluded, as hyperopt's <= excludes it
    search.check()
    search.add(-1.0)
    search.check()
    search.set_loss(80, -2.0)  # the NaN corrected: included again, the best
    search.check()
    search.set_loss(3, float("nan"))
    search.add(0.1)
    search.check()
    search.set_loss(3, 0.05)
    search.check()
    kept = tpe_history.HISTORIES[search.trials]
    assert kept.n_excluded == 0 and not kept.irregular


def test_trials_gone_from_the_list_and_reordered():
    search = Search(6)
    search.add(*search.rng.random(90).tolist())
    search.check()
    losses = [doc["result"]["loss"] for doc in search.trials.trials]
    best = int(np.argmin(losses))
    del search.trials._dynamic_trials[best]  # the best trial gone
    search.trials.refresh()
    search.check()
    search.add(0.3)
    search.check()
    search.add(-50.0)  # the best, then gone: the list shorter than the good trials' last slot
    search.check()
    del search.trials._dynamic_trials[-1]
    search.trials.refresh()
    search.check()
    search.trials._dynamic_trials.reverse()  # the same trials, in another order (tids descending)
    search.trials.refresh()
    search.check()
    search.add(-1.0)
    search.check()
    search.trials._dynamic_trials.sort(key=lambda doc: doc["tid"])  # back in order
    search.trials.refresh()
    search.check()
    search.add(0.2, -3.0)
    search.check()
    kept = tpe_history.HISTORIES[search.trials]
    assert kept.n_unordered == 0 and not kept.irregular


def test_trials_out_of_tid_order():
    search = Search(7)
    search.add(*search.rng.random(60).tolist())
    search.check()
    docs = [search.doc(float(loss), tid) for loss, tid in zip(search.rng.random(20), range(300, 200, -5), strict=True)]
    search.trials.insert_trial_docs(docs)
    search.trials.refresh()
    search.check()
    search.add(-1.0)  # a tid above all
    search.check()
    search.trials.insert_trial_docs([search.doc(-2.0, 1000), search.doc(0.5, 999)])
    search.trials.refresh()
    search.check()


@pytest.mark.parametrize("gamma", [0.25, 0.5, 1.0])
def test_another_gamma_on_the_same_history(gamma):
    """The good trials kept for one gamma are not taken for another's."""
    search = Search(8)
    search.add(*search.rng.random(100).tolist())
    search.check()
    search.add(0.4)
    search.check(gamma)
    search.check()
    search.add(-0.4)
    search.check(gamma)


@pytest.mark.parametrize("space", ["flat", "nested"])
def test_the_last_split_is_brought_up_to_date(space):
    """Counted: while the good trials stay, each label's split is the last one's with the new value
    (compared with hyperopt's at every step, with new bests, results replaced and trials gone between)."""
    search = Search(9, SPACE if space == "flat" else NESTED)
    search.add(*search.rng.random(60).tolist())
    search.check()
    n_labels = len(search.model.labels)

    def grow() -> None:
        for _ in range(40):
            search.add(float(search.rng.random()))
            search.check()

    used = counted(grow, ("split kept", "split anew"))
    assert used["split kept"] >= 2 * 40 * n_labels - 4 * n_labels  # (k grows once or twice on the way)
    for change in range(6):
        if change == 2:
            search.set_loss(10, -1.0)
        elif change == 4:
            del search.trials._dynamic_trials[20]
            search.trials.refresh()
        elif change == 5:  # the last trial replaced by another: as many values, the same good positions
            search.check()
            del search.trials._dynamic_trials[-1]
            search.add(float(search.rng.random()) + 1)
            search.check()
            del search.trials._dynamic_trials[-3]
        search.add(float(search.rng.random()), -float(change))
        search.check()
        grow()


def test_the_number_of_good_trials_is_hyperopts():
    """``ap_split_trials``' own expression, computed without numpy scalars for a float gamma."""
    for gamma in (0.25, 0.1, 1 / 3, 0.5, 1.0, 0.01, 2.5, 0.7071067811865476, 1, np.float64(0.25)):
        for n in [*range(0, 3000), *range(3000, 2_000_000, 997)]:
            assert tpe_history._n_below(gamma, n) == min(int(np.ceil(gamma * np.sqrt(n))), 25), (gamma, n)


def test_a_split_without_the_order_then_with_it():
    """Another model on the same trials may not want the bad values' order: the next that does gets it right."""
    search = Search(10)
    search.add(*search.rng.random(60).tolist())
    search.check()
    history = tpe_history.history_for(search.trials, search.model.labels)
    for _ in range(3):
        search.add(float(search.rng.random()))
        with history.lock:
            unordered = history.observations(search.trials.trials).split(GAMMA)
        assert all(type(split) is tuple for split in unordered.values())
        search.add(float(search.rng.random()))
        search.check()


@pytest.mark.parametrize("gamma", [0.0, 0.25, 3.0])
def test_tiny_histories_none_good_or_all_good(gamma):
    """From no trial on, with no good trial (gamma 0), or every trial good (k >= n), trials without a loss."""
    search = Search(11)
    search.check(gamma)
    for loss in (0.5, None, 0.1, None, 0.1, -1.0, 2.0):
        search.add(loss)
        search.check(gamma)


def test_a_labels_split_against_plain_numpy():
    """A label's split over appends, good positions that stay or change, a tie, a truncation and values
    of another type, against the arrays taken plainly; the kept order sorts the bad values."""
    rng = np.random.default_rng(12)
    label, values, good_set = tpe_history._Label(), [], set()
    ordered_given = 0
    for step in range(400):
        value = float(rng.random())
        if step == 150:
            value = values[7]  # a tie: no order from here...
        elif step == 320:
            value = 3  # an int among floats: np.asarray's own conversion
        label.append(len(values), value)
        values.append(value)
        if step == 200:  # ... until truncated away
            label.truncate(150)
            del values[150:]
            good_set = {i for i in good_set if i < 150}
        if step % 7 == 3:  # merged already, its place forgotten: looked up by the split
            label.sorted_positions()
            label._merged_at = (-1, 0)
        if rng.random() < 0.1:
            size = min(len(values), int(rng.integers(0, 6)))
            good_set = set(rng.choice(len(values), size=size, replace=False).tolist())
        good = np.array(sorted(good_set), dtype=np.int64)
        split = label.split(good, True)
        below = np.asarray([values[i] for i in good])
        above = np.asarray([v for i, v in enumerate(values) if i not in good_set])
        for got, expected in zip(split, (below, above), strict=True):
            assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes(), step
        if split.above_order is not None:
            ordered_given += 1
            assert np.array_equal(above[split.above_order], np.sort(above)), step
        else:
            assert 150 <= step < 200 or step >= 320 or len(above) < 2, step
    assert ordered_given > 250
