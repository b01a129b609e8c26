"""How TPE's cost grows with the history: resumable_opt.tpe against hyperopt (and Optuna).

Four measurements, each printed as a table (the search is checkpoint_cost.py's:
uniform, loguniform and choice parameters, a trivial objective, seed 0):

* ``proposal``: one proposal with N trials of history, ``hyperopt.tpe.suggest``
  against ``resumable_opt.tpe.suggest`` on copies of the same ``Trials`` (a finished
  trial is added before each timed call, as in a search, the list of trials grown in
  place as the runner grows it, or with ``--grow refresh`` rebuilt as ``hyperopt.fmin``
  rebuilds it; median of the calls;
  the two take turns, call by call, or with ``--order back-to-back`` all of
  hyperopt's calls run first, then all of ours),
  and the first call of ours on a fresh ``Trials`` (what a resume pays once).
  Every pair of proposals is checked to be identical, and it counts how many
  candidate choices of ours were decided by the density bounds (the others
  computed the densities exactly).  The histories are
  random points of the space with their losses (a TPE history of 10,000
  trials takes hours to make with hyperopt).
* ``search``: whole searches, wall time to N trials: ``hyperopt.fmin``,
  ``resumable_opt.minimize`` (checkpointed, resumable_opt.tpe) and Optuna's
  ``TPESampler`` (in memory; skipped when Optuna is not installed).  A
  contender that reaches ``--cap`` seconds is stopped; its time to N is then
  extrapolated from its measured cost per trial (a + b*n, fitted over the
  second half of what it ran) and marked as such.
* ``breakdown``: where one proposal of ours spends its time, by part (the graph's nodes, the
  reading of the trials, the good/bad split), means over ``--calls`` proposals, each after
  one of hyperopt's (not timed), or with ``--order back-to-back`` one after the other.
* ``runner``: the runner's top rate, points handed out per second, with a
  no-op objective and ``--in-flight`` trials in flight (a ThreadPoolExecutor),
  on a checkpoint holding N trials already.

    python benchmarks/tpe_scaling.py                      # all three, defaults below
    python benchmarks/tpe_scaling.py proposal --sizes 1000 10000
    python benchmarks/tpe_scaling.py search --trials 20000 --cap 900
    python benchmarks/tpe_scaling.py runner --sizes 1000 10000 --in-flight 64
    python benchmarks/tpe_scaling.py proposal --history PATH   # on a real search's trials
    python benchmarks/tpe_scaling.py breakdown --sizes 10000 --calls 60 [--history PATH]
    python benchmarks/tpe_scaling.py proposal --sizes 10000 --calls 30 --order back-to-back
    python benchmarks/tpe_scaling.py proposal --sizes 10000 --calls 30 --grow refresh
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint_cost import (  # noqa: E402
    SEED,
    hyperopt_objective,
    hyperopt_space,
    load_average,
    machine,
    optuna_objective,
    optuna_version,
    table,
)


def noop(params: dict) -> float:
    return 0.0


def random_history(n: int, seed: int = 1) -> Any:
    """A ``Trials`` of ``n`` finished trials at random points of the space, with their losses."""
    import numpy as np
    from hyperopt import JOB_STATE_DONE, STATUS_OK, Trials, base, rand

    domain = base.Domain(hyperopt_objective, hyperopt_space())
    trials = Trials()
    rng = np.random.default_rng(seed)
    docs = []
    for tid in range(n):  # rand.suggest for one id at a time is slow: draw the values here
        misc = {"tid": tid, "cmd": domain.cmd, "workdir": domain.workdir, "idxs": {}, "vals": {}}
        x, y, c = float(rng.uniform(-5, 5)), float(np.exp(rng.uniform(-3, 2))), int(rng.integers(3))
        for label, value in (("x", x), ("y", y), ("c", c)):
            misc["idxs"][label], misc["vals"][label] = [tid], [value]
        loss = hyperopt_objective(base.spec_from_misc(misc) | {"c": "abc"[c]})
        docs.extend(trials.new_trial_docs([tid], [None], [{"status": STATUS_OK, "loss": loss}], [misc]))
        docs[-1]["state"] = JOB_STATE_DONE
    del rand
    trials.insert_trial_docs(docs)
    trials.refresh()
    return trials


# -- one proposal ----------------------------------------------------------------


def searched_history(path: str) -> Any:
    """The ``Trials`` of a checkpoint: a history a real TPE search made (``search`` leaves its checkpoints)."""
    import resumable_opt

    return resumable_opt.load(path).trials


def _call_order(names: list[str], calls: int, order: str) -> list[tuple[int, str]]:
    """(call number, contender) in the order they run.  "turns": the contenders take turns, call
    by call, and go first in turn, so that whatever the machine does meanwhile falls on all alike,
    and each call finds the caches as the others left them (as a search's proposals find them
    after its objective); "back-to-back": all of one's calls, then all of the next one's."""
    if order == "back-to-back":
        return [(k, name) for name in names for k in range(calls)]
    return [(k, name) for k in range(calls) for name in (names if k % 2 == 0 else names[::-1])]


def _copies(full: Any, n: int, names: list[str]) -> dict[str, Any]:
    """One copy of ``full`` per contender, holding its first ``n`` trials."""
    import copy

    copies = {name: copy.copy(full) for name in names}
    for each in copies.values():
        each._dynamic_trials = full._dynamic_trials[:n]
        each.refresh()
    return copies


def _grow(trials: Any, full: Any, n: int, grow: str) -> None:
    """Bring ``trials`` to the first ``n`` trials of ``full``: "in-place", the list of valid trials
    grown in place, as the runner (``minimize``, our ``fmin``) grows it; "refresh", rebuilt by
    ``trials.refresh()``, as ``hyperopt.fmin`` does at every evaluation (ours then looks at every
    trial's result again, for one replaced by hand)."""
    from resumable_opt.trials import add_to_valid

    added = full._dynamic_trials[len(trials._dynamic_trials) : n]
    trials._dynamic_trials.extend(added)
    if grow == "refresh":
        trials.refresh()
    else:
        add_to_valid(trials, added)


def bench_proposal(
    sizes: list[int], calls: int, history: str | None = None, order: str = "turns", grow: str = "in-place"
) -> str:
    from hyperopt import base, tpe

    from resumable_opt import tpe as fast_tpe
    from resumable_opt.tpe import choice

    rows = []
    for n in sizes:
        full = random_history(n + calls) if history is None else searched_history(history)
        if len(full) < n + calls:
            print(f"  {history} holds {len(full):,} trials: too few for {n:,} + {calls} calls, skipped")
            continue
        domain = base.Domain(hyperopt_objective, hyperopt_space())
        times: dict[str, list[float]] = {"hyperopt": [], "ours": []}
        cpu: dict[str, list[float]] = {"hyperopt": [], "ours": []}
        proposals: dict[str, list] = {"hyperopt": [], "ours": []}
        suggests = {"hyperopt": tpe.suggest, "ours": fast_tpe.suggest}
        trials = _copies(full, n, list(suggests))
        # the first call on a Trials reads all of it: what a resume pays
        started = time.perf_counter()
        fast_tpe.suggest([n + calls], domain, trials["ours"], SEED)
        first_call = time.perf_counter() - started
        before = dict(choice.counts)
        for k, name in _call_order(list(suggests), calls, order):
            _grow(trials[name], full, n + k + 1, grow)
            started, cpu_started = time.perf_counter(), time.process_time()
            docs = suggests[name]([n + calls], domain, trials[name], SEED + k)
            times[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
            proposals[name].append(docs[0]["misc"]["vals"])
        same = "yes" if proposals["hyperopt"] == proposals["ours"] else "NO"
        bounded = choice.counts["bounded"] - before["bounded"]
        decided = f"{bounded}/{bounded + choice.counts['exact'] - before['exact']}"
        theirs, ours = statistics.median(times["hyperopt"]), statistics.median(times["ours"])
        theirs_cpu, ours_cpu = statistics.median(cpu["hyperopt"]), statistics.median(cpu["ours"])
        rows.append([f"{n:,}", f"{theirs * 1000:.1f}", f"{ours * 1000:.1f}", f"{theirs / ours:.1f}x",
                     f"{theirs_cpu * 1000:.1f}", f"{ours_cpu * 1000:.1f}", f"{theirs_cpu / ours_cpu:.1f}x",
                     f"{first_call * 1000:.0f}", decided, same])  # fmt: skip
        print(f"  proposal at {n:,}: hyperopt {theirs * 1000:.1f} ms, ours {ours * 1000:.1f} ms", flush=True)
    header = ["history", "hyperopt ms", "ours ms", "speed-up", "hyperopt CPU ms", "ours CPU ms", "CPU speed-up",
              "ours first call ms", "choices from bounds", "same points"]  # fmt: skip
    return table(header, rows)


def bench_breakdown(
    sizes: list[int], calls: int, history: str | None = None, order: str = "turns", grow: str = "in-place"
) -> str:
    """Where one proposal of ours spends its time: each node of the posterior graph by name (the
    winner's choice is ``broadcast_best``), the reading of the trials (``history``) and the
    good/bad ``split``, as means over ``calls`` proposals (wrapped in timers).
    With ``order`` "turns", a proposal of hyperopt's (not timed) runs before each of ours, as in
    ``proposal``; with "back-to-back", ours run one after the other."""
    from collections import defaultdict

    from hyperopt import base, tpe

    from resumable_opt import tpe as fast_tpe
    from resumable_opt.tpe import history as tpe_history
    from resumable_opt.tpe import posterior

    spent: dict[str, float] = defaultdict(float)

    def timed(name: str, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return call

    def evaluate(model: Any, fake_ids: list, rng: Any, splits: dict) -> Any:  # Model.evaluate, each node timed
        return original_evaluate(model, fake_ids, rng, splits, spent=spent)

    rows = []
    originals = (posterior.Model.evaluate, tpe_history._History._follow, tpe_history._FastObservations.split)
    original_evaluate = originals[0]
    posterior.Model.evaluate = evaluate  # type: ignore[method-assign]
    tpe_history._History._follow = timed("history", originals[1])  # type: ignore[method-assign]
    tpe_history._FastObservations.split = timed("split", originals[2])  # type: ignore[method-assign]
    try:
        for n in sizes:
            full = random_history(n + calls) if history is None else searched_history(history)
            domain = base.Domain(hyperopt_objective, hyperopt_space())
            trials = _copies(full, n, ["hyperopt", "ours"])
            fast_tpe.suggest([n + calls], domain, trials["ours"], SEED)  # (the first call reads every trial)
            spent.clear()
            total = 0.0
            names = ["hyperopt", "ours"] if order == "turns" else ["ours"]
            for k, name in _call_order(names, calls, order):
                _grow(trials[name], full, n + k + 1, grow)
                if name == "hyperopt":
                    tpe.suggest([n + calls], domain, trials[name], SEED + k)
                    continue
                started = time.perf_counter()
                fast_tpe.suggest([n + calls], domain, trials[name], SEED + k)
                total += time.perf_counter() - started
            parts = sorted(spent.items(), key=lambda item: -item[1])
            rest = total - sum(spent.values())
            for name, seconds in [*parts[:8], ("(the rest)", rest + sum(x for _, x in parts[8:]))]:
                rows.append([f"{n:,}", name, f"{seconds / calls * 1000:.3f}"])
            rows.append([f"{n:,}", "one proposal", f"{total / calls * 1000:.3f}"])
    finally:
        posterior.Model.evaluate, tpe_history._History._follow, tpe_history._FastObservations.split = originals
    return table(["history", "part", "ms per proposal"], rows)


# -- whole searches ---------------------------------------------------------------


class Clock:
    """Wraps an objective; notes when each evaluation ends."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.stamps: list[float] = []

    def __call__(self, arg: Any) -> float:
        value = self.fn(arg)
        self.stamps.append(time.perf_counter())
        return value


def run_search(contender: str, n: int, cap: float, folder: Path) -> tuple[float, list[float]]:
    """(start time, end time of each evaluation) of one search stopped at ``n`` trials or ``cap`` seconds."""
    import numpy as np

    if contender == "optuna":
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        clock = Clock(optuna_objective)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=SEED))
        started = time.perf_counter()
        study.optimize(clock, n_trials=n, timeout=cap)
        return started, clock.stamps
    clock = Clock(hyperopt_objective)
    started = time.perf_counter()
    if contender == "hyperopt.fmin":
        from hyperopt import Trials, fmin, tpe

        fmin(clock, hyperopt_space(), tpe.suggest, n, trials=Trials(), rstate=np.random.default_rng(SEED),
             show_progressbar=False, timeout=cap)  # fmt: skip
    else:
        import resumable_opt

        resumable_opt.minimize(clock, hyperopt_space(), folder / f"{contender}.ckpt", n, seed=SEED,
                               progress=False, timeout=cap)  # fmt: skip
    return started, clock.stamps


def extrapolate(started: float, stamps: list[float], n: int) -> tuple[float, bool]:
    """Time to ``n`` trials: measured, or extrapolated with a per-trial cost a + b*k fitted on the second half."""
    if len(stamps) >= n:
        return stamps[n - 1] - started, False
    import numpy as np

    m = len(stamps)
    costs = np.diff(np.asarray(stamps))
    ks = np.arange(2, m + 1)
    half = len(costs) // 2
    # medians over 20 windows of the second half, robust to a pause of the machine
    windows = np.array_split(np.arange(half, len(costs)), 20)
    xs = np.array([ks[w].mean() for w in windows if len(w)])
    ys = np.array([np.median(costs[w]) for w in windows if len(w)])
    b, a = np.polyfit(xs, ys, 1)
    rest = np.arange(m + 1, n + 1)
    return stamps[-1] - started + float(np.sum(a + b * rest)), True


def bench_search(n: int, cap: float, contenders: list[str]) -> str:
    folder = Path(tempfile.mkdtemp(prefix="tpe-scaling-"))
    rows = []
    marks = [m for m in (1000, 2000, 5000, 10000, 20000, 50000) if m < n] + [n]
    for contender in contenders:
        started, stamps = run_search(contender, n, cap, folder)
        cells = [contender, f"{len(stamps):,}"]
        for mark in marks:
            seconds, guessed = extrapolate(started, stamps, mark)
            cells.append(f"{seconds:.0f}" + (" (extrapolated)" if guessed else ""))
        rows.append(cells)
        print(f"  {contender}: {len(stamps):,} trials in {stamps[-1] - started:.0f} s", flush=True)
    header = ["search", "trials run"] + [f"s to {mark:,}" for mark in marks]
    kept = folder / "resumable_opt.minimize.ckpt"
    note = f"\n(the search's checkpoint, for `proposal --history`: {kept})" if kept.exists() else ""
    return table(header, rows) + note


# -- the runner's top rate ----------------------------------------------------------


def bench_runner(sizes: list[int], in_flight: int, points: int, fast: bool) -> list[list[str]]:
    import resumable_opt

    rows = []
    for n in sizes:
        folder = Path(tempfile.mkdtemp(prefix="tpe-runner-"))
        path = folder / "search.ckpt"
        resumable_opt.import_trials(random_history(n), hyperopt_space(), path, fn=noop, seed=SEED)
        clock = Clock(noop)
        began = time.perf_counter()
        with ThreadPoolExecutor(in_flight) as pool:
            resumable_opt.minimize(clock, hyperopt_space(), path, n + points, progress=False, executor=pool,
                                   n_jobs=in_flight, fast_tpe=fast)  # fmt: skip
        total = time.perf_counter() - began
        rate = (len(clock.stamps) - 1) / (clock.stamps[-1] - clock.stamps[0])
        rows.append(["resumable_opt.tpe" if fast else "hyperopt tpe", f"{n:,}", str(in_flight), str(points),
                     f"{rate:.1f}", f"{total:.1f}"])  # fmt: skip
        print(f"  runner at {n:,} ({'fast' if fast else 'hyperopt'}): {rate:.1f} points/s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="*", choices=["proposal", "breakdown", "search", "runner"], default=[])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2500, 5000, 10000])
    parser.add_argument("--calls", type=int, default=7, help="timed proposals per size (default 7)")
    parser.add_argument("--history", help="proposal: on the trials of this checkpoint instead of random points")
    parser.add_argument(
        "--order",
        choices=["turns", "back-to-back"],
        default="turns",
        help="proposal, breakdown: hyperopt's calls and ours take turns (default), or all of hyperopt's run "
        "first and then all of ours (breakdown: ours alone), each then finding the caches its last call left",
    )
    parser.add_argument(
        "--grow",
        choices=["in-place", "refresh"],
        default="in-place",
        help="proposal, breakdown: the trials' list grown in place before each call, as the runner does "
        "(default), or rebuilt by trials.refresh(), as hyperopt.fmin does (ours then looks at every result)",
    )
    parser.add_argument("--trials", type=int, default=20000, help="trials of the whole searches (default 20000)")
    parser.add_argument("--cap", type=float, default=900, help="seconds after which a search is stopped (default 900)")
    parser.add_argument("--contenders", nargs="+", default=["resumable_opt.minimize", "hyperopt.fmin", "optuna"])
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--points", type=int, default=400, help="points the runner hands out per size (default 400)")
    parser.add_argument("--runner-sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--hyperopt-points", type=int, default=40, help="same, with hyperopt's TPE (default 40)")
    options = parser.parse_args()
    what = options.what or ["proposal", "search", "runner"]

    print("\n".join(machine()))
    print(f"command: python benchmarks/tpe_scaling.py {' '.join(sys.argv[1:])}")
    print(f"load average at start: {load_average()} (the machine's other work shows in every figure)\n", flush=True)
    if "proposal" in what:
        print("One proposal (median of the timed calls) with N trials of history:", flush=True)
        proposal = bench_proposal(options.sizes, options.calls, options.history, options.order, options.grow)
        print(proposal + "\n", flush=True)
    if "breakdown" in what:
        print(f"Where one proposal's time goes (means over {options.calls} proposals):", flush=True)
        breakdown = bench_breakdown(options.sizes, options.calls, options.history, options.order, options.grow)
        print(breakdown + "\n", flush=True)
    if "search" in what:
        contenders = list(options.contenders)
        if "optuna" in contenders and optuna_version() is None:
            print("Optuna is not installed: skipping it (pip install optuna to include it).")
            contenders.remove("optuna")
        print(f"Whole searches, {options.trials:,} trials, stopped after {options.cap:.0f} s:", flush=True)
        print(bench_search(options.trials, options.cap, contenders) + "\n", flush=True)
    if "runner" in what:
        print(f"The runner's top rate, no-op objective, {options.in_flight} in flight:", flush=True)
        rows = bench_runner(options.runner_sizes, options.in_flight, options.points, True)
        rows += bench_runner(options.runner_sizes, options.in_flight, options.hyperopt_points, False)
        header = ["algorithm", "history", "in flight", "points", "points/s", "run s"]
        print(table(header, rows) + "\n", flush=True)
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
