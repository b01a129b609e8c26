"""Long trials: each trial trains for many epochs, survives Ctrl-C mid-trial, and
hopeless trials are pruned.

Inside the objective, ``resumable_opt.current_trial()`` saves the trial's own
state after each epoch (an interrupted trial goes on from its last epoch when the
search is resumed) and reports the validation loss, which the pruner uses to stop
trials that do worse than the median of earlier trials at the same epoch.

Needs scikit-learn (``pip install scikit-learn``).
"""

import argparse
import warnings

import numpy as np
from hyperopt import hp
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

import resumable_opt

EPOCHS = 10
SPACE = {
    "alpha": hp.loguniform("alpha", np.log(1e-6), np.log(1e-1)),
    "eta0": hp.loguniform("eta0", np.log(1e-4), np.log(1.0)),
    "learning_rate": hp.choice("learning_rate", ["constant", "invscaling", "adaptive"]),
}

X, y = load_digits(return_X_y=True)
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = train_test_split(X / 16, y, test_size=0.3, random_state=0)
CLASSES = np.arange(10)


def objective(params):
    trial = resumable_opt.current_trial()
    saved = trial.load_state(default=None)  # set when an earlier run of this trial was interrupted
    model, start = saved if saved is not None else (SGDClassifier(loss="log_loss", random_state=0, **params), 0)
    for epoch in range(start, EPOCHS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SGD's convergence warnings, one per epoch
            model.partial_fit(X_TRAIN, Y_TRAIN, classes=CLASSES)
        val_loss = log_loss(Y_VALID, model.predict_proba(X_VALID), labels=CLASSES)
        trial.report(epoch, val_loss)  # durable in the checkpoint
        if trial.should_prune():
            raise resumable_opt.TrialPruned()  # recorded as finished, with the last reported loss
        trial.save_state((model, epoch + 1))  # an interruption after this resumes at the next epoch
    return val_loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="checkpoints/digits.ckpt")
    parser.add_argument("--max-evals", type=int, default=30)
    args = parser.parse_args()
    state = resumable_opt.minimize(
        objective, SPACE, args.checkpoint, args.max_evals, seed=0, pruner=resumable_opt.MedianPruner()
    )
    pruned = sum(1 for doc in state.trials.trials if doc["result"].get("pruned"))
    print(f"{pruned} of {state.n_trials} trials pruned; best loss {state.best_loss:.4f} with {state.best}")


if __name__ == "__main__":
    main()
