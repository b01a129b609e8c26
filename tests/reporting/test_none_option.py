"""A chosen option None and "not used in this trial" stay apart in every view of the rows;
the terminal table fits the terminal."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pytest

import resumable_opt
from searches import SPACES, loss_of
from terminal import needs_tmux


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    path = tmp_path_factory.mktemp("wide") / "wide.ckpt"
    resumable_opt.minimize(loss_of, SPACES["wide"](), path, 30, seed=2, progress=False)
    return path


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "resumable_opt", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def kinds(state):
    """Per tid: "none" (option None chosen), "full" or "subsample"."""
    return {row_tid: ("none" if point is None else point["mode"]) for row_tid, point in chosen(state).items()}


def chosen(state):
    return {doc["tid"]: state.decoded(doc)["sampling"] for doc in state.trials._dynamic_trials}


def test_csv_writes_none_for_the_option_and_leaves_unused_empty(wide):
    state = resumable_opt.load(wide)
    by_tid = kinds(state)
    assert set(by_tid.values()) == {"none", "full", "subsample"}
    rows = list(csv.DictReader(io.StringIO(cli("trials", wide, "--format", "csv").stdout)))
    for row in rows:
        kind = by_tid[int(row["tid"])]
        assert (row["sampling"] == "None") == (kind == "none"), row
        assert (row["min_samples_leaf"] == "") == (kind != "full"), row
        assert (row["fraction_of_rows"] == "") == (kind != "subsample"), row
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(io.StringIO(cli("trials", wide, "--format", "csv").stdout), keep_default_na=False)
    assert (frame["sampling"] == "None").sum() == list(by_tid.values()).count("none")


def test_json_has_null_for_the_option_and_no_key_where_unused(wide):
    by_tid = kinds(resumable_opt.load(wide))
    for row in json.loads(cli("trials", wide, "--format", "json").stdout):
        kind = by_tid[row["tid"]]
        assert ("sampling" in row) and ((row["sampling"] is None) == (kind == "none"))
        assert ("min_samples_leaf" in row) == (kind == "full")


def test_dataframe_has_the_object_none_and_nan_where_unused(wide):
    pytest.importorskip("pandas")
    state = resumable_opt.load(wide)
    by_tid = kinds(state)
    frame = state.to_dataframe()
    for _, row in frame.iterrows():
        kind = by_tid[row["tid"]]
        assert (row["sampling"] is None) == (kind == "none")
        leaf = row["min_samples_leaf"]
        assert (isinstance(leaf, float) and math.isnan(leaf)) == (kind != "full")


def test_the_terminal_table_shows_none_apart_from_unused(wide):
    done = subprocess.run(
        ["script", "-qec", f"{sys.executable} -m resumable_opt trials {wide}", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "COLUMNS": "200"},
    )
    lines = done.stdout.replace("\r", "").splitlines()
    header = lines[0].split()
    assert header[:3] == ["tid", "status", "loss"] and "sampling" in header
    assert any(" None " in line for line in lines[2:])


@needs_tmux
def test_the_trials_table_fits_a_narrow_terminal(wide, screens, tmp_path):
    screen = screens([sys.executable, "-m", "resumable_opt", "trials", str(wide)], tmp_path, width=72)
    shown = screen.wait_for("[exit 0]").splitlines()
    notes = [index for index, line in enumerate(shown) if line.startswith("note:")]
    table = shown[: min(notes)] if notes else shown
    assert table[0].split()[:3] == ["tid", "status", "loss"] and "duration" in table[0].split()
    assert len(table) == 2 + 30 and all(line.split()[1] in ("ok", "fail") for line in table[2:]), (
        shown
    )  # nothing wrapped
    assert all(len(line) < 72 for line in table)
    note = "".join(shown[min(notes) :])
    assert note.startswith("note: columns left out to fit the terminal: ") and "started" in note


def test_a_numeric_choice_keeps_none_apart_from_unused_in_the_dataframe(tmp_path):
    pytest.importorskip("pandas")
    from hyperopt import hp

    space = {"branch": hp.choice("branch", [{"k": hp.choice("k", [None, 3, 5])}, "off"])}
    state = resumable_opt.minimize(lambda p: 1.0, space, tmp_path / "k.ckpt", 30, seed=0, progress=False)
    frame = state.to_dataframe()
    seen = set()
    for _, row in frame.iterrows():
        point = state.decoded(next(d for d in state.trials._dynamic_trials if d["tid"] == row["tid"]))["branch"]
        if point == "off":
            assert isinstance(row["k"], float) and math.isnan(row["k"])
            seen.add("unused")
        else:
            assert row["k"] is point["k"] if point["k"] is None else row["k"] == point["k"]
            seen.add("none" if point["k"] is None else "number")
    assert seen == {"unused", "none", "number"}
