"""The byte layout of a checkpoint file: a header, then checksummed records.

::

    header  = b"RESUMOPT" | version (u32) | crc32(magic + version) (u32)
    record  = b"ROrc" | length (u32) | crc32(length + payload) (u32) | payload

All integers are little-endian.  The first record is always a snapshot of the
whole search; every later one is a small journal operation.  A payload is
opaque at this level: data-only msgpack in format version 2 (see
``encoding.py``), a pickle in format version 1 (read, never written).

Guarantees of :func:`read_records`:

* Data that does not match its checksum is never returned.
* A damaged region that runs to the end of the file is a *torn tail*: what an
  interrupted append leaves behind after a crash.  The intact records before
  it are returned and the size of the tail is reported.
* A damaged region followed by any intact record is damage in the middle of
  the history, which a crash cannot cause: it raises
  :class:`~resumable_opt.errors.CheckpointCorrupt` rather than silently
  dropping the later records.
"""

from __future__ import annotations

import struct
import zlib

from ..errors import CheckpointCorrupt, CheckpointVersionError

MAGIC = b"RESUMOPT"
FORMAT_VERSION = 2
#: The first format: pickled records.  Still read (reading it unpickles), converted by the next run.
PICKLE_FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sII")
HEADER_SIZE = _HEADER.size

RECORD_MAGIC = b"ROrc"
_RECORD = struct.Struct("<4sII")
RECORD_HEADER_SIZE = _RECORD.size

#: Advice attached to every "damaged" error so the user knows the way out.
RECOVER_ADVICE = (
    "run `resumable-opt verify FILE` to see what can be recovered and "
    "`resumable-opt recover FILE` to restore the last good state"
)


def encode_header(version: int = FORMAT_VERSION) -> bytes:
    """The fixed-size header that opens every checkpoint file."""
    head = MAGIC + struct.pack("<I", version)
    return _HEADER.pack(MAGIC, version, zlib.crc32(head))


def encode_record(payload: bytes) -> bytes:
    """Frame one payload as a record, ready to be appended."""
    length = struct.pack("<I", len(payload))
    crc = zlib.crc32(payload, zlib.crc32(length))
    return _RECORD.pack(RECORD_MAGIC, len(payload), crc) + payload


class Scan:
    """What :func:`read_records` found in a file.

    (A plain class, not a dataclass: see ``journal._Record``.)"""

    def __init__(
        self, payloads: list[bytes], end_of_valid: int, torn_bytes: int, version: int = FORMAT_VERSION
    ) -> None:
        self.payloads = payloads
        #: Byte offset just past the last intact record.
        self.end_of_valid = end_of_valid
        #: Bytes after the last intact record that belong to a torn append.
        self.torn_bytes = torn_bytes
        #: The format version in the header.
        self.version = version


def check_header(data: bytes, path: object) -> int:
    """The format version of ``data``; a clear error unless it starts with a header we can read."""
    if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
        if len(data) == 0:
            problem = "the file is empty, so it is not a resumable-opt checkpoint"
        else:
            problem = "not a resumable-opt checkpoint (it does not start with the format's signature)"
        raise CheckpointCorrupt(path, problem, "check the path, or restore the file from a backup")
    magic, version, crc = _HEADER.unpack_from(data)
    if zlib.crc32(magic + struct.pack("<I", version)) != crc:
        raise CheckpointCorrupt(path, "the checkpoint header is damaged", RECOVER_ADVICE)
    if version > FORMAT_VERSION:
        raise CheckpointVersionError(
            path,
            f"written by a newer resumable-opt (format version {version}; this one reads up to {FORMAT_VERSION})",
            "upgrade resumable-opt to open it",
        )
    return version


def _record_at(data: bytes, offset: int) -> tuple[bytes, int] | None:
    """The payload of an intact record at ``offset`` and the offset after it, or None."""
    if offset + RECORD_HEADER_SIZE > len(data):
        return None
    magic, length, crc = _RECORD.unpack_from(data, offset)
    if magic != RECORD_MAGIC:
        return None
    start = offset + RECORD_HEADER_SIZE
    end = start + length
    if end > len(data):
        return None
    payload = data[start:end]
    if zlib.crc32(payload, zlib.crc32(struct.pack("<I", length))) != crc:
        return None
    return payload, end


def _intact_record_after(data: bytes, offset: int) -> int | None:
    """Offset of the first intact record that starts after ``offset``, if any."""
    position = data.find(RECORD_MAGIC, offset + 1)
    while position != -1:
        if _record_at(data, position) is not None:
            return position
        position = data.find(RECORD_MAGIC, position + 1)
    return None


def leading_records(data: bytes) -> tuple[list[bytes], int]:
    """The payloads of the intact records after the header, up to the first
    damaged one or the end, and the offset where they stop.  The header is
    not checked here."""
    payloads: list[bytes] = []
    offset = HEADER_SIZE
    while offset < len(data):
        found = _record_at(data, offset)
        if found is None:
            break
        payload, offset = found
        payloads.append(payload)
    return payloads, offset


def read_records(data: bytes, path: object) -> Scan:
    """Split a whole checkpoint file into its record payloads (see module doc)."""
    version = check_header(data, path)
    payloads, offset = leading_records(data)
    if offset < len(data):
        later = _intact_record_after(data, offset)
        if later is not None:
            raise CheckpointCorrupt(
                path,
                f"damaged record at byte {offset}, followed by intact records "
                f"from byte {later}: the file was altered after it was written",
                RECOVER_ADVICE,
            )
    return Scan(payloads, offset, len(data) - offset, version)
