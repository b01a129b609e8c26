"""The summary (``repr``, ``show``), its HTML for Jupyter, and ``to_dataframe()``."""

import sys
from html.parser import HTMLParser

import pytest

import resumable_opt
from resumable_opt.reporting.extras import MissingExtra
from resumable_opt.reporting.rows import trial_table
from resumable_opt.search_state import SearchState
from searches import SPACES, loss_of


@pytest.fixture
def two_runs(tmp_path):
    folder = tmp_path / "a<b&c"  # a name that HTML must escape
    folder.mkdir()
    path = folder / "search.ckpt"
    resumable_opt.minimize(loss_of, SPACES["mixed"](), path, 4, seed=3, progress=False)
    return resumable_opt.minimize(loss_of, SPACES["mixed"](), path, 7, seed=3, progress=False)


def test_summary_tells_the_history_of_runs(two_runs):
    text = repr(two_runs)
    assert "trials:    7 of 7 finished (0 failed), 0 running, 0 pending" in text
    assert "over 2 runs" in text
    runs = [line.split() for line in text.splitlines() if line.startswith("    ") and line.split()[0] in ("1", "2")]
    assert [(run[0], run[4:7], run[7:9]) for run in runs] == [
        ("1", ["0", "->", "4"], ["budget", "reached"]),
        ("2", ["4", "->", "7"], ["budget", "reached"]),
    ]


class TextOf(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def test_html_summary_says_what_the_text_says_escaped(two_runs):
    page = two_runs._repr_html_()
    assert "a&lt;b&amp;c" in page and "a<b&c" not in page
    reader = TextOf()
    reader.feed(page)
    shown = " ".join(" ".join(reader.parts).split())
    for line in repr(two_runs).splitlines()[1:7]:  # status, trials, best, time, seed, algorithm
        name, text = line.strip().split(":", 1)
        assert name in shown and " ".join(text.split()) in shown
    assert "uniform(-5, 5)" in shown and "2 run(s)" in shown


def test_a_run_on_another_host_is_not_claimed_as_checked(two_runs):
    owner = {
        "pid": 4242,
        "host": "elsewhere",
        "since": "2026-01-01T00:00:00+00:00",
        "since_epoch": 1767225600.0,
        "unverified": True,
    }
    state = SearchState(two_runs.path, two_runs._data, running=owner)
    assert "running on another host as far as its lock note says (pid 4242 on elsewhere" in repr(state)


def test_to_dataframe_has_the_rows_of_trials(two_runs):
    frame = two_runs.to_dataframe()
    table = trial_table(two_runs)
    assert list(frame.columns) == table.columns and len(frame) == 7
    assert frame["tid"].tolist() == [row["tid"] for row in table.rows]
    assert frame["loss"].tolist() == [row["loss"] for row in table.rows]
    assert frame["kind"].tolist() == [row["kind"] for row in table.rows]
    assert frame["started"].dt.tz is not None and frame["started"].is_monotonic_increasing


def test_to_dataframe_without_pandas_says_how_to_get_it(two_runs, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(MissingExtra) as missing:
        two_runs.to_dataframe()
    assert isinstance(missing.value, ImportError)
    assert str(missing.value) == (
        "SearchState.to_dataframe() needs pandas, which is not installed; install it with: "
        "python -m pip install 'resumable-opt[pandas]'"
    )
