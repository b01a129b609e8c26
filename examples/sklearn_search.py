"""Tune a scikit-learn classifier with a search that survives Ctrl-C.

Run it, press Ctrl-C whenever you like, and run it again: it resumes where it
stopped.  Look at it from another terminal with
``resumable-opt show checkpoints/sklearn.ckpt``.

Needs scikit-learn (``pip install scikit-learn``).
"""

import argparse

from hyperopt import hp
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

import resumable_opt

SPACE = {
    "n_estimators": hp.quniform("n_estimators", 10, 100, 10),
    "max_depth": hp.choice("max_depth", [None, 3, 6, 12]),
    "max_features": hp.uniform("max_features", 0.1, 1.0),
    "criterion": hp.choice("criterion", ["gini", "entropy"]),
}


def objective(params):
    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(
        n_estimators=int(params["n_estimators"]),
        max_depth=params["max_depth"],
        max_features=params["max_features"],
        criterion=params["criterion"],
        random_state=0,
        n_jobs=1,
    )
    accuracy = cross_val_score(model, X, y, cv=3).mean()
    return {"loss": 1.0 - accuracy, "status": "ok", "accuracy": accuracy}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="checkpoints/sklearn.ckpt")
    parser.add_argument("--max-evals", type=int, default=50)
    args = parser.parse_args()
    state = resumable_opt.minimize(objective, SPACE, args.checkpoint, args.max_evals, seed=0)
    print(f"best accuracy {1 - state.best_loss:.4f} with {state.best}")


if __name__ == "__main__":
    main()
