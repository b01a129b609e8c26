"""A plain hyperopt script made resumable by changing one import.

The only differences from a ``hyperopt.fmin`` script: ``fmin`` comes from
resumable_opt, and it gets ``checkpoint=``.  Ctrl-C it and run it again: with
``rstate`` given, the finished search is the one an uninterrupted
``hyperopt.fmin`` would have made.
"""

import argparse

import numpy as np
from hyperopt import STATUS_OK, Trials, hp, space_eval, tpe

from resumable_opt import fmin  # was: from hyperopt import fmin

SPACE = hp.choice(
    "model",
    [
        {"kind": "linear", "slope": hp.uniform("slope", -2, 2)},
        {"kind": "quadratic", "a": hp.loguniform("a", -3, 1), "b": hp.normal("b", 0, 1)},
    ],
)


def objective(params):
    if params["kind"] == "linear":
        loss = (params["slope"] - 0.5) ** 2 + 0.1
    else:
        loss = (params["a"] - 0.2) ** 2 + params["b"] ** 2
    return {"loss": loss, "status": STATUS_OK}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="checkpoints/fmin.ckpt")
    parser.add_argument("--max-evals", type=int, default=100)
    args = parser.parse_args()
    trials = Trials()
    best = fmin(
        objective,
        SPACE,
        algo=tpe.suggest,
        max_evals=args.max_evals,
        trials=trials,
        rstate=np.random.default_rng(0),
        checkpoint=args.checkpoint,
    )
    print(f"{len(trials.trials)} trials; best: {space_eval(SPACE, best)}")


if __name__ == "__main__":
    main()
