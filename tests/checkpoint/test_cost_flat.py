"""Issue 4: the checkpoint's cost per trial does not grow with the number of trials.

Counted in bytes and records written, never timed (``benchmarks/checkpoint_cost.py``
measures the time).  The counters are those of the real store that
``minimize`` writes with; the tests only look at them.
"""

import importlib
import math
import os
import statistics

import numpy as np
import pytest
from hyperopt import hp, rand, tpe

import resumable_opt
from resumable_opt.checkpoint import journal, records
from resumable_opt.checkpoint.store import MIN_COMPACTION_BYTES, CheckpointStore

# The module (its name is shadowed by the function in resumable_opt.runner).
minimize_module = importlib.import_module("resumable_opt.runner.minimize")

SPACE = {"x": hp.uniform("x", -5, 5), "y": hp.loguniform("y", -3, 2), "c": hp.choice("c", ["a", "b", "c"])}


def cheap_loss(params: dict) -> float:
    return (params["x"] - 1.0) ** 2 + abs(math.log(params["y"])) + {"a": 0.0, "b": 0.5, "c": 1.0}[params["c"]]


@pytest.fixture
def stores(monkeypatch):
    """The stores ``minimize`` creates, kept for inspection; optionally with another compaction floor."""
    made: list[CheckpointStore] = []
    floor = {"bytes": MIN_COMPACTION_BYTES}

    class WatchedStore(CheckpointStore):
        def __init__(self, path, min_compaction_bytes=None, **kwargs):
            super().__init__(path, floor["bytes"] if min_compaction_bytes is None else min_compaction_bytes, **kwargs)
            made.append(self)

    monkeypatch.setattr(minimize_module, "CheckpointStore", WatchedStore)

    def use(min_compaction_bytes: int = MIN_COMPACTION_BYTES) -> list[CheckpointStore]:
        floor["bytes"] = min_compaction_bytes
        return made

    return use


def counting_objective(made: list[CheckpointStore], seen: list[tuple[int, int]]):
    """``cheap_loss`` that notes the store's append counters each time it runs (once per trial)."""

    def objective(params: dict) -> float:
        store = made[-1]
        seen.append((store.appended_records, store.appended_bytes))
        return cheap_loss(params)

    return objective


def per_trial(seen: list[tuple[int, int]], first: int, last: int) -> tuple[list[int], list[int]]:
    """Records and bytes appended for each trial between trial ``first`` and ``last``."""
    records_added = [seen[k + 1][0] - seen[k][0] for k in range(first, last)]
    bytes_added = [seen[k + 1][1] - seen[k][1] for k in range(first, last)]
    return records_added, bytes_added


def test_records_and_bytes_appended_per_trial_are_the_same_at_50_and_at_500_trials(tmp_path, stores):
    made = stores()
    seen: list[tuple[int, int]] = []
    resumable_opt.minimize(
        counting_objective(made, seen), SPACE, tmp_path / "s.ckpt", 501, algo=tpe.suggest, seed=0, progress=False
    )
    assert len(made) == 1 and len(seen) == 501

    early_records, early_bytes = per_trial(seen, 40, 50)
    late_records, late_bytes = per_trial(seen, 490, 500)
    # The same records for a trial whether 50 or 500 came before it...
    assert early_records == late_records and min(late_records) >= 1
    # ...and the same bytes, give or take the few bytes that bigger trial ids take.
    assert statistics.median(late_bytes) <= statistics.median(early_bytes) + 16
    # A trial's records are a small fraction of a snapshot of all 500 trials.
    final_snapshot = os.path.getsize(tmp_path / "s.ckpt")
    assert max(late_bytes) < final_snapshot / 50


def written_per_trial(tmp_path, stores, n: int, floor: int) -> tuple[float, int]:
    """Run an n-trial search; return all bytes written per trial, and the largest
    the journal got beyond the snapshot before it (checked at every trial)."""
    made = stores(floor)
    path = tmp_path / f"n{n}.ckpt"
    worst_excess = 0

    def objective(params: dict) -> float:
        nonlocal worst_excess
        content = path.read_bytes()
        snapshot = (
            records.HEADER_SIZE + records.RECORD_HEADER_SIZE + len(records.read_records(content, path).payloads[0])
        )
        journal_bytes = len(content) - snapshot
        worst_excess = max(worst_excess, journal_bytes - max(snapshot, floor))
        return cheap_loss(params)

    resumable_opt.minimize(objective, SPACE, path, n, algo=rand.suggest, seed=1, progress=False)
    store = made[-1]
    assert store.snapshots_written >= 3  # the floor is low enough that the journal is folded mid-run
    return (store.appended_bytes + store.snapshot_bytes_written) / n, worst_excess


def test_compaction_keeps_the_bytes_written_per_trial_bounded_and_the_journal_short(tmp_path, stores):
    # A low floor, so that 60 trials already see the journal folded into snapshots.
    floor = 4096
    small, small_excess = written_per_trial(tmp_path, stores, 60, floor)
    large, large_excess = written_per_trial(tmp_path, stores, 600, floor)
    # Rewriting the whole search after every trial would write ~10x more per trial at 600;
    # folding the journal only when it outgrows the snapshot keeps it flat.
    assert large <= 1.25 * small
    # The journal never outgrows max(snapshot, floor) by more than one trial's records.
    assert small_excess < 1024 and large_excess < 1024


def test_numpy_values_are_stored_bit_for_bit():
    values = [np.float64(v) for v in (0.1, 1 / 3, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308)]
    values += [np.int64(v) for v in (0, -1, 2**63 - 1, -(2**63))]
    values += [np.float32(0.1), np.int32(7), np.uint8(200), np.bool_(True), 0.1, 3, True, 2**70, -(2**65)]
    back = journal.op_decoder(2)(journal.encode_op(values))
    assert [type(v) for v in back] == [type(v) for v in values]

    def exact(v):
        return v if type(v) is int else np.asarray(v).tobytes()

    assert [exact(v) for v in back] == [exact(v) for v in values]


def test_trials_read_back_are_the_trials_in_memory(tmp_path):
    state = resumable_opt.minimize(cheap_loss, SPACE, tmp_path / "s.ckpt", 30, seed=4, progress=False)
    loaded = resumable_opt.load(tmp_path / "s.ckpt")

    def exact(docs):
        return [
            (
                doc,
                {label: [(type(v), np.asarray(v).tobytes()) for v in vs] for label, vs in doc["misc"]["vals"].items()},
            )
            for doc in docs
        ]

    assert exact(loaded.trials._dynamic_trials) == exact(state.trials._dynamic_trials)
