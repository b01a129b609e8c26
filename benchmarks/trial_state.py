"""What ``current_trial().save_state`` costs: the time to save (and load) a state
of a given size, durably (written, fsynced, renamed into place, folder fsynced).

    python benchmarks/trial_state.py            # a 100 MB state, median of 5
    python benchmarks/trial_state.py --mb 10 --repeat 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from resumable_opt.trial import TrialTicket
from resumable_opt.trial.context import running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=100, help="size of the state in MB (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=5, help="saves to time (default: %(default)s)")
    parser.add_argument(
        "--folder", type=Path, default=None, help="where the checkpoint would be (default: a temporary folder)"
    )
    args = parser.parse_args()
    state = {"weights": np.random.default_rng(0).random(int(args.mb * 1e6 / 8)), "epoch": 15}
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        checkpoint = Path(folder) / "search.ckpt"
        checkpoint.touch()
        ticket = TrialTicket(0, 1, str(checkpoint), "benchmark")
        saves, loads = [], []
        with running(ticket, {}, {}, lambda *message: ("ok", False)) as trial:
            for _ in range(args.repeat):
                started = time.perf_counter()
                size = trial.save_state(state)
                saves.append(time.perf_counter() - started)
                started = time.perf_counter()
                loaded = trial.load_state()
                loads.append(time.perf_counter() - started)
                assert loaded["epoch"] == 15 and np.array_equal(loaded["weights"], state["weights"])
    print(
        f"folder: {args.folder or tempfile.gettempdir()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(
        f"state of {size / 1e6:.1f} MB: save_state median {statistics.median(saves):.3f} s "
        f"(min {min(saves):.3f}, max {max(saves):.3f}; {size / 1e6 / statistics.median(saves):.0f} MB/s), "
        f"load_state median {statistics.median(loads):.3f} s, over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
