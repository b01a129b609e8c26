"""Every example in README.md and docs/*.md runs, and shows what the code prints.

Each page runs in a temporary folder of its own, its blocks in order, sharing
state: the Python blocks run in one namespace (``__name__ == "__main__"``), and
files written by one block are there for the next.

- ```python: run.  A block whose first line starts with ``>>>`` (or ```pycon)
  is an interactive session: each ``>>>`` statement's output is checked.
- ```bash: run with ``bash -e``; must exit 0.
- ```console: ``$ COMMAND`` lines, each followed by the output it shows
  (stdout and stderr together, as on a terminal).  A command shown without
  output must exit 0; one shown with output (errors included) must print it.
- ``<!-- output -->`` right before a ```text block: that block is the stdout
  of the runnable block just above it.
- ``<!-- skip: REASON -->`` right before a fence: the block is not run (an
  installation, a cluster address, a benchmark).  The reason is required.
- Other fences (```text, ```json, ...) are shown, not run.

Outputs are compared after this normalisation, applied to what is shown and
what is printed alike (so the pages can show real values):

1. timestamps (``2026-11-27 05:03:48``, ``2026-11-27T05:03:48.423+00:00``) -> ``<TIME>``;
2. ``pid 17706 on vm`` -> ``pid <PID> on <HOST>``;
3. durations written with their unit (``0.05s``, ``6s``) -> ``<SECONDS>s``;
4. a number right before a timestamp (the trials' ``duration, started`` columns) -> ``<SECONDS>``;
5. runs of spaces -> one space, and blank lines at either end are dropped;
6. ``...`` in what is shown stands for any text (an abridged output), and
   ``<BLANKLINE>`` in an interactive session for an empty line.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
MARKER = re.compile(r"<!--\s*(?P<kind>skip|output)\s*(?::\s*(?P<reason>.*?))?\s*-->\s*\Z", re.S)
RUNNABLE = {"python", "pycon", "bash", "console"}

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d|Z)?")
SUBPROCESS_TIMEOUT = 300


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    body: str
    skip: str | None = None  # the reason, when marked <!-- skip: ... -->
    is_output: bool = False  # marked <!-- output -->: the expected stdout of the block before


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    end = 0
    for match in FENCE.finditer(text):
        before = text[end : match.start()]
        end = match.end()
        marker = MARKER.search(before.rstrip())
        body = "\n".join(line[len(match["indent"]) :] for line in match["body"].splitlines()) + "\n"
        block = Block(page, text.count("\n", 0, match.start()) + 1, match["lang"], body)
        if marker and marker["kind"] == "skip":
            block.skip = marker["reason"] or ""
        elif marker and marker["kind"] == "output":
            block.is_output = True
        found.append(block)
    return found


def normalise(text: str) -> str:
    text = TIMESTAMP.sub("<TIME>", text)
    text = re.sub(r"\bpid \d+ on \S+", "pid <PID> on <HOST>", text)
    text = re.sub(r"\b\d+(?:\.\d+)?s\b", "<SECONDS>s", text)
    text = re.sub(r"\d+(?:\.\d+)?(?=[ ,]+<TIME>)", "<SECONDS>", text)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return "\n".join(lines).strip("\n")


def output_matches(shown: str, printed: str) -> bool:
    shown = normalise(shown.replace("<BLANKLINE>", ""))
    pattern = ".*?".join(re.escape(part) for part in shown.split("..."))
    return re.fullmatch(pattern, normalise(printed), re.S) is not None


class NormalisingChecker(doctest.OutputChecker):
    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        return output_matches(want, got)


def subprocess_env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The test's own Python and console scripts come first, and this checkout's package wins.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    env.pop("COLUMNS", None)
    return env


class PageRun:
    """The state one page's blocks share: a folder and a Python namespace."""

    def __init__(self, page: Path, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.namespace: dict = {"__name__": "__main__"}
        self.env = subprocess_env(folder)

    def where(self, block: Block) -> str:
        return f"{block.page.relative_to(ROOT)}:{block.line}"

    def run(self, block: Block) -> str:
        """Run one block; returns its stdout (for a following output block)."""
        if block.lang == "pycon" or (block.lang == "python" and block.body.lstrip().startswith(">>>")):
            return self.session(block)
        if block.lang == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(block.body, self.where(block), "exec"), self.namespace)
            return out.getvalue()
        if block.lang == "bash":
            done = self.shell(block.body, stderr=subprocess.PIPE, shell_options=["-e"])
            assert done.returncode == 0, (
                f"{self.where(block)}: exit status {done.returncode}\n{done.stdout}{done.stderr}"
            )
            return done.stdout
        if block.lang == "console":
            self.console(block)
            return ""
        raise AssertionError(f"{self.where(block)}: cannot run a {block.lang!r} block")

    def shell(self, script: str, stderr: int, shell_options: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", *shell_options, "-c", script],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )

    def console(self, block: Block) -> None:
        commands: list[tuple[str, list[str]]] = []
        for line in block.body.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            elif commands:
                commands[-1][1].append(line)
            else:
                raise AssertionError(f"{self.where(block)}: a console block starts with '$ COMMAND'")
        for command, shown in commands:
            done = self.shell(command, stderr=subprocess.STDOUT, shell_options=[])
            if not "".join(shown).strip():
                assert done.returncode == 0, (
                    f"{self.where(block)}: `{command}` exit status {done.returncode}\n{done.stdout}"
                )
            else:
                assert output_matches("\n".join(shown), done.stdout), (
                    f"{self.where(block)}: `{command}` printed\n{done.stdout}\nbut the page shows\n" + "\n".join(shown)
                )

    def session(self, block: Block) -> str:
        test = doctest.DocTestParser().get_doctest(
            block.body, self.namespace, self.where(block), str(block.page), block.line
        )
        failures: list[str] = []
        runner = doctest.DocTestRunner(checker=NormalisingChecker(), optionflags=doctest.ELLIPSIS)
        runner.run(test, out=failures.append, clear_globs=False)
        assert not failures, "".join(failures)
        return ""


@pytest.mark.slow  # a page runs real searches and commands: seconds each
@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_page_examples_run_and_show_what_they_print(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # modules a page writes can be imported by its later blocks
    modules_before = set(sys.modules)
    run = PageRun(page, tmp_path)
    last_stdout: str | None = None
    try:
        for block in blocks(page):
            if block.is_output:
                assert last_stdout is not None, f"{run.where(block)}: an output block follows no block that was run"
                assert output_matches(block.body, last_stdout), (
                    f"{run.where(block)}: the block above printed\n{last_stdout}\nbut the page shows\n{block.body}"
                )
                last_stdout = None
            elif block.skip is not None or block.lang not in RUNNABLE:
                last_stdout = None
            else:
                last_stdout = run.run(block)
    finally:
        for name in set(sys.modules) - modules_before:  # a page's own modules must not leak into the next page
            if str(tmp_path) in str(getattr(sys.modules[name], "__file__", "") or ""):
                del sys.modules[name]


def test_every_skip_says_why_and_the_pages_have_examples() -> None:
    run = 0
    for page in PAGES:
        for block in blocks(page):
            if block.skip is not None:
                assert block.skip.strip(), f"{page.name}:{block.line}: <!-- skip: REASON --> needs its reason"
            elif block.lang in RUNNABLE and not block.is_output:
                run += 1
    assert run >= 20, f"only {run} runnable blocks found: is the fence parser broken?"


@pytest.mark.parametrize(
    ("shown", "printed", "same"),
    [
        ("took 0s, pid 17 on vm at 2026-11-27 05:03:48", "took 12s, pid 9 on box at 2031-01-02 03:04:05", True),
        ("  2  ok  0.000923189   0.051  2026-11-27 05:03:00", "  2  ok  0.000923189   0.1  2026-11-28 06:00:00", True),
        ("loss 0.000923189", "loss 0.000923190", False),
        ("trial 1\n...\ntrial 9", "trial 1\ntrial 2\ntrial 9", True),
        ("trial 1\n...\ntrial 9", "trial 1\ntrial 2\ntrial 8", False),
    ],
)
def test_normalisation_lets_volatile_values_through_and_nothing_else(shown: str, printed: str, same: bool) -> None:
    assert output_matches(shown, printed) is same
