"""Guarantee 3 at the byte level: checksummed records, torn tails, damage detection."""

import pytest

from resumable_opt.checkpoint import records
from resumable_opt.errors import CheckpointCorrupt, CheckpointVersionError


def file_of(*payloads):
    return records.encode_header() + b"".join(records.encode_record(p) for p in payloads)


def test_round_trip():
    scan = records.read_records(file_of(b"one", b"two" * 100), "f")
    assert scan.payloads == [b"one", b"two" * 100] and scan.torn_bytes == 0


@pytest.mark.parametrize("cut", range(1, 30))
def test_a_torn_last_record_leaves_the_intact_prefix(cut):
    data = file_of(b"snapshot", b"a" * 20)
    scan = records.read_records(data[:-cut], "f")
    assert scan.payloads == [b"snapshot"]
    assert scan.torn_bytes == len(data) - cut - scan.end_of_valid


def test_every_single_bit_flip_is_detected():
    data = file_of(b"snapshot-payload", b"middle-record", b"last")
    for position in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            try:
                scan = records.read_records(bytes(damaged), "f")
            except (CheckpointCorrupt, CheckpointVersionError):
                continue
            # Not an error: only a strict prefix of what was written may come back.
            assert scan.payloads == [b"snapshot-payload", b"middle-record", b"last"][: len(scan.payloads)]
            assert len(scan.payloads) < 3


def test_damage_in_the_middle_is_an_error_not_a_shorter_history():
    data = bytearray(file_of(b"snapshot", b"middle", b"last"))
    data[len(records.encode_header()) + records.RECORD_HEADER_SIZE + 2] ^= 0xFF
    with pytest.raises(CheckpointCorrupt, match="followed by intact records"):
        records.read_records(bytes(data), "f")


def test_newer_format_version_is_refused_clearly():
    with pytest.raises(CheckpointVersionError, match="newer resumable-opt"):
        records.read_records(records.encode_header(records.FORMAT_VERSION + 1), "f")
