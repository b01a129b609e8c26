"""Issue 3, fault 3: damaged files, and the way back (verify, recover)."""

import json
import os
import random
import subprocess
import sys
import threading

import pytest

import resumable_opt
import torture
from resumable_opt.checkpoint import records
from resumable_opt.checkpoint.store import backup_path
from searches import SPACES


@pytest.fixture(scope="module")
def subject(tmp_path_factory):
    """A checkpoint with a snapshot, a journal and a .bak, as a killed run leaves it."""
    return torture.damage_subject(tmp_path_factory.mktemp("subject"))


def test_several_hundred_damaged_files(tmp_path, subject):
    figures = torture.damage_torture(tmp_path, torture.QUICK)
    assert figures["damaged files tried"] >= 300
    assert figures["read as the intact prefix"] >= 50 and figures["refused with a clear error"] >= 100
    assert figures["recovered"] >= 10 and figures["runner refused or resumed correctly"] >= 30


NAMED = {
    "empty file": (resumable_opt.CheckpointCorrupt, "empty"),
    "random bytes (100)": (resumable_opt.CheckpointCorrupt, "not a resumable-opt checkpoint"),
    "cut inside the signature": (resumable_opt.CheckpointCorrupt, "cut short"),
    "header only": (resumable_opt.CheckpointCorrupt, "no intact snapshot"),
    "a JSON file": (resumable_opt.CheckpointCorrupt, "JSON"),
    "a plain pickled hyperopt.Trials": (resumable_opt.CheckpointCorrupt, "pickle"),
    "a newer format version": (resumable_opt.CheckpointVersionError, "upgrade resumable-opt"),
    "a folder where the file should be": (resumable_opt.CheckpointCorrupt, "folder"),
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_each_kind_of_bad_file_has_its_own_clear_error(tmp_path, subject, name):
    _, content, _ = subject
    data = dict(torture.named_damages(content, random.Random(0)))[name]
    path = tmp_path / "x.ckpt"
    path.mkdir() if data is None else path.write_bytes(data)
    error, words = NAMED[name]
    with pytest.raises(error) as refused:
        resumable_opt.load(path)
    assert type(refused.value) is error and str(path) in str(refused.value) and words in str(refused.value)
    with pytest.raises(error):  # the runner refuses it too, and writes nothing
        resumable_opt.minimize(torture.TortureObjective(), SPACES["mixed"](), path, 3, seed=7, progress=False)
    assert (path.read_bytes() if data is not None else path.is_dir()) == (data if data is not None else True)
    assert not resumable_opt.verify(path).sound


def test_a_pipe_where_the_checkpoint_should_be_is_refused_not_waited_on(tmp_path):
    path = tmp_path / "x.ckpt"
    os.mkfifo(path)
    outcome = []
    reader = threading.Thread(
        target=lambda: outcome.append(pytest.raises(resumable_opt.CheckpointCorrupt, resumable_opt.load, path)),
        daemon=True,
    )
    reader.start()
    reader.join(60)
    assert outcome and "not a regular file" in str(outcome[0].value)


def test_verify_and_recover_from_damage_in_the_middle(tmp_path, subject):
    ckpt, content, states = subject
    path = tmp_path / "search.ckpt"
    ends = [records.HEADER_SIZE]
    for payload in records.leading_records(content)[0]:
        ends.append(ends[-1] + len(records.encode_record(payload)))
    damaged = bytearray(content)
    damaged[ends[-3] + 20] ^= 0x01  # inside the third record from the end
    path.write_bytes(bytes(damaged))
    backup_path(path).write_bytes(backup_path(ckpt).read_bytes())
    report = resumable_opt.verify(path)
    assert not report.sound and "followed by intact records" in report.reason
    assert report.prefix.data == states[-3] and report.backup is not None
    assert report.best_recoverable is report.prefix  # more finished trials than the backup
    assert "resumable-opt recover" in report.advice

    kept = resumable_opt.recover(path)
    assert kept.name.startswith("search.ckpt.damaged-") and kept.read_bytes() == bytes(damaged)
    assert resumable_opt.verify(path).sound
    assert resumable_opt.load(path).n_finished == report.prefix.n_finished
    assert resumable_opt.recover(path) == path  # sound now: nothing to do, nothing changed
    state = resumable_opt.minimize(torture.TortureObjective(), SPACES["mixed"](), path, 16, seed=7, progress=False)
    assert state.n_finished == 16


def test_nothing_recoverable_is_an_error_and_changes_nothing(tmp_path):
    path = tmp_path / "x.ckpt"
    path.write_bytes(os.urandom(300))
    with pytest.raises(resumable_opt.CheckpointCorrupt, match="cannot be recovered"):
        resumable_opt.recover(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ckpt", "x.ckpt.lock"]


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "resumable_opt", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_cli_verify_and_recover(tmp_path, subject):
    ckpt, content, _ = subject
    sound = cli("verify", ckpt)
    assert sound.returncode == 0 and "sound" in sound.stdout

    path = tmp_path / "search.ckpt"
    path.write_bytes(content[: records.HEADER_SIZE + 40])  # the snapshot is torn: only the .bak helps
    backup_path(path).write_bytes(backup_path(ckpt).read_bytes())
    bad = cli("verify", path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "NOT sound" in bad.stderr and f"resumable-opt recover {path}" in bad.stderr

    fixed = cli("recover", path)
    assert fixed.returncode == 0, fixed.stderr
    assert "Kept the damaged file as" in fixed.stdout and "search.ckpt.bak" in fixed.stdout
    assert cli("verify", path).returncode == 0

    foreign = tmp_path / "best.json"
    foreign.write_text(json.dumps({"loss": 1}))
    refused = cli("recover", foreign)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and str(foreign) in refused.stderr and "JSON" in refused.stderr
