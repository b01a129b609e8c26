"""``show``, ``best``, ``trials`` and ``export`` on a real checkpoint, each in a child process."""

import csv
import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios

import pyarrow.parquet as parquet
import pytest
from hyperopt import space_eval

import resumable_opt
from cli_helpers import MAX_EVALS, SEED, cli_all, finished_search, json_rows  # noqa: F401  (the "finished" fixture)
from resumable_opt.cli import COMMANDS, build_parser, main
from resumable_opt.reporting.export import export_table
from resumable_opt.reporting.rows import trial_table
from resumable_opt.space import active_values

COLUMNS = ["tid", "status", "loss", "kind", "degree", "x", "y", "duration", "started"]


@pytest.fixture(scope="module")
def out(finished, tmp_path_factory):
    """Every inspection command run once on the finished search, all at the same time."""
    exports = tmp_path_factory.mktemp("exports")
    done = cli_all(
        {
            "show": ("show", finished),
            "best": ("best", finished),
            "best --json": ("best", finished, "--json"),
            "trials": ("trials", finished),
            "trials --json": ("trials", finished, "--format", "json"),
            "trials --csv": ("trials", finished, "--format", "csv"),
            "trials --sort --top": ("trials", finished, "--sort", "loss", "--top", "3"),
            "export csv": ("export", finished, "-o", exports / "trials.csv"),
            "export parquet": ("export", finished, "-o", exports / "trials.parquet"),
        }
    )
    for name, result in done.items():
        assert result.returncode == 0 and "Traceback" not in result.stderr, (name, result.stderr)
    done["exports"] = exports
    return done


def test_show_summarises_the_search(finished, out):
    state = resumable_opt.load(finished)
    text = out["show"].stdout
    assert f"Search {finished}" in text
    assert "not running; the last run ended" in text and "budget reached" in text
    assert state.n_failed > 0
    assert f"trials:    {MAX_EVALS} of {MAX_EVALS} finished ({state.n_failed} failed), 0 running, 0 pending" in text
    assert f"loss {state.best_loss:.6g} at trial {state.best_trial['tid']}: " in text
    assert f"seed:      {SEED}" in text and "algorithm: hyperopt.tpe.suggest" in text
    lines = text.splitlines()
    for label, described in [
        ("kind", "choice of ['linear', {...}]"),
        ("degree", "quniform(1, 5, 1)"),
        ("y", "loguniform(-3, 2)  (values 0.0498 to 7.39)"),
    ]:
        assert any(line.split()[-len(described.split()) - 1 :] == [label, *described.split()] for line in lines), label
    assert f"0 -> {MAX_EVALS}" in text  # the history of runs
    assert text.rstrip() == repr(state).rstrip()  # `show` is what printing the loaded search shows


def test_best_in_words_and_as_json(finished, out):
    state = resumable_opt.load(finished)
    words = out["best"].stdout.splitlines()
    assert words[0] == f"Best loss {state.best_loss:.6g} at trial {state.best_trial['tid']} (of {MAX_EVALS} finished)"
    assert f"  x = {state.best['x']}" in words

    record = json.loads(out["best --json"].stdout)
    assert record["loss"] == state.best_loss and record["tid"] == state.best_trial["tid"]
    assert record["params"] == json.loads(
        json.dumps(space_eval(state.space, record["argmin"]))
    )  # decoded as hyperopt does
    assert record["trials_done_when_written"] == MAX_EVALS and record["found_at"] and record["written_at"]


def test_trials_json_has_one_decoded_row_per_trial(finished, out):
    state = resumable_opt.load(finished)
    rows = json_rows(out["trials --json"])
    docs = sorted(state.trials._dynamic_trials, key=lambda doc: doc["tid"])
    assert [row["tid"] for row in rows] == [doc["tid"] for doc in docs]
    assert list(rows[0]) == COLUMNS
    assert {row["status"] for row in rows} == {"ok", "fail"}
    for row, doc in zip(rows, docs, strict=True):
        point = space_eval(state.space, active_values(doc["misc"]["vals"]))
        assert row["x"] == point["x"] and row["y"] == point["y"]
        if point["kind"] == "linear":
            assert row["kind"] == "linear" and "degree" not in row  # the branch that does not use it
        else:
            assert row["kind"] == point["kind"] and row["degree"] == point["kind"]["degree"]
        if row["status"] == "ok":
            assert row["loss"] == doc["result"]["loss"]
        else:
            assert row["loss"] is None and point["x"] > 3
        assert row["duration"] >= 0 and row["started"].startswith(doc["book_time"].strftime("%Y-%m-%d"))


def test_trials_sorted_by_loss_top_n_as_a_plain_table_when_piped(out):
    rows = json_rows(out["trials --json"])
    lines = out["trials --sort --top"].stdout.splitlines()
    assert lines[0].split() == COLUMNS
    assert "---" not in out["trials"].stdout  # plain: no rules when piped
    best3 = sorted((row for row in rows if row["loss"] is not None), key=lambda row: row["loss"])[:3]
    assert [int(line.split()[0]) for line in lines[1:]] == [row["tid"] for row in best3]
    assert [float(line.split()[2]) for line in lines[1:]] == [float(f"{row['loss']:.6g}") for row in best3]
    # Piped, values are whole: a poly choice is its full JSON.
    poly = [row for row in rows if row["kind"] != "linear"][0]
    assert json.dumps(poly["kind"], separators=(", ", ": ")) in out["trials"].stdout


def test_trials_on_a_terminal_are_aligned_ruled_and_cut(finished):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))  # wide enough for every column
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "resumable_opt", "trials", str(finished)],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    lines = output.decode().replace("\r\n", "\n").splitlines()
    assert lines[0].split() == COLUMNS
    assert set(lines[1].replace(" ", "")) == {"-"}  # a rule under the header
    assert len({len(line) for line in lines[1:]}) == 1  # the rule and every row the same width: aligned
    assert any('{"degree": ' in line and "…" in line for line in lines)  # a long choice value, cut


def test_trials_csv_holds_the_json_rows_at_full_precision(out):
    rows = json_rows(out["trials --json"])
    parsed = list(csv.DictReader(io.StringIO(out["trials --csv"].stdout)))
    assert len(parsed) == len(rows)
    for got, want in zip(parsed, rows, strict=True):
        assert int(got["tid"]) == want["tid"] and got["status"] == want["status"]
        assert (float(got["loss"]) if got["loss"] else None) == want["loss"]
        assert float(got["x"]) == want["x"]
        assert got["degree"] == ("" if "degree" not in want else str(want["degree"]))  # empty: not used
        assert got["started"] == want["started"]


def test_export_csv_json_and_parquet_hold_the_same_rows(finished, out):
    rows = json_rows(out["trials --json"])
    exports = out["exports"]
    for suffix in ("csv", "parquet"):
        assert (
            out[f"export {suffix}"].stdout.strip()
            == f"Wrote {len(rows)} trials to {exports / f'trials.{suffix}'} ({suffix})"
        )
    # JSON goes through the same code in this process (one child process fewer).
    assert export_table(trial_table(resumable_opt.load(finished)), exports / "trials.json") == "json"
    assert json.loads((exports / "trials.json").read_text()) == rows
    assert (exports / "trials.csv").read_text() == out["trials --csv"].stdout
    table = parquet.read_table(exports / "trials.parquet").to_pylist()
    for column in ("tid", "status", "loss", "x", "y", "degree"):
        assert [row[column] for row in table] == [row.get(column) for row in rows], column  # parquet: null where unused
    # A column mixing text and structures is stored as text.
    assert [row["kind"] for row in table] == [
        r["kind"] if r["kind"] == "linear" else json.dumps(r["kind"], separators=(", ", ": ")) for r in rows
    ]


def test_each_command_parses_alone_as_in_the_whole_parser():
    """``main`` builds the parser of the named command only (to import no other
    command's module): its table of commands must be the whole parser's, and each
    command's own parser the same alone as among the others."""
    whole = build_parser()._subparsers._group_actions[0].choices
    assert list(COMMANDS) == list(whole)
    for name in COMMANDS:
        alone = build_parser(name)._subparsers._group_actions[0].choices
        assert name in alone and alone[name].format_help() == whole[name].format_help()


def test_every_command_has_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    listing = capsys.readouterr().out
    commands = build_parser()._subparsers._group_actions[0].choices
    for name in ("show", "best", "trials", "export", "plot", "resume"):
        assert name in commands and f"    {name} " in listing
    for name, command in commands.items():
        text = command.format_help()
        assert text.startswith(f"usage: resumable-opt {name}") and "--debug" in text
