"""Looking at a search imports neither hyperopt nor numpy (format 2 stores data, decoded):
the inspecting commands cost about what starting Python costs (benchmarks/inspect_speed.py)."""

import subprocess
import sys

import pytest
from hyperopt import hp, rand

import resumable_opt

CHECK = """
import sys
from resumable_opt.cli import main
status = main(sys.argv[1:])
heavy = sorted(name for name in ("hyperopt", "numpy", "scipy") if name in sys.modules)
print("IMPORTED:", ",".join(heavy), file=sys.stderr)
sys.exit(status)
"""


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    path = tmp_path_factory.mktemp("imports") / "s.ckpt"
    space = {"x": hp.uniform("x", -5, 5), "k": hp.choice("k", [1, {"deep": hp.loguniform("deep", -3, 0)}])}
    resumable_opt.minimize(lambda p: p["x"] ** 2, space, path, max_evals=12, algo=rand.suggest, seed=0, progress=False)
    return path


@pytest.mark.parametrize(
    "args", [("best", "--json"), ("best",), ("show",), ("trials",), ("trials", "--format", "json")], ids=" ".join
)
def test_inspecting_imports_no_hyperopt_nor_numpy(search, args):
    done = subprocess.run(
        [sys.executable, "-c", CHECK, args[0], str(search), *args[1:]], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "IMPORTED: \n" in done.stderr, done.stderr
