"""A search whose trials run on a Dask cluster, here a LocalCluster.

The runner stays the single owner of the checkpoint: Ctrl-C cancels the trials
in flight, saves and exits; running the script again resumes, running the
cancelled trials first.  For a real cluster, replace the LocalCluster with
``Client("tcp://SCHEDULER:8786")``.

Needs ``pip install "resumable-opt[dask]"``.
"""

import argparse
import time

from dask.distributed import Client, LocalCluster
from hyperopt import hp

import resumable_opt

SPACE = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}


def objective(params):
    time.sleep(0.2)  # stands in for real work on a worker
    return (params["x"] - 1) ** 2 + (params["y"] + 2) ** 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="checkpoints/dask.ckpt")
    parser.add_argument("--max-evals", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    # One thread per worker process: one trial per worker at a time.
    with (
        LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True) as cluster,
        Client(cluster) as client,
    ):
        state = resumable_opt.minimize(objective, SPACE, args.checkpoint, args.max_evals, executor=client, seed=0)
    print(f"best loss {state.best_loss:.4g} at {state.best}")


if __name__ == "__main__":
    main()
