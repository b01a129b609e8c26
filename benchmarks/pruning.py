"""Pruning long trials: how many epochs it saves, and at what cost in the best loss.

The task trains scikit-learn's ``SGDClassifier`` (logistic loss) epoch by
epoch with ``partial_fit`` on the digits data that ships with scikit-learn,
and reports the validation log-loss after each epoch.  Each search runs 60
trials of up to 20 epochs with TPE and the same seed, with no pruner,
``MedianPruner()`` and ``SuccessiveHalvingPruner()``, and Optuna's
``MedianPruner`` with its own TPE on the same task, side by side (skipped
when Optuna is not installed).  The table gives, per method, the medians over
the seeds of: epochs computed, wall time, best validation loss, and their
ratio to the unpruned search.

Then it shows a 20-epoch trial stopped by a real Ctrl-C (SIGINT) at epoch 15
and resumed: the second run starts at epoch 15.

    python benchmarks/pruning.py                 # 3 seeds
    python benchmarks/pruning.py --seeds 1       # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from hyperopt import hp
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import resumable_opt

TRIALS, EPOCHS = 60, 20
LEARNING_RATES = ["constant", "invscaling", "adaptive", "optimal"]
PENALTIES = ["l2", "l1", "elasticnet"]
SPACE = {
    "alpha": hp.loguniform("alpha", np.log(1e-6), np.log(1e-1)),
    "eta0": hp.loguniform("eta0", np.log(1e-4), np.log(1.0)),
    "learning_rate": hp.choice("learning_rate", LEARNING_RATES),
    "penalty": hp.choice("penalty", PENALTIES),
}


def data() -> tuple:
    x, y = load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_valid), y_train, y_valid


X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = data()
CLASSES = np.unique(Y_TRAIN)


class Task:
    """Trains one configuration epoch by epoch; counts every epoch computed."""

    def __init__(self) -> None:
        self.epochs = 0

    def model(self, params: dict) -> SGDClassifier:
        return SGDClassifier(loss="log_loss", random_state=0, **params)

    def epoch(self, model: SGDClassifier, epoch: int) -> float:
        self.epochs += 1
        order = np.random.default_rng(epoch).permutation(len(X_TRAIN))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(X_TRAIN[order], Y_TRAIN[order], classes=CLASSES)
            return float(log_loss(Y_VALID, model.predict_proba(X_VALID), labels=CLASSES))


class ResumableObjective:
    """The objective with ``current_trial()``: report, prune, save its state."""

    def __init__(self, task: Task, save_state: bool, epoch_log: str | None = None) -> None:
        self.task = task
        self.save_state = save_state
        self.epoch_log = epoch_log

    def __call__(self, params: dict) -> float:
        trial = resumable_opt.current_trial()
        state = trial.load_state(default=None) if self.save_state else None
        model, start, loss = (self.task.model(params), 0, None) if state is None else state
        for epoch in range(start, EPOCHS):
            if self.epoch_log:
                with open(self.epoch_log, "a") as log:
                    log.write(
                        f"run {os.environ.get('RUN', '?')}: trial {trial.tid}, attempt {trial.attempt}, epoch {epoch}\n"
                    )
                time.sleep(0.05)  # a longer epoch, so that the Ctrl-C lands in it
            loss = self.task.epoch(model, epoch)
            trial.report(epoch, loss)
            if trial.should_prune():
                raise resumable_opt.TrialPruned()
            if self.save_state:
                trial.save_state((model, epoch + 1, loss))
        return loss


PRUNERS = {
    "no pruner": lambda: None,
    "MedianPruner()": resumable_opt.MedianPruner,
    "MedianPruner(n_warmup_steps=3)": lambda: resumable_opt.MedianPruner(n_warmup_steps=3),
    "SuccessiveHalvingPruner()": resumable_opt.SuccessiveHalvingPruner,
    "SuccessiveHalvingPruner(reduction_factor=3, min_early_stopping_rate=1)": lambda: (
        resumable_opt.SuccessiveHalvingPruner(reduction_factor=3, min_early_stopping_rate=1)
    ),
}


def run_resumable(pruner_name: str, seed: int, folder: Path, save_state: bool) -> tuple[int, float, float]:
    pruner = PRUNERS[pruner_name]()
    task = Task()
    ckpt = folder / f"{len(list(folder.iterdir()))}.ckpt"
    started = time.perf_counter()
    state = resumable_opt.minimize(
        ResumableObjective(task, save_state), SPACE, ckpt, TRIALS, seed=seed, pruner=pruner, progress=False
    )
    wall = time.perf_counter() - started
    best_full = min(doc["result"]["loss"] for doc in state.trials.trials if not doc["result"].get("pruned"))
    return task.epochs, wall, best_full


def run_optuna(seed: int) -> tuple[int, float, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = Task()

    def objective(trial: optuna.Trial) -> float:
        params = {
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "eta0": trial.suggest_float("eta0", 1e-4, 1.0, log=True),
            "learning_rate": trial.suggest_categorical("learning_rate", LEARNING_RATES),
            "penalty": trial.suggest_categorical("penalty", PENALTIES),
        }
        model = task.model(params)
        loss = float("nan")
        for epoch in range(EPOCHS):
            loss = task.epoch(model, epoch)
            trial.report(loss, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=optuna.pruners.MedianPruner())
    started = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS)
    return task.epochs, time.perf_counter() - started, study.best_value


OPTUNA = "Optuna: MedianPruner() with its TPESampler"


def comparison(seeds: int, save_state: bool) -> None:
    methods = list(PRUNERS)
    try:
        import optuna  # noqa: F401

        methods.append(OPTUNA)
    except ImportError:
        print("(Optuna is not installed: its column is skipped; pip install optuna to include it)")
    results: dict[str, list[tuple[int, float, float]]] = {method: [] for method in methods}
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(seeds):
            for method in methods:
                if method == OPTUNA:
                    result = run_optuna(seed)
                else:
                    result = run_resumable(method, seed, Path(folder), save_state)
                results[method].append(result)
                epochs, wall, loss = result
                print(
                    f"  seed {seed}  {method[:40]:<40} epochs {epochs:5d}  wall {wall:6.2f} s  best loss {loss:.5f}",
                    flush=True,
                )
    base_epochs, base_wall, base_loss = (
        statistics.median(values) for values in zip(*results["no pruner"], strict=True)
    )
    print()
    head = f"method ({TRIALS} trials x {EPOCHS} epochs, TPE)"
    print(f"| {head} | epochs | vs none | wall s | vs none | best val. loss | vs none |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for method in methods:
        epochs, wall, loss = (statistics.median(values) for values in zip(*results[method], strict=True))
        label = method if method == OPTUNA else f"resumable-opt, {method}"
        print(
            f"| {label} | {epochs:.0f} | {epochs / base_epochs:.2f}x | {wall:.1f} | {wall / base_wall:.2f}x "
            f"| {loss:.4f} | {100 * (loss / base_loss - 1):+.1f} % |"
        )
    print(f"(medians over {seeds} seed(s); best val. loss: the best trial that ran all its epochs)")


def resume_demo() -> None:
    """A 20-epoch trial, Ctrl-C at epoch 15, run again: it goes on at epoch 15."""
    with tempfile.TemporaryDirectory() as folder:
        ckpt, log = Path(folder) / "demo.ckpt", Path(folder) / "epochs.log"
        command = [sys.executable, __file__, "--child", str(ckpt), str(log)]
        first = subprocess.Popen(command, env={**os.environ, "RUN": "1"}, stderr=subprocess.DEVNULL)
        while "epoch 15" not in (log.read_text() if log.exists() else ""):
            if first.poll() is not None:
                raise SystemExit("the first run ended before epoch 15")
            time.sleep(0.005)
        first.send_signal(signal.SIGINT)
        print(f"first run: Ctrl-C (SIGINT) during epoch 15; it exited with status {first.wait()}")
        subprocess.run(command, env={**os.environ, "RUN": "2"}, stderr=subprocess.DEVNULL, check=True)
        lines = log.read_text().splitlines()
        for line in lines[:2] + ["..."] + lines[14:]:
            print("  " + line)
        state = resumable_opt.load(ckpt)
        print(
            f"epochs computed: {len(lines)} for a 20-epoch trial (epoch 15, cut short, twice); "
            f"the trial's reported steps: {list(state.intermediate(0))[0]}..{list(state.intermediate(0))[-1]}"
        )


def child(ckpt: str, log: str) -> None:
    objective = ResumableObjective(Task(), save_state=True, epoch_log=log)
    resumable_opt.minimize(objective, SPACE, ckpt, 1, seed=0, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="searches per method (default: %(default)s)")
    parser.add_argument("--save-state", action="store_true", help="also save_state after every epoch (fsync'd)")
    parser.add_argument("--child", nargs=2, metavar=("CKPT", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}; python {platform.python_version()}")
    print(f"load average at start: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print(
        f"task: SGDClassifier(loss='log_loss').partial_fit on load_digits "
        f"({len(X_TRAIN)} train / {len(X_VALID)} validation), "
        f"{TRIALS} trials x {EPOCHS} epochs, seeds 0..{args.seeds - 1}, save_state: {args.save_state}"
    )
    comparison(args.seeds, args.save_state)
    print()
    resume_demo()
    print(f"load average at end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
