"""Issue 10, item 5: a filesystem whose ``link()`` fails (vfat, exFAT, gcsfuse,
s3fs, Google Drive in Colab, some SMB shares).

The test filesystem is ``tests/nolink_fs.py``, a real FUSE passthrough (fusepy
over libfuse2) that refuses ``link()`` with EPERM, as vfat does.  Where FUSE
cannot be mounted (no /dev/fuse, no fusepy or libfuse2, no right to mount),
the tests are skipped with the reason.  (A vfat loop image was tried first:
this machine's kernel has no vfat driver.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import resumable_opt
from conftest import TESTS, run_search
from resumable_opt.checkpoint.store import backup_path, read_checkpoint
from searches import history

pytestmark = pytest.mark.slow


def _why_fuse_cannot_mount() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    try:
        import fuse  # noqa: F401  (fusepy; loads libfuse2)
    except (ImportError, OSError) as exc:
        return f"fusepy over libfuse2 is not available ({exc}); install `libfuse2` (apt) and `fusepy` (pip)"
    return None


@pytest.fixture
def nolink_folder(tmp_path):
    """A folder on a real filesystem without hard links, mounted for the test."""
    why = _why_fuse_cannot_mount()
    if why:
        print(f"SKIPPED: {why}")
        pytest.skip(why)
    root, mountpoint = tmp_path / "root", tmp_path / "mnt"
    root.mkdir()
    mountpoint.mkdir()
    err = open(tmp_path / "fuse.err", "w+")
    server = subprocess.Popen([sys.executable, str(TESTS / "nolink_fs.py"), str(root), str(mountpoint)], stderr=err)
    deadline = time.monotonic() + 30
    while not os.path.ismount(mountpoint):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            err.seek(0)
            why = f"cannot mount a FUSE filesystem here: {err.read().strip() or 'timed out'}"
            print(f"SKIPPED: {why}")
            pytest.skip(why)
        time.sleep(0.05)
    try:
        probe = mountpoint / "probe"
        probe.write_text("x")
        with pytest.raises(PermissionError):
            os.link(probe, mountpoint / "probe-link")  # the fault itself is real
        probe.unlink()
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        err.close()


def test_a_search_runs_resumes_and_keeps_its_backup_without_hard_links(nolink_folder, tmp_path):
    ckpt = nolink_folder / "search.ckpt"
    # The first run ends with a snapshot over an existing file: the backup is made then.
    done = run_search(ckpt, 5, "--quiet")
    assert done.returncode == 0, done.stderr
    first = read_checkpoint(ckpt).data
    assert read_checkpoint(backup_path(ckpt)).data.docs == first.docs  # a whole, readable earlier state
    # Resumed, through several compactions (each keeps a backup).
    done = run_search(ckpt, 40, "--quiet")
    assert done.returncode == 0, done.stderr
    state = resumable_opt.load(ckpt)
    assert state.n_finished == 40 and [run.outcome for run in state.runs] == ["budget reached"] * 2
    assert len(read_checkpoint(backup_path(ckpt)).data.docs) == 40  # the state before the final snapshot
    # The same history as the same search on an ordinary folder.
    reference = tmp_path / "reference.ckpt"
    assert run_search(reference, 40, "--quiet").returncode == 0
    assert history(state.trials) == history(resumable_opt.load(reference).trials)
    # No temporary copy is left behind.
    names = sorted(p.name for p in nolink_folder.iterdir())
    assert names == ["search.ckpt", "search.ckpt.bak", "search.ckpt.best.json", "search.ckpt.lock"]


def test_killed_at_any_moment_without_hard_links_leaves_a_sound_checkpoint(nolink_folder, start_search):
    ckpt = nolink_folder / "search.ckpt"
    log = nolink_folder.parent / "calls.jsonl"
    for target in (4, 9, 14, 19):
        search = start_search(ckpt, 60, "--quiet", "--log", log)
        search.wait_for_log_lines(log, target)
        search.send(signal.SIGKILL)
        search.finish()
        report = resumable_opt.verify(ckpt)
        assert report.sound, str(report)
        if backup_path(ckpt).exists():
            read_checkpoint(backup_path(ckpt))  # whole, or not there: never half a copy
    done = run_search(ckpt, 25, "--quiet")
    assert done.returncode == 0, done.stderr
    assert resumable_opt.load(ckpt).n_finished == 25


def test_recover_works_without_hard_links(nolink_folder):
    ckpt = nolink_folder / "search.ckpt"
    assert run_search(ckpt, 6, "--quiet").returncode == 0
    damaged = bytearray(ckpt.read_bytes())
    damaged[-5] ^= 0xFF
    ckpt.write_bytes(bytes(damaged))
    assert not resumable_opt.verify(ckpt).sound
    kept = resumable_opt.recover(ckpt)
    assert kept != ckpt and Path(kept).read_bytes() == bytes(damaged)  # the damaged bytes kept aside, as they were
    assert resumable_opt.verify(ckpt).sound
    done = run_search(ckpt, 8, "--quiet")
    assert done.returncode == 0, done.stderr
    assert resumable_opt.load(ckpt).n_finished == 8
