"""No numpy reprs where a person reads, and a path typed without its suffix is suggested."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hyperopt import hp

import resumable_opt


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "resumable_opt", *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_show_and_argmin_have_no_numpy_reprs(tmp_path):
    path = tmp_path / "search.ckpt"
    space = {
        "lr": hp.loguniform("lr", np.log(0.01), np.float64(0.0)),
        "k": hp.choice("k", [np.float64(0.5), np.int64(3), None]),
    }
    resumable_opt.minimize(lambda p: p["lr"], space, path, 5, seed=1, progress=False)
    state = resumable_opt.load(path)
    assert type(state.argmin["k"]) is int and type(state.argmin["lr"]) is float, state.argmin
    assert "np." not in repr(state.argmin)
    shown = cli("show", path).stdout
    assert "np." not in shown and "np." not in repr(state)
    assert "lr  loguniform(-4.61, 0)  (values 0.01 to 1)" in shown
    assert "k   choice of [0.5, 3, None]" in shown


def test_show_suggests_the_checkpoint_with_its_suffix(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    resumable_opt.minimize(
        lambda p: p["x"],
        {"x": hp.uniform("x", 0, 1)},
        tmp_path / "checkpoints" / "long.ckpt",
        2,
        seed=1,
        progress=False,
    )
    done = cli("show", "checkpoints/long", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert (
        done.stderr
        == "resumable-opt: error: checkpoints/long: no such checkpoint (did you mean checkpoints/long.ckpt?)\n"
    )
