"""Mistakes and faults: one clear line on stderr, a non-zero exit, no traceback (unless --debug)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hyperopt import hp

import resumable_opt
from cli_helpers import assert_one_line_error, cli_all, finished_search  # noqa: F401  (the "finished" fixture)
from resumable_opt.cli import main

COMMANDS = {
    "show": ("show",),
    "best": ("best", "--json"),
    "trials": ("trials",),
    "export": ("export", "-o", "{out}/rows.csv"),
    "plot": ("plot", "-o", "{out}/plot.png"),
    "resume": ("resume", "--max-evals", "50"),
}


def command(name, checkpoint, out):
    first, *rest = COMMANDS[name]
    return (first, checkpoint, *(arg.format(out=out) for arg in rest))


def test_every_command_refuses_a_damaged_checkpoint_and_changes_nothing(finished, tmp_path):
    damaged = tmp_path / "damaged.ckpt"
    data = bytearray(finished.read_bytes())
    data[len(data) // 3] ^= 0x10  # one flipped bit inside the history
    damaged.write_bytes(bytes(data))
    done = cli_all({name: command(name, damaged, tmp_path) for name in COMMANDS})
    for result in done.values():
        assert_one_line_error(result, f"resumable-opt: error: {damaged}: ", "damaged", "resumable-opt verify")
    assert damaged.read_bytes() == bytes(data)
    assert not (tmp_path / "rows.csv").exists() and not (tmp_path / "plot.png").exists()


@pytest.mark.parametrize("name", ["nope.ckpt", "mixed.best.json"])
def test_a_missing_file_and_a_file_that_is_not_a_checkpoint(finished, tmp_path, capsys, name):
    target = tmp_path / name if name == "nope.ckpt" else finished.with_name(name)
    assert main(["resume", str(target), "--max-evals", "5"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    if name == "nope.ckpt":
        assert f"{target}: no such checkpoint" in err and not target.exists()  # never a fresh start
    else:
        assert f"{target}: not a resumable-opt checkpoint" in err and "JSON file" in err


@pytest.mark.parametrize("name", ["folder", "empty.ckpt"])
def test_a_folder_or_an_empty_file(tmp_path, capsys, name):
    target = tmp_path / name
    target.mkdir() if name == "folder" else target.write_bytes(b"")
    assert main(["show", str(target)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and ("is a folder, not a checkpoint file" in err or "the file is empty" in err)


@pytest.mark.parametrize("argv", [["--debug", "show"], ["show", "--debug"]])
def test_debug_lets_the_error_through_with_its_traceback(tmp_path, argv):
    with pytest.raises(resumable_opt.CheckpointNotFound):
        main([*argv, str(tmp_path / "nope.ckpt")])


def test_best_before_any_success(ckpt, capsys):
    resumable_opt.minimize(lambda params: 1 / 0, {"x": hp.uniform("x", 0, 1)}, ckpt, 2, seed=1, progress=False)
    assert main(["best", str(ckpt)]) == 1
    assert capsys.readouterr().err == f"resumable-opt: error: {ckpt}: no successful trial yet (2 finished, 2 failed)\n"
    assert main(["plot", str(ckpt), "-o", str(ckpt.with_suffix(".png"))]) == 1
    assert (
        capsys.readouterr().err
        == f"resumable-opt: error: {ckpt}: no trial has finished with a loss yet, so there is nothing to plot\n"
    )
    assert not ckpt.with_suffix(".png").exists()


@pytest.mark.parametrize("args", [("add-points", '{"x": 1}'), ("recover",)])
def test_a_mistyped_checkpoint_path_leaves_nothing_behind(tmp_path, capsys, args):
    target = tmp_path / "no-such-folder" / "search.ckpt"
    assert main([args[0], str(target), *args[1:]]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"resumable-opt: error: {target}: ") and "no such checkpoint" in err
    assert list(tmp_path.iterdir()) == []  # no lock file, no folder


def test_a_demo_without_a_successful_trial_ends_without_an_error(tmp_path, capsys):
    # A negative delay makes each demo trial fail; 2 failures are below the early stop for failures.
    assert (
        main(["demo", "--checkpoint", str(tmp_path / "demo.ckpt"), "--max-evals", "2", "--delay", "-1", "--quiet"]) == 0
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Best loss - after 2 trials (2 failed)" and "best parameters" not in out


@pytest.mark.parametrize(
    "args, message",
    [
        (("trials", "{ckpt}", "--top", "0"), "argument --top: must be at least 1, not 0"),
        (("trials", "{ckpt}", "--format", "xml"), "argument --format: invalid choice: 'xml'"),
        (
            ("trials", "{ckpt}", "--sort", "accuracy"),
            "cannot sort by 'accuracy': no such column; the columns are tid, status, loss, kind",
        ),
        (("export", "{ckpt}", "-o", "{tmp}/rows.xlsx"), "cannot tell the format from the suffix '.xlsx'"),
        (("export", "{ckpt}"), "the following arguments are required: -o/--output"),
        (("plot", "{ckpt}", "-o", "{tmp}/plot.jpg"), "the plot is written as PNG"),
        (("plot", "{ckpt}", "-o", "{tmp}/no/such/folder/plot.png"), "does not exist"),
        (("resume", "{ckpt}", "--max-evals", "many"), "argument --max-evals: 'many' is not a whole number"),
        (("frobnicate",), "argument COMMAND: invalid choice: 'frobnicate'"),
        (
            ("demo", "--checkpoint", "{tmp}/demo.ckpt", "--max-evals", "0"),
            "argument --max-evals: must be at least 1, not 0",
        ),
    ],
)
def test_bad_arguments_get_one_line(finished, tmp_path, capsys, args, message):
    argv = [arg.format(ckpt=finished, tmp=tmp_path) for arg in args]
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse refuses before any handler runs
        status = exit.code
    captured = capsys.readouterr()
    assert status != 0 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and message in captured.err, captured.err


def test_bad_arguments_through_the_console_script(finished):
    script = shutil.which("resumable-opt", path=str(Path(sys.executable).parent))
    done = subprocess.run([script, "trials", str(finished), "--top", "x"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "resumable-opt trials: error: argument --top: 'x' is not a whole number (see resumable-opt trials --help)"
    )


BLOCK = "import sys; sys.modules[{module!r}] = None; from resumable_opt.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize(
    "module, args, extra",
    [
        ("matplotlib", ("plot", "{ckpt}", "-o", "{tmp}/p.png"), "plot"),
        ("pyarrow", ("export", "{ckpt}", "-o", "{tmp}/t.parquet"), "parquet"),
    ],
)
def test_a_missing_extra_is_named_with_the_command_that_installs_it(finished, tmp_path, module, args, extra):
    """Without the optional package (made unimportable in the child), one line says how to install it."""
    argv = [arg.format(ckpt=finished, tmp=tmp_path) for arg in args]
    done = subprocess.run(
        [sys.executable, "-c", BLOCK.format(module=module), *argv], capture_output=True, text=True, timeout=60
    )
    assert_one_line_error(
        done, f"needs {module}, which is not installed", f"python -m pip install 'resumable-opt[{extra}]'"
    )
    assert list(tmp_path.iterdir()) == []


def _file_size_limit_of_100_bytes():
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))


@pytest.mark.parametrize("name, what", [("export", "the export"), ("plot", "the plot")])
def test_a_failed_write_of_an_output_file_is_about_that_file(finished, tmp_path, name, what):
    """A real write failure (file-size limit in the child): the error names the output file, not the checkpoint."""
    out = tmp_path / ("rows.csv" if name == "export" else "plot.png")
    done = subprocess.run(
        [sys.executable, "-m", "resumable_opt", name, str(finished), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_file_size_limit_of_100_bytes,
    )
    assert_one_line_error(done, f"resumable-opt: error: {out}: cannot write {what}: File too large")
    assert "checkpoint" not in done.stderr and not out.exists()
