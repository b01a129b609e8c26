"""The data-only format (issue 11) and the results it must keep or refuse (issue 10, items 2-4).

Real files and real processes: the writer of each checkpoint is a script run
in its own process (so its classes live in *its* ``__main__``), the readers
are ``resumable-opt`` commands and ``python -c`` run from another folder.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from hyperopt import Trials, fmin, hp, tpe

import resumable_opt
from resumable_opt.checkpoint import records
from resumable_opt.checkpoint.encoding import Pickled

FIXTURES = Path(__file__).parent.parent / "fixtures"

#: A writer whose objective's pickle, and whose results' pickles, touch a marker file when unpickled.
WRITER = textwrap.dedent('''
    import sys
    from pathlib import Path

    from hyperopt import hp

    import resumable_opt

    HERE = Path(sys.argv[2])

    def touch(name):
        (HERE / name).write_text("unpickled")
        return name

    class Metrics:
        """A result value of the writer's own: unpickling it touches result-marker."""

        def __init__(self, accuracy):
            self.accuracy = accuracy

        def __reduce__(self):
            return (touch, ("result-marker",))

    def loss(params):
        return {"loss": (params["x"] - 1) ** 2, "status": "ok", "metrics": Metrics(params["x"]),
                "attachments": {"log": b"trial log"}}

    class Objective:
        """Unpickling the objective touches objective-marker, then gives the real one."""

        def __call__(self, params):
            return loss(params)

        def __reduce__(self):
            return (make_objective, ())

    def make_objective():
        touch("objective-marker")
        return loss

    space = {"x": hp.uniform("x", -3, 3), "kind": hp.choice("kind", ["a", "b"])}
    resumable_opt.minimize(Objective(), space, sys.argv[1], int(sys.argv[3]), seed=2, progress=False)
''')


def markers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*-marker"))


@pytest.fixture
def written(tmp_path):
    """A search written by a script in its own process; readers run from ``elsewhere``."""
    writer = tmp_path / "writer"
    writer.mkdir()
    (writer / "write.py").write_text(WRITER)
    ckpt = writer / "search.ckpt"
    command = [sys.executable, "write.py", str(ckpt), str(writer), "6"]
    done = subprocess.run(command, cwd=writer, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for marker in writer.glob("*-marker"):  # writing may unpickle nothing, but be sure
        marker.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return ckpt, writer, elsewhere


def run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


INSPECT = textwrap.dedent("""
    import sys
    import resumable_opt
    state = resumable_opt.load(sys.argv[1])
    print(repr(state))
    print(state.best, state.best_loss, state.argmin, state.n_trials, state.meta["objective"])
    trials = state.trials
    print(type(trials).__module__, len(trials.trials), trials.losses())
    print(repr(trials.trials[0]["result"]["metrics"]))
    print(sorted(trials.attachments))
    print(state.to_dataframe().shape)
""")


@pytest.mark.slow  # real processes
def test_reading_never_unpickles_and_needs_no_class_of_the_writer(written):
    """show, best --json, trials, export, plot, verify, recover and load() from another
    folder: all work, show placeholders, and leave no marker; resume runs the pickles."""
    ckpt, writer, elsewhere = written
    commands = [
        ["show", ckpt], ["best", ckpt, "--json"], ["best", ckpt], ["trials", ckpt],
        ["trials", ckpt, "--format", "json"],
        ["export", ckpt, "-o", elsewhere / "t.csv"], ["plot", ckpt, "-o", elsewhere / "p.png"],
        ["verify", ckpt], ["recover", ckpt],
    ]  # fmt: skip
    for command in commands:
        done = run(["-m", "resumable_opt", *command], elsewhere)
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr
        assert markers(writer) == [] and markers(elsewhere) == [], command
    assert json.loads(run(["-m", "resumable_opt", "best", ckpt, "--json"], elsewhere).stdout)["tid"] in range(6)
    assert "sound (format 2: data only)" in run(["-m", "resumable_opt", "verify", ckpt], elsewhere).stdout

    done = run(["-c", INSPECT, ckpt], elsewhere)
    assert done.returncode == 0, done.stderr
    assert "hyperopt.base" in done.stdout  # a real hyperopt.Trials
    assert "<pickled __main__.Metrics, " in done.stdout
    assert "ATTACH::0::log" in done.stdout
    assert markers(writer) == [] and markers(elsewhere) == []

    # Resuming is running the search: it unpickles the objective and the results (documented).
    done = run(["-m", "resumable_opt", "resume", ckpt, "--max-evals", "8", "--quiet"], writer)
    assert done.returncode == 0, done.stderr
    assert markers(writer) == ["objective-marker", "result-marker"]


@pytest.mark.filterwarnings("ignore:the objective cannot be pickled")
def test_a_result_that_cannot_be_stored_fails_its_trial_and_the_search_goes_on(tmp_path):
    """Issue 10 item 2: a lock in the result is a failed trial with the reason, never a crash."""
    ckpt = tmp_path / "s.ckpt"
    lock = threading.Lock()

    def objective(params):
        result = {"loss": params["x"] ** 2, "status": "ok"}
        if 0.0 < params["x"] < 1.0:
            result["handle"] = lock
        return result

    state = resumable_opt.minimize(objective, {"x": hp.uniform("x", -1, 1)}, ckpt, 20, seed=0, progress=False)
    loaded = resumable_opt.load(ckpt)
    assert loaded.n_finished == 20 and loaded.runs[-1].outcome == "budget reached"
    failed = [doc for doc in loaded.docs if doc["result"]["status"] == "fail"]
    kept = [doc for doc in loaded.docs if doc["result"]["status"] == "ok"]
    assert failed and kept
    for doc in failed:
        assert 0.0 < doc["misc"]["vals"]["x"][0] < 1.0
        assert "the result cannot be stored: TypeError: cannot pickle '_thread.lock' object" in doc["result"]["failure"]
    assert all(doc["misc"]["vals"]["x"][0] <= 0.0 for doc in kept)
    assert state.n_failed == len(failed) and loaded.attempts == {}
    assert resumable_opt.verify(ckpt).sound


@pytest.mark.slow  # real processes
def test_a_result_that_cannot_be_stored_is_no_process_death_in_a_child_process(tmp_path):
    """The same through the command line's resume, in a real process: exit 0, no traceback."""
    script = tmp_path / "s.py"
    script.write_text(
        textwrap.dedent("""
        import sys, threading
        from hyperopt import hp
        import resumable_opt
        def objective(params):
            return {"loss": params["x"], "status": "ok", "lock": threading.Lock()}
        resumable_opt.minimize(objective, {"x": hp.uniform("x", 0, 1)}, sys.argv[1], 5, seed=0, progress=False,
                               stop_after_initial_failures=None)
    """)
    )
    done = run([script, tmp_path / "s.ckpt"], tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    state = resumable_opt.load(tmp_path / "s.ckpt")
    assert state.n_failed == 5 and not state.attempts
    assert all("ProcessDied" not in doc["result"]["failure"] for doc in state.docs)


def with_attachments(params):
    attachments = {"log": f"x={params['x']}".encode(), "curve": np.arange(3) * params["x"]}
    return {"loss": params["x"] ** 2, "status": "ok", "attachments": attachments}


def test_attachments_are_stored_and_given_back(tmp_path):
    """Issue 10 item 4: load(), a resumed run and fmin's own Trials all have them."""
    ckpt = tmp_path / "a.ckpt"
    trials = Trials()
    trials.attachments["note"] = "set by the user"
    resumable_opt.fmin(with_attachments, {"x": hp.uniform("x", -1, 1)}, tpe.suggest, 5, trials=trials, checkpoint=ckpt,
                       rstate=np.random.default_rng(0), show_progressbar=False)  # fmt: skip
    loaded = resumable_opt.load(ckpt).trials
    assert len([name for name in loaded.attachments if name.startswith("ATTACH::")]) == 10
    assert loaded.attachments["note"] == "set by the user"
    for doc in loaded.trials:
        assert loaded.trial_attachments(doc)["log"] == f"x={doc['misc']['vals']['x'][0]}".encode()
        assert np.array_equal(loaded.trial_attachments(doc)["curve"], np.arange(3) * doc["misc"]["vals"]["x"][0])
        assert "attachments" not in doc["result"]
    assert sorted(trials.attachments) == sorted(loaded.attachments)

    again = Trials()
    resumable_opt.fmin(with_attachments, {"x": hp.uniform("x", -1, 1)}, tpe.suggest, 8, trials=again, checkpoint=ckpt,
                       rstate=np.random.default_rng(0), show_progressbar=False)  # fmt: skip
    assert len([name for name in again.attachments if name.startswith("ATTACH::")]) == 16
    assert len([name for name in resumable_opt.load(ckpt).trials.attachments if name.startswith("ATTACH::")]) == 16


def test_attachments_come_along_with_imported_trials(tmp_path):
    space = {"x": hp.uniform("x", -1, 1)}
    theirs = Trials()
    rstate = np.random.default_rng(0)
    fmin(with_attachments, space, tpe.suggest, 5, trials=theirs, rstate=rstate, show_progressbar=False)
    assert len(theirs.attachments) == 10
    saved = tmp_path / "trials.pkl"
    saved.write_bytes(pickle.dumps(theirs))
    resumable_opt.import_trials(saved, space, tmp_path / "i.ckpt", fn=with_attachments)
    loaded = resumable_opt.load(tmp_path / "i.ckpt").trials
    assert sorted(loaded.attachments) == sorted(theirs.attachments)
    assert loaded.trial_attachments(loaded.trials[2])["log"] == theirs.trial_attachments(theirs.trials[2])["log"]


@pytest.mark.slow  # real processes
def test_the_first_format_is_read_and_converted_by_the_next_run(tmp_path):
    ckpt = tmp_path / "v1.ckpt"
    shutil.copy(FIXTURES / "v1.ckpt", ckpt)
    before = resumable_opt.load(ckpt)
    assert before.format_version == 1 and before.n_trials == 9 and before.n_pending == 1
    assert "format 1: pickled records" in str(resumable_opt.verify(ckpt))
    results = [doc["result"] for doc in before.trials.trials]
    assert results[0]["pair"] == (1, "one") and isinstance(results[0]["curve"], np.ndarray)
    pending_vals = before.docs[8]["misc"]["vals"]
    shown = run(["-m", "resumable_opt", "show", ckpt], tmp_path)
    assert shown.returncode == 0 and "first checkpoint format" in shown.stderr

    resumable_opt.minimize(None, None, ckpt, 12, progress=False)  # the objective and space stored in it
    after = resumable_opt.load(ckpt)
    assert after.format_version == 2 and after.n_finished == 12
    assert "format 2: data only" in str(resumable_opt.verify(ckpt))
    assert after.docs[8]["misc"]["vals"] == pending_vals and after.docs[8]["result"]["status"] == "ok"
    kept = after.trials.trials[0]["result"]
    assert kept["pair"] == (1, "one") and np.array_equal(kept["curve"], results[0]["curve"])
    assert [doc["result"]["loss"] for doc in after.docs[:8]] == [doc["result"]["loss"] for doc in before.docs[:8]]
    assert after.best is not None and set(after.best) == {"kind", "x", "lr"}


@pytest.mark.slow  # real processes
def test_sound_records_that_do_not_decode_here_are_not_damage(tmp_path):
    """Issue 10 item 3, on a first-format file (pickles) holding a class that is not importable
    here: verify says intact, recover refuses and changes nothing."""
    module = tmp_path / "gone_module.py"
    module.write_text("class Metrics:\n    def __init__(self, a):\n        self.a = a\n")
    payloads = records.read_records((FIXTURES / "v1.ckpt").read_bytes(), "v1").payloads
    sys.path.insert(0, str(tmp_path))
    try:
        import gone_module

        snapshot = pickle.loads(payloads[0])
        snapshot[1]["docs"][0]["result"]["metrics"] = gone_module.Metrics(1)
        payloads[0] = pickle.dumps(snapshot)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("gone_module", None)
    module.unlink()
    ckpt = tmp_path / "old.ckpt"
    ckpt.write_bytes(records.encode_header(1) + b"".join(records.encode_record(p) for p in payloads))
    content = ckpt.read_bytes()

    verified = run(["-m", "resumable_opt", "verify", ckpt], tmp_path)
    assert verified.returncode != 0
    assert "intact" in verified.stderr and "NOT sound" not in verified.stderr
    assert "gone_module" in verified.stderr and "nothing is damaged" in verified.stderr
    recovered = run(["-m", "resumable_opt", "recover", ckpt], tmp_path)
    assert recovered.returncode != 0 and "nothing to recover" in recovered.stderr
    assert ckpt.read_bytes() == content and not list(tmp_path.glob("old.ckpt.damaged-*"))


@pytest.mark.slow  # real processes
def test_results_of_the_writers_own_classes_read_anywhere_as_placeholders(written):
    ckpt, writer, elsewhere = written
    state = resumable_opt.load(ckpt)
    metrics = state.docs[0]["result"]["metrics"]
    assert isinstance(metrics, Pickled) and metrics.type_name == "__main__.Metrics"
    assert repr(metrics) == f"<pickled __main__.Metrics, {len(metrics.data)} bytes>"
    assert resumable_opt.verify(ckpt).sound


def large_objective(data):
    def objective(params):
        return params["x"] + len(data) * 0

    return objective


def test_a_large_objective_warns_and_can_be_left_out(tmp_path):
    space = {"x": hp.uniform("x", 0, 1)}
    big = large_objective(np.ones(11 << 17))  # 11 MB
    with pytest.warns(UserWarning, match=r"the objective takes 11 MB pickled.*store_objective=False"):
        resumable_opt.minimize(big, space, tmp_path / "big.ckpt", 2, seed=0, progress=False)
    assert (tmp_path / "big.ckpt").stat().st_size > 11 << 20

    small = tmp_path / "small.ckpt"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumable_opt.minimize(big, space, small, 2, seed=0, progress=False, store_objective=False)
    assert small.stat().st_size < 64 << 10
    state = resumable_opt.load(small)
    assert state.meta["objective"] is None and state.objective_name.endswith("large_objective.<locals>.objective")
    with pytest.raises(resumable_opt.ResumableOptError, match="pass it to resume"):
        resumable_opt.minimize(None, None, small, 3, progress=False)
    resumable_opt.minimize(big, space, small, 3, progress=False)
    assert resumable_opt.load(small).n_finished == 3


def exact(value):
    """A value with its type, bit for bit (numpy scalars by their bytes), containers walked."""
    if isinstance(value, dict):
        return {key: exact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value), [exact(item) for item in value])
    if isinstance(value, (np.generic, float)):
        return (type(value), np.asarray(value).tobytes())
    return (type(value), value)


@pytest.mark.parametrize("space_name", ["choices", "uniforms", "normals", "nested"])
@pytest.mark.parametrize("algo_name", ["tpe", "rand", "anneal", "mix", "tpe_partial"])
def test_trials_read_back_equal_hyperopts_in_memory_trials_bit_for_bit(tmp_path, space_name, algo_name):
    from dropin_spaces import ALGOS, SPACES, loss_of

    n = 10
    theirs = Trials()
    rstate = np.random.default_rng(7)
    fmin(loss_of, SPACES[space_name](), ALGOS[algo_name], n, trials=theirs, rstate=rstate, show_progressbar=False)
    ours = Trials()
    resumable_opt.fmin(loss_of, SPACES[space_name](), ALGOS[algo_name], n, trials=ours, rstate=np.random.default_rng(7),
                       show_progressbar=False, checkpoint=tmp_path / "s.ckpt")  # fmt: skip
    loaded = resumable_opt.load(tmp_path / "s.ckpt").trials
    for read, written, hyperopts in zip(loaded.trials, ours.trials, theirs.trials, strict=True):
        for key in ("tid", "state"):
            assert read[key] == hyperopts[key]
        assert exact(read["misc"]["vals"]) == exact(hyperopts["misc"]["vals"])
        assert exact(read["misc"]["idxs"]) == exact(hyperopts["misc"]["idxs"])
        assert exact(read["result"]) == exact(hyperopts["result"])
        # The times are the run's own: read back exactly as the run held them.
        assert (read["book_time"], read["refresh_time"]) == (written["book_time"], written["refresh_time"])
        assert exact(read) == exact(written)
    assert exact(loaded.losses()) == exact(theirs.losses()) and loaded.statuses() == theirs.statuses()
