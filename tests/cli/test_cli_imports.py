"""Looking at a search imports neither hyperopt nor numpy (format 2 stores data, decoded),
nor a progress bar: what the inspecting commands cost is mostly starting Python
(benchmarks/inspect_speed.py)."""

import ast
import json
import subprocess
import sys

import pytest
from hyperopt import hp, rand

import resumable_opt

CHECK = """
import json
import sys
from resumable_opt.cli import main
status = main(sys.argv[1:])
print("IMPORTED:", json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(status)
"""


def imported_by(*argv: str) -> set[str]:
    """The modules imported by running the command ``argv`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", CHECK, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.rpartition("IMPORTED: ")[2]))


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
    assert not imported_by(args[0], str(search), *args[1:]) & {"hyperopt", "numpy", "scipy", "tqdm"}


def test_best_imports_only_what_it_needs(search):
    """No progress bar (tqdm), no table (tabulate), no other command's module:
    each takes longer to import than ``best`` takes to run.  Nor the standard
    modules that would take a third of its time: ``dataclasses`` (it imports
    ``inspect``, ``ast``, ``dis``), ``typing``, ``shutil`` (``bz2``, ``lzma``),
    unless Python's own start-up imports them here already."""
    imported = imported_by("best", str(search), "--json")
    assert not imported & {"tqdm", "tabulate", "resumable_opt.cli.show", "resumable_opt.checkpoint.recovery"}
    assert "resumable_opt.cli.best" in imported
    started = subprocess.run(
        [sys.executable, "-c", "import sys; print(repr(sorted(sys.modules)))"], capture_output=True, text=True
    )
    at_start = set(ast.literal_eval(started.stdout))
    assert not (imported - at_start) & {"dataclasses", "inspect", "typing", "shutil", "bz2", "lzma", "glob"}
