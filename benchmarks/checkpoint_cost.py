"""What checkpointing costs: resumable_opt against plain hyperopt and the alternatives.

Runs, side by side in one invocation and alternating the order from one
repeat to the next, the same search (a cheap 3-parameter objective, TPE, the
same seed) with:

* ``fmin``        plain in-memory ``hyperopt.fmin`` (the baseline: no checkpoint at all)
* ``fmin+save``   ``hyperopt.fmin(trials_save_file=...)`` (pickles all trials after each one)
* ``resumable``   ``resumable_opt.minimize`` (every trial fdatasync'ed before the next is asked)
* ``optuna-journal`` / ``optuna-sqlite``  Optuna's TPE with ``JournalFileBackend`` / SQLite
  storage, when Optuna is installed (it is not a dependency of resumable-opt; the
  script says so and skips them when it is missing)

Each search runs in a fresh child process (so one run's memory and garbage
never slow the next), timed around the search call only (imports excluded).
Then it measures, on a checkpoint of ``--resume-trials`` trials: the time to
resume (read the checkpoint + first new point asked), ``resumable_opt.load()``,
and the bytes on disk, against a plain pickle of the same ``Trials``.

It prints the machine, then tables of medians: ms per trial and the ratio to
plain ``fmin``.  Full run (15 to 25 minutes on 2 cores, Optuna's SQLite
storage takes most of it)::

    python benchmarks/checkpoint_cost.py

A quick look (about a minute)::

    python benchmarks/checkpoint_cost.py --quick
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HYPEROPT_METHODS = ["fmin", "fmin+save", "resumable"]
OPTUNA_METHODS = ["optuna-journal", "optuna-sqlite"]
SEED = 0
CHOICES = {"a": 0.0, "b": 0.5, "c": 1.0}


# -- the search, as each contender spells it ---------------------------------


def loss(x: float, y: float, c: str) -> float:
    """The cheap objective: a bowl in x, a valley in log(y), a categorical offset."""
    return (x - 1.0) ** 2 + abs(math.log(y)) + CHOICES[c]


def hyperopt_space() -> dict:
    from hyperopt import hp

    return {"x": hp.uniform("x", -5, 5), "y": hp.loguniform("y", -3, 2), "c": hp.choice("c", list(CHOICES))}


def hyperopt_objective(params: dict) -> float:
    return loss(params["x"], params["y"], params["c"])


def optuna_objective(trial: Any) -> float:
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_float("y", math.exp(-3), math.exp(2), log=True)
    c = trial.suggest_categorical("c", list(CHOICES))
    return loss(x, y, c)


def _plain_pickle_size(trials: Any) -> int:
    return len(pickle.dumps(trials, protocol=pickle.HIGHEST_PROTOCOL))


def run_one(method: str, n: int, folder: Path) -> dict:
    """Run one search in this process; return its wall time and what it left on disk."""
    import numpy as np
    from hyperopt import Trials, fmin, tpe

    # Imported before the clock starts: resumable_opt imports its names when first used.
    from resumable_opt import minimize

    space = hyperopt_space()
    result: dict[str, Any] = {}
    if method in ("fmin", "fmin+save"):
        trials = Trials()
        save = str(folder / "trials.pkl") if method == "fmin+save" else ""
        started = time.perf_counter()
        fmin(
            hyperopt_objective,
            space,
            tpe.suggest,
            n,
            trials=trials,
            rstate=np.random.default_rng(SEED),
            show_progressbar=False,
            trials_save_file=save,
        )
        seconds = time.perf_counter() - started
        result["plain_pickle_bytes"] = _plain_pickle_size(trials)
        result["best_loss"] = min(trials.losses())
        if save:
            result["file_bytes"] = os.path.getsize(save)
    elif method == "resumable":
        path = folder / "search.ckpt"
        started = time.perf_counter()
        state = minimize(hyperopt_objective, space, path, n, seed=SEED, progress=False)
        seconds = time.perf_counter() - started
        result["file_bytes"] = os.path.getsize(path)
        result["plain_pickle_bytes"] = _plain_pickle_size(state.trials)
        result["best_loss"] = state.best_loss
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if method == "optuna-journal":
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend

            target = folder / "journal.log"
            storage: Any = JournalStorage(JournalFileBackend(str(target)))
        else:
            target = folder / "study.db"
            storage = f"sqlite:///{target}"
        started = time.perf_counter()
        study = optuna.create_study(storage=storage, sampler=optuna.samplers.TPESampler(seed=SEED), study_name="bench")
        study.optimize(optuna_objective, n_trials=n)
        seconds = time.perf_counter() - started
        result["file_bytes"] = os.path.getsize(target)
        result["best_loss"] = study.best_value
    result["seconds"] = seconds
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def mid_run_sizes(n: int, folder: Path) -> dict:
    """Size of the checkpoint at every evaluation of a resumable search (not timed).

    The objective looks at the file while its trial runs, i.e. with every
    earlier trial recorded; the largest size seen, against a plain pickle of
    the trials there were at that moment, is the mid-run worst case.  Until
    the search's pickle outgrows the compaction floor (64 KiB) the journal may
    hold up to that many bytes, so the worst case is also given past it.
    """
    from hyperopt import Trials

    import resumable_opt
    from resumable_opt.checkpoint.store import MIN_COMPACTION_BYTES, backup_path

    path = folder / "sizes.ckpt"
    seen: list[int] = []

    def objective(params: dict) -> float:
        seen.append(os.path.getsize(path))
        return hyperopt_objective(params)

    state = resumable_opt.minimize(objective, hyperopt_space(), path, n, seed=SEED, progress=False)
    docs = state.trials._dynamic_trials

    def plain_at(k: int) -> int:
        trials = Trials()
        trials._dynamic_trials = docs[: k + 1]  # on disk when seen[k] was taken: k finished, one asked
        trials.refresh()
        return _plain_pickle_size(trials)

    # Peaks are where the file shrank afterwards (a compaction) and the end.
    peaks = {k: plain_at(k) for k in range(1, len(seen)) if k + 1 == len(seen) or seen[k + 1] < seen[k]}
    ratios = {k: seen[k] / plain for k, plain in peaks.items()}
    past_floor = [k for k, plain in peaks.items() if plain > MIN_COMPACTION_BYTES]
    worst = max(ratios, key=ratios.get)
    worst_past_floor = max(past_floor, key=ratios.get) if past_floor else None
    return {
        "largest_bytes": max(seen),
        "worst_ratio": ratios[worst],
        "worst_at": worst,
        "worst_ratio_past_floor": ratios.get(worst_past_floor),
        "worst_past_floor_at": worst_past_floor,
        "final_bytes": os.path.getsize(path),
        "final_ratio": os.path.getsize(path) / _plain_pickle_size(state.trials),
        "backup_bytes": os.path.getsize(backup_path(path)),
    }


def build_checkpoint(n: int, folder: Path) -> dict:
    """A finished n-trial checkpoint and a plain pickle of the same Trials (not timed).

    Built with ``hyperopt.rand`` to save time; the documents, and so the cost
    of reading them and of TPE's next step, are the same as TPE's.
    """
    from hyperopt import rand

    import resumable_opt

    path = folder / "resume.ckpt"
    state = resumable_opt.minimize(
        hyperopt_objective, hyperopt_space(), path, n, algo=rand.suggest, seed=SEED, progress=False
    )
    pickled = folder / "resume.trials.pkl"
    pickled.write_bytes(pickle.dumps(state.trials, protocol=pickle.HIGHEST_PROTOCOL))
    return {"checkpoint": str(path), "pickle": str(pickled)}


def time_reading(what: str, checkpoint: Path, pickled: Path, n: int) -> dict:
    """Time one way of reading the n-trial search, in a fresh process, imports done.

    ``resume``: ``minimize`` on the checkpoint up to the moment the objective
    gets the first new point (read, check, record the run, TPE's next step);
    ``load``: ``resumable_opt.load()``; ``pickle``: ``pickle.load`` of a plain
    pickle of the same ``Trials``, for reference.
    """
    from hyperopt import tpe

    # Each imports what it uses before its clock starts (resumable_opt imports its names when
    # first used), and no more: a larger heap makes the garbage collector slower on what it reads.
    if what == "pickle":
        started = time.perf_counter()
        with open(pickled, "rb") as handle:
            pickle.load(handle)
        return {"seconds": time.perf_counter() - started}
    if what == "load":
        from resumable_opt import load

        started = time.perf_counter()
        state = load(checkpoint)
        seconds = time.perf_counter() - started
        assert state.n_finished == n
        return {"seconds": seconds}
    from resumable_opt import minimize

    first_point_at: list[float] = []

    def objective(params: dict) -> float:
        first_point_at.append(time.perf_counter())
        return hyperopt_objective(params)

    started = time.perf_counter()
    minimize(objective, hyperopt_space(), checkpoint, n + 1, algo=tpe.suggest, progress=False)
    return {"seconds": first_point_at[0] - started}


def fdatasync_latency(folder: Path, count: int = 200) -> float:
    """Median seconds of one small append + fdatasync here: the disk's price of "durable"."""
    path = folder / "fdatasync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    timings = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            os.write(fd, b"x" * 200)
            os.fdatasync(fd)
            timings.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(timings)


# -- the parent: children, medians, tables -----------------------------------


def in_child(*args: str) -> dict:
    """Run this script with ``--child ARGS`` in a fresh interpreter; return its JSON answer."""
    # With Python's bytecode cache, as an installed package has it: the runner imports some modules when a run starts.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(args: list[str]) -> None:
    job, *rest = args
    if job == "run":
        method, n, folder = rest
        answer = run_one(method, int(n), Path(folder))
    elif job == "sizes":
        n, folder = rest
        answer = mid_run_sizes(int(n), Path(folder))
    elif job == "build":
        n, folder = rest
        answer = build_checkpoint(int(n), Path(folder))
    else:
        checkpoint, pickled, n = rest
        answer = time_reading(job, Path(checkpoint), Path(pickled), int(n))
    print(json.dumps(answer))


def optuna_version() -> str | None:
    try:
        import optuna
    except ImportError:
        return None
    return optuna.__version__


def machine() -> list[str]:
    import hyperopt
    import numpy

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "?"
    return [
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
        f"python {platform.python_version()}, hyperopt {hyperopt.__version__}, numpy {numpy.__version__}, "
        f"optuna {optuna_version() or 'not installed'}",
    ]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (readable as plain text too)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, rows)])


def median_of(runs: list[dict], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def benchmark_searches(methods: list[str], sizes: list[int], repeats: int, scratch: Path) -> dict:
    results: dict[tuple[str, int], list[dict]] = {(method, n): [] for method in methods for n in sizes}
    for n in sizes:
        for repeat in range(repeats):
            # Alternate the order: rotate by one each repeat, reversed every other one.
            order = methods[repeat % len(methods) :] + methods[: repeat % len(methods)]
            if repeat % 2:
                order.reverse()
            for method in order:
                folder = Path(tempfile.mkdtemp(dir=scratch))
                # The disk's commit latency right now: other processes' writes change it a lot.
                probe = fdatasync_latency(folder, count=50)
                answer = in_child("run", method, str(n), str(folder))
                answer["fdatasync_ms"] = probe * 1000
                shutil.rmtree(folder)
                results[method, n].append(answer)
                print(
                    f"  n={n} repeat {repeat + 1}/{repeats} {method:15} {answer['seconds'] / n * 1000:7.2f} ms/trial",
                    file=sys.stderr,
                    flush=True,
                )
    return results


def search_table(results: dict, methods: list[str], sizes: list[int]) -> str:
    rows = []
    for n in sizes:
        baseline = median_of(results["fmin", n], "seconds") if ("fmin", n) in results else None
        for method in methods:
            runs = results[method, n]
            seconds = median_of(runs, "seconds")
            file_bytes = median_of(runs, "file_bytes")
            plain = median_of(results["fmin", n], "plain_pickle_bytes") if baseline else None
            rows.append(
                [
                    str(n),
                    method,
                    f"{seconds / n * 1000:.2f}",
                    f"{seconds / baseline:.2f}x" if baseline else "-",
                    f"{min(run['seconds'] for run in runs) / n * 1000:.2f}"
                    f"-{max(run['seconds'] for run in runs) / n * 1000:.2f}",
                    "-" if file_bytes is None else f"{file_bytes / n:.0f}",
                    "-" if file_bytes is None or not plain else f"{file_bytes / plain:.2f}x",
                    f"{median_of(runs, 'peak_rss_mb'):.0f}",
                    f"{median_of(runs, 'fdatasync_ms'):.2f}",
                ]
            )
    header = [
        "trials",
        "method",
        "ms/trial",
        "vs fmin",
        "range ms/trial",
        "bytes/trial on disk",
        "vs pickle",
        "peak RSS MB",
        "fdatasync ms",
    ]
    return table(header, rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 3000], help="numbers of trials (default: 1000 3000)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each search, for medians (default: 3)")
    parser.add_argument(
        "--resume-trials", type=int, default=5000, help="trials in the checkpoint that is resumed (default: 5000)"
    )
    parser.add_argument("--resume-repeats", type=int, default=5, help="resumes to time (default: 5)")
    parser.add_argument("--methods", nargs="+", choices=HYPEROPT_METHODS + OPTUNA_METHODS, help="run only these")
    parser.add_argument(
        "--quick", action="store_true", help="a quick look: 200 and 500 trials, 2 repeats, resume of 1000"
    )
    parser.add_argument("--scratch", type=Path, help="folder for the files (default: a temporary folder)")
    options = parser.parse_args()
    if options.quick:
        options.sizes, options.repeats, options.resume_trials, options.resume_repeats = [200, 500], 2, 1000, 3

    methods = options.methods or HYPEROPT_METHODS + OPTUNA_METHODS
    if optuna_version() is None and any(method in OPTUNA_METHODS for method in methods):
        print(
            "Optuna is not installed: skipping optuna-journal and optuna-sqlite (pip install optuna to include them)."
        )
        methods = [method for method in methods if method not in OPTUNA_METHODS]
    if "fmin" not in methods:
        methods.insert(0, "fmin")  # the baseline of every ratio

    scratch = options.scratch or Path(tempfile.mkdtemp(prefix="checkpoint-cost-"))
    scratch.mkdir(parents=True, exist_ok=True)
    print("\n".join(machine()))
    print(f"command: {' '.join(['python', 'benchmarks/checkpoint_cost.py', *sys.argv[1:]])}")
    print(
        f"load average at start: {load_average()}; "
        f"append + fdatasync here: {fdatasync_latency(scratch) * 1000:.2f} ms (median of 200)"
    )
    print(
        f"objective: 3 parameters (uniform, loguniform, choice), TPE, seed {SEED}; "
        f"medians of {options.repeats} runs, each in a fresh process\n",
        flush=True,
    )

    results = benchmark_searches(methods, options.sizes, options.repeats, scratch)
    print(search_table(results, methods, options.sizes))
    print(
        "\n(bytes/trial on disk: the file once the search is over;"
        " vs pickle: against a plain pickle of the same Trials;\n"
        " fdatasync ms: median latency of an append + fdatasync measured just before each run)\n"
    )

    size_rows = []
    if "resumable" in methods:
        for n in options.sizes:
            sizes = in_child("sizes", str(n), str(Path(tempfile.mkdtemp(dir=scratch))))
            size_rows.append(
                [
                    str(n),
                    f"{sizes['final_bytes']:,} ({sizes['final_ratio']:.2f}x)",
                    f"{sizes['largest_bytes']:,}",
                    f"{sizes['worst_ratio']:.2f}x at trial {sizes['worst_at']}",
                    "-"
                    if sizes["worst_past_floor_at"] is None
                    else f"{sizes['worst_ratio_past_floor']:.2f}x at trial {sizes['worst_past_floor_at']}",
                    f"{sizes['backup_bytes']:,}",
                ]
            )
        print("resumable_opt checkpoint size against a plain pickle of the same Trials:")
        print(
            table(
                [
                    "trials",
                    "after the run",
                    "largest mid-run",
                    "worst mid-run",
                    "worst once the pickle > 64 KiB",
                    "NAME.bak after the run",
                ],
                size_rows,
            )
        )
        print()

        folder = Path(tempfile.mkdtemp(dir=scratch))
        built = in_child("build", str(options.resume_trials), str(folder))
        timings: dict[str, list[dict]] = {"resume": [], "load": [], "pickle": []}
        copy = folder / "copy.ckpt"
        for repeat in range(options.resume_repeats):
            order = list(timings) if repeat % 2 == 0 else list(reversed(timings))
            for what in order:
                shutil.copyfile(built["checkpoint"], copy)  # a resume changes the file
                timings[what].append(in_child(what, str(copy), built["pickle"], str(options.resume_trials)))
        size = os.path.getsize(built["checkpoint"])
        plain = os.path.getsize(built["pickle"])
        print(
            f"a {options.resume_trials}-trial checkpoint ({size:,} bytes,"
            f" {size / plain:.2f}x a plain pickle of its Trials, "
            f"{plain:,} bytes), medians of {options.resume_repeats}, each in a fresh process:"
        )
        print(
            table(
                ["what", "seconds"],
                [
                    [
                        "resume: read the checkpoint + first new point asked (TPE)",
                        f"{median_of(timings['resume'], 'seconds'):.3f}",
                    ],
                    ["resumable_opt.load()", f"{median_of(timings['load'], 'seconds'):.3f}"],
                    [
                        "pickle.load of the same Trials (for reference)",
                        f"{median_of(timings['pickle'], 'seconds'):.3f}",
                    ],
                ],
            )
        )
    print(
        f"\nload average at end: {load_average()}; "
        f"append + fdatasync here: {fdatasync_latency(scratch) * 1000:.2f} ms (median of 200)"
    )
    if not options.scratch:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
