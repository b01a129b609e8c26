"""Torture for the checkpoint and the runner: real kills, real damage, real faults.

    python tests/torture.py --full      # full strength; prints what it did
    python tests/torture.py             # the quicker setting the test suite uses

Every search runs in a real child process (forked from a clean fork server
that has already imported hyperopt, so a process costs milliseconds, not a
second) and is stopped with real signals; files are damaged byte by byte;
write failures come from a real file-size limit (``RLIMIT_FSIZE``) and a real
full file system (a small tmpfs, where user namespaces allow mounting one).
Each torture checks its invariants as it goes and raises
:class:`TortureFailure` at the first violation; it returns counters, the
figures the README quotes.  ``tests/test_torture_*.py`` and
``tests/checkpoint/test_damage.py`` call the same functions with the quick
settings.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import os
import pickle
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import hyperopt  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import resumable_opt  # noqa: E402
from resumable_opt.checkpoint import journal, records  # noqa: E402
from resumable_opt.checkpoint.recovery import recover, verify  # noqa: E402
from resumable_opt.checkpoint.store import backup_path, read_checkpoint  # noqa: E402
from resumable_opt.errors import CheckpointError, CheckpointVersionError, ResumableOptError  # noqa: E402
from searches import SPACES, history, loss_of  # noqa: E402

SEED = 7
TEMPORARY = ".tmp-"  # every half-written file's name holds this (store.write_file_atomically)


class TortureFailure(AssertionError):
    """An invariant broke: what, and where to look."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise TortureFailure(message)


@dataclass(frozen=True)
class Settings:
    kills: int  # SIGKILLs over one search
    interrupts: int  # SIGINT/SIGTERM stops over one search
    kill_evals: int  # max_evals of the search killed
    stop_evals: int  # max_evals of the search stopped with SIGINT/SIGTERM
    pad: int  # bytes of padding in each result: bigger checkpoint writes to land in
    truncations: int
    bit_flips: int
    size_limits: int  # RLIMIT_FSIZE runs
    disk_sizes: tuple[int, ...]  # tmpfs sizes (bytes) for full-disk runs


QUICK = Settings(
    kills=25,
    interrupts=12,
    kill_evals=90,
    stop_evals=50,
    pad=20_000,
    truncations=160,
    bit_flips=160,
    size_limits=4,
    disk_sizes=(96 * 1024,),
)
FULL = Settings(
    kills=100,
    interrupts=60,
    kill_evals=300,
    stop_evals=200,
    pad=20_000,
    truncations=1500,
    bit_flips=1500,
    size_limits=25,
    disk_sizes=(64 * 1024, 96 * 1024, 160 * 1024, 256 * 1024),
)


# -- the search under torture (runs in the child processes) ------------------


class TortureObjective:
    """``searches.loss_of`` with a padded result, a delay, a log, and optionally a crash.

    ``crash`` = (kind, x_above): evaluating a point whose x is above
    ``x_above`` kills the process: "exit" (``os._exit``), "segfault" (a real
    one: reading address 0) or "sigkill" (SIGKILL to itself, as the
    out-of-memory killer does).
    """

    def __init__(
        self,
        pad: int = 0,
        delay: float = 0.0,
        log: str | None = None,
        crash: tuple[str, float] | None = None,
        fail_always: bool = False,
    ) -> None:
        self.pad, self.delay, self.log, self.crash, self.fail_always = pad, delay, log, crash, fail_always

    def __call__(self, params: dict) -> dict:
        if self.log:
            with open(self.log, "a") as handle:
                handle.write(json.dumps(params, sort_keys=True) + "\n")
        if self.fail_always:
            open("/nonexistent/training-data.csv")  # a typo in a path: fails every time
        if self.crash and params["x"] > self.crash[1]:
            crash(self.crash[0])
        if self.delay:
            time.sleep(self.delay)
        return {"loss": loss_of(params), "status": "ok", "pad": "p" * self.pad}


def crash(kind: str) -> None:
    if kind == "exit":
        os._exit(3)
    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise ValueError(kind)


def child_search(
    ckpt: str,
    max_evals: int,
    stderr_path: str,
    objective: TortureObjective,
    max_attempts: int = 3,
    fsize_limit: int | None = None,
    umask: int | None = None,
    seed: int = SEED,
) -> None:
    """One run of the search, as a user's script would do it; errors as the CLI shows them."""
    sys.stderr = open(stderr_path, "a", buffering=1)
    os.dup2(sys.stderr.fileno(), 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash under test needs no core dump
    # tqdm's default lock is a multiprocessing semaphore that a killed process
    # never gives back (the resource tracker then complains); a thread lock does.
    tqdm.set_lock(threading.RLock())
    if umask is not None:
        os.umask(umask)
    if fsize_limit is not None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, resource.RLIM_INFINITY))
    try:
        resumable_opt.minimize(objective, SPACES["mixed"](), ckpt, max_evals, seed=seed, max_attempts=max_attempts)
    except ResumableOptError as exc:
        print(f"resumable-opt: error: {exc}", file=sys.stderr)
        sys.exit(1)


def race(ready, go, ckpt: str, log: str, stderr_path: str) -> None:
    """A racer: say it is at the start line (``ready``, a semaphore), wait for the start signal, then run
    the 6-trial search."""
    ready.release()
    go.wait()
    child_search(ckpt, 6, stderr_path, TortureObjective(delay=0.05, log=log))


def reference_history(workdir: Path, max_evals: int, pad: int = 0, seed: int = SEED) -> list:
    """The history of the same search, run once without any fault."""
    path = workdir / f"reference-{seed}-{max_evals}-{pad}.ckpt"
    if not path.exists():
        resumable_opt.minimize(TortureObjective(pad), SPACES["mixed"](), path, max_evals, seed=seed, progress=False)
    return history(resumable_opt.load(path).trials)


# -- child processes ---------------------------------------------------------

_context = None


def processes() -> multiprocessing.context.BaseContext:
    """A fork server with hyperopt and resumable_opt already imported: a child costs milliseconds."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        # The server ignores the sys.path it is given, so preload what is
        # installed: the heavy imports.  Each child also re-imports the parent's
        # main module (under `python -m pytest`, pytest itself): preload that too.
        preload = ["hyperopt", "hyperopt.tpe", "resumable_opt", "resumable_opt.runner.run"]
        main_spec = getattr(sys.modules["__main__"], "__spec__", None)
        if main_spec is not None:
            preload.append(main_spec.name)
        _context.set_forkserver_preload(preload)
    return _context


class Life:
    """One run of the search in a child process, until it ends or is stopped."""

    def __init__(self, ckpt: Path, max_evals: int, stderr: Path, objective: TortureObjective, **options) -> None:
        self.ckpt, self.stderr = ckpt, stderr
        stderr.touch()
        self.process = processes().Process(
            target=child_search, args=(str(ckpt), max_evals, str(stderr), objective), kwargs=options, daemon=True
        )
        self.process.start()

    def text(self) -> str:
        return self.stderr.read_text(errors="replace")

    def announced(self) -> set[int]:
        """Trials this run reported finished: it prints the line after the trial is durable."""
        return {int(part.split(")")[0]) for part in self.text().split("(tid ")[1:]}

    def wait_for(self, condition, timeout: float = 60.0, poll: float = 0.002) -> bool:
        """Poll until ``condition()``; False if the process ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if not self.process.is_alive():
                return False
            time.sleep(poll)
        raise TortureFailure(f"timed out; its stderr:\n{self.text()}")

    def writing_a_snapshot(self) -> bool:
        return any(TEMPORARY in entry.name for entry in os.scandir(self.ckpt.parent))

    def send(self, signum: int) -> None:
        try:
            os.kill(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def end(self, timeout: float = 120.0) -> int:
        self.process.join(timeout)
        check(
            self.process.exitcode is not None,
            f"the search did not stop within {timeout}s (a hang); stderr:\n{self.text()}",
        )
        return self.process.exitcode


# -- checks --------------------------------------------------------------------


def finished_trials(ckpt: Path) -> dict[int, tuple]:
    """tid -> (parameters, result) of every finished trial, as the checkpoint holds them."""
    if not ckpt.exists():
        return {}
    state = resumable_opt.load(ckpt)
    return {
        doc["tid"]: (doc["misc"]["vals"], doc["result"])
        for doc in state.trials._dynamic_trials
        if doc["state"] not in (hyperopt.JOB_STATE_NEW, hyperopt.JOB_STATE_RUNNING)
    }


def check_nothing_lost(before: dict, life: Life, figures: Counter, what: str) -> dict:
    """Every trial finished before, or announced as finished by the run, is in the checkpoint, unchanged."""
    after = finished_trials(life.ckpt)  # raises if the checkpoint does not load
    lost = [tid for tid, trial in before.items() if after.get(tid) != trial]
    lost += [tid for tid in life.announced() if tid not in after]
    figures["trials lost"] += len(lost)
    check(not lost, f"{what}: finished trials {lost} lost; stderr:\n{life.text()}")
    check(len(after) >= len(before), f"{what}: fewer finished trials than before")
    return after


def leftovers(folder: Path) -> list[str]:
    return sorted(entry.name for entry in os.scandir(folder) if TEMPORARY in entry.name)


def finish_and_compare(
    workdir: Path, ckpt: Path, max_evals: int, objective: TortureObjective, figures: Counter
) -> None:
    """Run the search to the end and compare it with one never interrupted."""
    before = finished_trials(ckpt)
    life = Life(ckpt, max_evals, ckpt.with_name("final.err"), objective)
    code = life.end()
    check(code == 0, f"the final run failed ({code}):\n{life.text()}")
    check_nothing_lost(before, life, figures, "final run")
    check(
        history(resumable_opt.load(ckpt).trials) == reference_history(workdir, max_evals, objective.pad),
        "the finished search differs from the uninterrupted one",
    )
    check(not leftovers(ckpt.parent), f"half-written files left behind: {leftovers(ckpt.parent)}")
    figures["searches equal to the uninterrupted run"] += 1


# -- 1 and 2: kills, Ctrl-C and SIGTERM -------------------------------------


def kill_torture(workdir: Path, settings: Settings = QUICK, rng: random.Random | None = None) -> Counter:
    """SIGKILL one search ``settings.kills`` times at random moments, then finish it."""
    rng = rng or random.Random(1)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = workdir / "search.ckpt"
    objective = TortureObjective(settings.pad, delay=0.005)
    figures: Counter = Counter()
    lives = 0
    while figures["SIGKILLs survived"] < settings.kills:
        lives += 1
        check(lives <= settings.kills * 3, "the search ended before enough kills; raise kill_evals")
        before = finished_trials(ckpt)
        life = Life(ckpt, settings.kill_evals, workdir / f"kill-{lives}.err", objective)
        moment = rng.choices(["startup", "snapshot", "trial"], weights=[2, 3, 5])[0]
        if moment == "startup":  # lock, reading, the run's first snapshot, anything
            time.sleep(rng.uniform(0.0, 0.15))
        elif moment == "snapshot":  # while a snapshot is being written and fsynced
            life.wait_for(life.writing_a_snapshot, poll=0.0005)
        else:  # in the objective, in TPE, in an append: after a trial, at a random delay
            count = len(life.announced())
            life.wait_for(lambda life=life, count=count: len(life.announced()) > count)
            time.sleep(rng.uniform(0.0, 0.03))
        life.send(signal.SIGKILL)
        code = life.end()
        check(code != 0, f"the search ended after {figures['SIGKILLs survived']} kills; raise kill_evals")
        check(code == -signal.SIGKILL, f"run ended with {code}, not by the kill:\n{life.text()}")
        if ckpt.exists():
            torn = read_checkpoint(ckpt).torn_bytes
            figures["kills that left a torn append"] += torn > 0
            figures["kills inside a snapshot write (half-written file left)"] += bool(leftovers(workdir))
        figures[f"kills at a random moment ({moment})"] += 1
        check_nothing_lost(before, life, figures, f"kill {lives}")
        check(verify(ckpt).sound if ckpt.exists() else not before, f"kill {lives}: verify says {verify(ckpt)}")
        figures["SIGKILLs survived"] += 1
    finish_and_compare(workdir, ckpt, settings.kill_evals, objective, figures)
    return figures


def interrupt_torture(workdir: Path, settings: Settings = QUICK, rng: random.Random | None = None) -> Counter:
    """Stop one search with SIGINT/SIGTERM again and again, often with a second
    signal sent while the first one's final snapshot is being written."""
    rng = rng or random.Random(2)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = workdir / "search.ckpt"
    objective = TortureObjective(settings.pad, delay=0.005)
    figures: Counter = Counter()
    lives = 0
    while figures["Ctrl-C/SIGTERM stops survived"] < settings.interrupts:
        lives += 1
        check(lives <= settings.interrupts * 3, "the search ended before enough interrupts; raise stop_evals")
        before = finished_trials(ckpt)
        # Near the end a signal could arrive after the run is over.
        check(len(before) < settings.stop_evals - 3, f"the search ended after {lives} stops; raise stop_evals")
        life = Life(ckpt, settings.stop_evals, workdir / f"stop-{lives}.err", objective)
        count = len(life.announced())
        life.wait_for(lambda life=life, count=count: len(life.announced()) > count)
        time.sleep(rng.uniform(0.0, 0.03))
        first, second = rng.choice([signal.SIGINT, signal.SIGTERM]), rng.choice([signal.SIGINT, signal.SIGTERM, None])
        life.send(first)
        if second is not None:
            # The run's final snapshot: its temporary file exists while it is written.
            if life.wait_for(life.writing_a_snapshot, timeout=30, poll=0.0005):
                figures["second signals during the final write"] += 1
            life.send(second)
        code = life.end()
        text = life.text()
        check(code == 128 + first, f"stop {lives}: exit status {code}, expected {128 + first}:\n{text}")
        check("Traceback" not in text and "Stopped." in text, f"stop {lives}: not a clean stop:\n{text}")
        outcome = resumable_opt.load(ckpt).runs[-1].outcome
        check(outcome == f"interrupted by {signal.Signals(first).name}", f"stop {lives}: run recorded as {outcome!r}")
        check_nothing_lost(before, life, figures, f"stop {lives}")
        check(verify(ckpt).sound, f"stop {lives}: {verify(ckpt)}")
        figures[f"{signal.Signals(first).name} stops"] += 1
        figures["Ctrl-C/SIGTERM stops survived"] += 1
    finish_and_compare(workdir, ckpt, settings.stop_evals, objective, figures)
    return figures


# -- 3: damaged files ------------------------------------------------------------


def damage_subject(workdir: Path) -> tuple[Path, bytes, list]:
    """A real checkpoint with a snapshot, a journal and a pending trial, plus its .bak.

    A first run finishes 4 trials; a second is SIGKILLed by its own objective
    in its 6th evaluation.  Returns the file, its bytes and the state after
    each of its records (the only states a reader may ever return).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt = workdir / "subject.ckpt"
    if not ckpt.exists():
        resumable_opt.minimize(TortureObjective(), SPACES["mixed"](), ckpt, 4, seed=SEED, progress=False)
        life = Life(ckpt, 14, workdir / "subject.err", TortureObjective(delay=0.01))
        life.wait_for(lambda: len(life.announced()) >= 5)
        life.send(signal.SIGKILL)
        life.end()
    content = ckpt.read_bytes()
    payloads, end = records.leading_records(content)
    check(end == len(content) and len(payloads) > 3, "the damage subject should be a clean file with a journal")
    states = [journal.replay(payloads[: k + 1]) for k in range(len(payloads))]
    return ckpt, content, states


def named_damages(content: bytes, rng: random.Random) -> list[tuple[str, bytes | None]]:
    """The damage cases with a name; None means "a folder where the file should be"."""
    trials = hyperopt.Trials()
    hyperopt.fmin(
        loss_of,
        SPACES["mixed"](),
        hyperopt.tpe.suggest,
        3,
        trials=trials,
        rstate=__import__("numpy").random.default_rng(0),
        show_progressbar=False,
    )
    newer = records.encode_header(records.FORMAT_VERSION + 1) + content[records.HEADER_SIZE :]
    return [
        ("empty file", b""),
        ("random bytes (1)", os.urandom(1)),
        ("random bytes (100)", rng.randbytes(100)),
        ("random bytes (64 KiB)", rng.randbytes(65536)),
        ("random bytes after a valid header", records.encode_header() + rng.randbytes(5000)),
        ("header only", records.encode_header()),
        ("cut inside the signature", content[:5]),
        ("a JSON file", json.dumps({"loss": 0.1, "params": {"x": 1}}).encode()),
        ("a plain pickled hyperopt.Trials", pickle.dumps(trials)),
        ("a newer format version", newer),
        ("a folder where the file should be", None),
    ]


def check_refusal(exc: CheckpointError, path: Path, what: str) -> None:
    check(type(exc) is not CheckpointError, f"{what}: a bare CheckpointError, not a dedicated subclass")
    check(str(path) in str(exc), f"{what}: the message does not name the file: {exc}")
    check(bool(exc.advice), f"{what}: the message gives no advice: {exc}")


def try_damaged(path: Path, what: str, states: list, figures: Counter, deep: bool, expect: str | int = "any") -> None:
    """One damaged file: a clear refusal or an intact prefix, never anything else.

    ``expect``: "refusal" (damage a crash cannot cause, e.g. a flipped bit
    before the last record), the number of records of the intact prefix it
    must read as (a crash's torn tail), or "any" of the two.  ``deep`` also
    runs a search over it (it must refuse or resume, never start afresh or
    change the damaged bytes) and recovers it.
    """
    started = time.monotonic()
    before = path.read_bytes() if path.is_file() else None
    try:
        loaded = read_checkpoint(path)
    except CheckpointError as exc:
        check_refusal(exc, path, what)
        check(
            not isinstance(expect, int),
            f"{what}: refused ({exc}), but it is a torn tail: its intact prefix must be read",
        )
        figures["refused with a clear error"] += 1
        if isinstance(exc, CheckpointVersionError):
            figures["newer format refused"] += 1
        refused = exc
    else:
        refused = None
        check(expect != "refusal", f"{what}: damage in the middle of the history was read without an error")
        check(loaded.data in states, f"{what}: loaded a state that was never written (silent corruption)")
        check(states.index(loaded.data) < len(states) - 1, f"{what}: a damaged file read as if intact")
        if isinstance(expect, int):
            check(loaded.data == states[expect - 1], f"{what}: not the whole intact prefix")
        figures["read as the intact prefix"] += 1
    report = verify(path)
    check(report.sound == (refused is None), f"{what}: verify disagrees with reading: {report}")
    if deep:
        try:
            resumable_opt.minimize(
                TortureObjective(), SPACES["mixed"](), path, len(states[-1].docs) + 1, seed=SEED, progress=False
            )
        except CheckpointError as exc:
            check(refused is not None, f"{what}: the runner refused a file that reads fine: {exc}")
            check(type(exc) is type(refused), f"{what}: runner and reader disagree: {exc} / {refused}")
            check(
                (path.read_bytes() if path.is_file() else None) == before, f"{what}: the runner changed a damaged file"
            )
        else:
            check(refused is None, f"{what}: the runner started over a damaged file")
            resumed = resumable_opt.load(path)
            check(
                resumed.n_finished >= sum(1 for d in loaded.data.docs if d["state"] == hyperopt.JOB_STATE_DONE),
                f"{what}: trials lost on resume",
            )
        figures["runner refused or resumed correctly"] += 1
        if refused is not None and report.best_recoverable is not None and before is not None:
            kept = recover(path)
            check(kept.read_bytes() == before, f"{what}: the damaged copy differs from the damaged file")
            backup_state = read_checkpoint(backup_path(path)).data
            check(
                read_checkpoint(path).data in states + [backup_state],
                f"{what}: recovered a state that was never written",
            )
            check(os.stat(path).st_mode & 0o777 == 0o600, f"{what}: recovered file is not 0600")
            figures["recovered"] += 1
    elapsed = time.monotonic() - started
    figures["slowest case (ms)"] = max(figures["slowest case (ms)"], round(elapsed * 1000))
    figures["damaged files tried"] += 1


def damage_torture(
    workdir: Path, settings: Settings = QUICK, rng: random.Random | None = None, deep_every: int = 10
) -> Counter:
    rng = rng or random.Random(3)
    subject, content, states = damage_subject(workdir / "subject")
    bak = backup_path(subject).read_bytes()
    figures: Counter = Counter()
    cases = workdir / "cases"
    number = 0

    def case(what: str, data: bytes | None, expect: str | int = "any") -> None:
        nonlocal number
        number += 1
        folder = cases / f"{number}"
        folder.mkdir(parents=True)
        path = folder / "search.ckpt"
        if data is None:
            path.mkdir()
        else:
            path.write_bytes(data)
        (folder / "search.ckpt.bak").write_bytes(bak)
        try_damaged(path, what, states, figures, number % deep_every == 0 or data is None or len(data) < 100, expect)
        shutil.rmtree(folder)

    for what, data in named_damages(content, rng):
        case(what, data, "refusal")
        figures[f"named case: {what}"] += 1
    # Where each record ends: a cut there or later keeps that many records.
    ends = [records.HEADER_SIZE]
    for payload in records.leading_records(content)[0]:
        ends.append(ends[-1] + len(records.encode_record(payload)))
    for index in range(settings.truncations):
        low = ends[1] if index % 2 else 0  # half of them in the journal, where prefixes are
        cut = rng.randrange(low, len(content))
        kept = sum(1 for end in ends[1:] if end <= cut)
        case("truncated", content[:cut], kept if kept else "refusal")
        figures["truncations"] += 1
    for index in range(settings.bit_flips):
        damaged = bytearray(content)
        position = rng.randrange(ends[1] if index % 2 else 0, len(content))
        damaged[position] ^= 1 << rng.randrange(8)
        # Only the last record may be a torn append; damage before it is refused.
        case("bit flip", bytes(damaged), "any" if position >= ends[-2] else "refusal")
        figures["single bit flips"] += 1
    return figures


# -- 4: writes that fail half-way ---------------------------------------------


def size_limit_torture(workdir: Path, settings: Settings = QUICK, rng: random.Random | None = None) -> Counter:
    """Runs under a file-size limit (RLIMIT_FSIZE) that some write crosses."""
    rng = rng or random.Random(4)
    workdir.mkdir(parents=True, exist_ok=True)
    figures: Counter = Counter()
    objective = TortureObjective(pad=2000)
    max_evals = 24
    for number in range(settings.size_limits):
        ckpt = workdir / f"limit-{number}" / "search.ckpt"
        ckpt.parent.mkdir()
        resumable_opt.minimize(objective, SPACES["mixed"](), ckpt, 3, seed=SEED, progress=False)
        size = ckpt.stat().st_size
        before = finished_trials(ckpt)
        limit = size + rng.randrange(-size // 3, 40_000)
        life = Life(ckpt, max_evals, ckpt.with_suffix(".err"), objective, fsize_limit=limit)
        code = life.end()
        text = life.text()
        if code == 0:
            continue  # everything fitted under this limit
        check(code == 1 and "Traceback" not in text, f"limit {limit}: not a clean stop ({code}):\n{text}")
        message = [line for line in text.splitlines() if line.startswith("resumable-opt: error:")]
        check(
            len(message) == 1 and "File too large" in message[0] and "could not" in message[0],
            f"limit {limit}: unclear error:\n{text}",
        )
        figures["file-size limit faults injected"] += 1
        figures[f"failed write: {message[0].split('could not ')[1].split(':')[0]}"] += 1
        check_nothing_lost(before, life, figures, f"limit {limit}")
        finish_and_compare(workdir, ckpt, max_evals, objective, figures)
    return figures


DISK_FULL_SCRIPT = """
set -e
mount -t tmpfs -o size={size} tmpfs "$DISK"
cp -a "$SEED_DIR"/. "$DISK"/
set +e
"$PYTHON" -m resumable_opt demo --checkpoint "$DISK/demo.ckpt" --delay 0 --max-evals 400 --quiet \\
    >"$OUT/stdout" 2>"$OUT/stderr"
echo $? >"$OUT/status"
cp -a "$DISK"/. "$OUT"/after/
"""


def can_mount_tmpfs() -> bool:
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def disk_full_torture(workdir: Path, settings: Settings = QUICK) -> Counter:
    """``resumable-opt demo`` on a real, small file system (tmpfs) until it is full."""
    figures: Counter = Counter()
    for size in settings.disk_sizes:
        base = workdir / f"disk-{size}"
        seed_dir, out, disk = base / "seed", base / "out", base / "disk"
        for folder in (seed_dir, out / "after", disk):
            folder.mkdir(parents=True)
        from resumable_opt.demo import run_demo

        run_demo(seed_dir / "demo.ckpt", 5, 0.0, 0, progress=False)
        before = finished_trials(seed_dir / "demo.ckpt")
        env = {**os.environ, "DISK": str(disk), "SEED_DIR": str(seed_dir), "OUT": str(out), "PYTHON": sys.executable}
        done = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", DISK_FULL_SCRIPT.format(size=size)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        check(done.returncode == 0, f"the tmpfs run could not be set up: {done.stderr}")
        status, stderr = int((out / "status").read_text()), (out / "stderr").read_text()
        check(
            status == 1 and "Traceback" not in stderr, f"disk of {size} bytes: not a clean stop ({status}):\n{stderr}"
        )
        last = stderr.strip().splitlines()[-1]
        check(
            last.startswith("resumable-opt: error:") and "No space left on device" in last and "demo.ckpt" in last,
            f"unclear error:\n{stderr}",
        )
        after = finished_trials(out / "after" / "demo.ckpt")
        check(all(after.get(tid) == trial for tid, trial in before.items()), "trials lost on a full disk")
        figures["full-disk faults injected (tmpfs)"] += 1
        figures["trials kept through a full disk"] += len(after)
    return figures


# -- 6: poison trials ----------------------------------------------------------


def poison_torture(workdir: Path, kind: str, max_attempts: int = 3, max_evals: int = 12) -> Counter:
    """A point whose evaluation kills the process: re-run on resume, then failed."""
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt, log = workdir / "search.ckpt", workdir / "calls.jsonl"
    objective = TortureObjective(log=str(log), crash=(kind, 3.0))
    figures: Counter = Counter()
    expected_code = {"exit": 3, "segfault": -signal.SIGSEGV, "sigkill": -signal.SIGKILL}[kind]
    for lives in range(1, 40):
        life = Life(ckpt, max_evals, workdir / f"life-{lives}.err", objective, max_attempts=max_attempts)
        code = life.end()
        if code == 0:
            break
        check(code == expected_code, f"life {lives} ended with {code}, expected {expected_code}:\n{life.text()}")
        figures[f"process deaths ({kind})"] += 1
    else:
        raise TortureFailure("the search never got past its poison trials")
    state = resumable_opt.load(ckpt)
    check(state.n_finished == max_evals, f"the search did not finish: {state!r}")
    poisoned = [doc for doc in state.trials._dynamic_trials if "ProcessDied" in doc["result"].get("failure", "")]
    check(bool(poisoned), "no poison trial was hit: choose another threshold")
    calls = Counter(log.read_text().splitlines())
    for doc in state.trials._dynamic_trials:
        point = json.dumps(state.decoded(doc), sort_keys=True)
        expected = max_attempts if doc in poisoned else 1
        check(calls[point] == expected, f"trial {doc['tid']} was evaluated {calls[point]} times, expected {expected}")
        check((doc in poisoned) == (doc["misc"]["vals"]["x"][0] > 3.0), f"trial {doc['tid']}: wrong verdict")
    check(figures[f"process deaths ({kind})"] == max_attempts * len(poisoned), "every death must count as one attempt")
    figures["poison trials failed after max_attempts"] += len(poisoned)
    return figures


# -- all of it -------------------------------------------------------------------


def run_all(workdir: Path, settings: Settings) -> Counter:
    total: Counter = Counter()
    steps = [
        ("SIGKILL torture", lambda: kill_torture(workdir / "kill", settings)),
        ("SIGINT/SIGTERM torture", lambda: interrupt_torture(workdir / "stop", settings)),
        ("damaged files", lambda: damage_torture(workdir / "damage", settings)),
        ("file-size limit", lambda: size_limit_torture(workdir / "limit", settings)),
        (
            "full disk",
            lambda: (
                disk_full_torture(workdir / "disk", settings)
                if can_mount_tmpfs()
                else Counter({"full-disk runs skipped (no tmpfs)": 1})
            ),
        ),
        ("poison: os._exit", lambda: poison_torture(workdir / "exit", "exit")),
        ("poison: segfault", lambda: poison_torture(workdir / "segfault", "segfault")),
        ("poison: SIGKILL (OOM)", lambda: poison_torture(workdir / "sigkill", "sigkill", max_attempts=2)),
    ]
    for name, step in steps:
        started = time.monotonic()
        figures = step()
        print(f"\n{name} ({time.monotonic() - started:.0f} s)")
        for key, value in sorted(figures.items()):
            print(f"  {key}: {value}")
        if "slowest case (ms)" in figures:
            total["slowest damaged-file case (ms)"] = max(
                total["slowest damaged-file case (ms)"], figures.pop("slowest case (ms)")
            )
        total.update(figures)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="full strength (the README's figures)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    import tempfile

    settings = FULL if args.full else QUICK
    with tempfile.TemporaryDirectory(prefix="torture-") as scratch:
        workdir = args.keep or Path(scratch)
        started = time.monotonic()
        total = run_all(workdir, settings)
    kills = (
        total["SIGKILLs survived"]
        + total["Ctrl-C/SIGTERM stops survived"]
        + total["process deaths (exit)"]
        + total["process deaths (segfault)"]
        + total["process deaths (sigkill)"]
    )
    print(f"\nSummary ({'full' if args.full else 'quick'} setting, {time.monotonic() - started:.0f} s)")
    print(f"  kills and stops survived: {kills}")
    print(f"  damaged files tried: {total['damaged files tried']}")
    faults = total["file-size limit faults injected"] + total["full-disk faults injected (tmpfs)"]
    print(f"  write faults injected: {faults}")
    print(f"  poison trials failed after their attempts: {total['poison trials failed after max_attempts']}")
    print(f"  trials lost: {total['trials lost']}")


if __name__ == "__main__":
    main()
