"""The data-only encoding of checkpoint records (format version 2).

Every record is msgpack: maps, lists, strings, bytes, integers, float64
(bit for bit; NaN and infinities too) and a few extension types for values
msgpack has no name for.  Decoding a record only ever builds these values:
it never imports a module named by the file, never calls a function from it.

=============  ==================================================================
extension      what it holds
=============  ==================================================================
tuple          a tuple (its items encoded as a list)
bigint         an integer beyond 64 bits (numpy's random state), as decimal text
np.scalar      a numpy scalar: its dtype string and its bytes
np.array       a numpy array of a plain dtype: dtype string, shape, bytes (C order)
datetime       ``datetime.isoformat()`` text (naive or with its UTC offset)
pickled        a value that is not data: the name of its type and its cloudpickle
               bytes, kept as :class:`Pickled` and unpickled only on request
shown          a value kept for display only: its ``repr``, as :class:`Shown`
raw            a value encoded beforehand (:class:`Raw`), decoded as that value
f64, i64       a numpy float64 / int64 (the most common scalars): its 8 bytes
naive dt       a naive datetime (hyperopt's times): microseconds since 1970-01-01
=============  ==================================================================

What is not data is pickled (:class:`Pickled`): results and attachments are
values the search gives back.  The decoded parameters are only ever shown, so
their odd values are turned into text before they are stored (:func:`displayable`).

Decoding has two modes: with ``numpy=True`` numpy scalars and arrays come back
as numpy values (what hyperopt's algorithms and a ``Trials`` hold); with
``numpy=False`` numpy scalars come back as the equal Python number (a float64
*is* a Python float, bit for bit), so reading a checkpoint to show it never
imports numpy.  Arrays always need numpy.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from datetime import datetime, timedelta

import msgpack

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any

EXT_TUPLE = 1
EXT_BIGINT = 2
EXT_NP_SCALAR = 3
EXT_NP_ARRAY = 4
EXT_DATETIME = 5
EXT_PICKLED = 6
EXT_SHOWN = 7
EXT_RAW = 8
EXT_F64 = 9
EXT_I64 = 10
EXT_NAIVE_DATETIME = 11


_F64 = struct.Struct("<d")
_I64 = struct.Struct("<q")
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def naive_microseconds(value: datetime) -> int:
    """A naive datetime as microseconds since 1970-01-01 (exact)."""
    return (value - _EPOCH) // _MICROSECOND


def naive_datetime(microseconds: int) -> datetime:
    return _EPOCH + _MICROSECOND * microseconds  # exact, and twice as fast as timedelta(microseconds=...)


class NotStorable(Exception):
    """A value that the encoding cannot store (``str()`` says which and why)."""


def type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


class Pickled:
    """A value that is not data, kept as its pickle: never unpickled unless asked.

    ``repr`` is a readable placeholder (``<pickled __main__.Metrics, 412 bytes>``);
    :meth:`load` unpickles it, which runs code from the checkpoint: only for
    files you trust.  Stored again, it is written back byte for byte.
    """

    __slots__ = ("type_name", "data")

    def __init__(self, type_name: str, data: bytes) -> None:
        self.type_name = type_name
        self.data = data

    @classmethod
    def of(cls, value: Any) -> Pickled:
        """Pickle ``value`` (with cloudpickle: functions and classes of ``__main__`` by value)."""
        import cloudpickle

        try:
            return cls(type_name(value), cloudpickle.dumps(value, protocol=5))
        except MemoryError:
            raise NotStorable(f"MemoryError: out of memory while pickling a {type_name(value)}") from None
        except Exception as exc:  # pickle raises TypeError, PicklingError, AttributeError, ...
            raise NotStorable(f"{type(exc).__name__}: {exc}") from None

    def load(self) -> Any:
        """Unpickle the value.  This runs code from the checkpoint."""
        import cloudpickle

        return cloudpickle.loads(self.data)

    def __repr__(self) -> str:
        return f"<pickled {self.type_name}, {len(self.data)} bytes>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pickled) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)


class Shown(str):
    """A value that was not data, kept as its ``repr`` for display; prints as that text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


class Extension:
    """A value that a higher layer encodes its own way (``code`` >= 16, ``payload``
    encoded as data) and decodes with the handler it gives :class:`Decoder`."""

    __slots__ = ("code", "payload")

    def __init__(self, code: int, payload: Any) -> None:
        self.code = code
        self.payload = payload


class Raw:
    """A value encoded ahead of its record, so that a value that cannot be
    stored is known before anything is written (the runner's results)."""

    __slots__ = ("data", "value")

    def __init__(self, value: Any, encoder: Encoder) -> None:
        self.value = value
        self.data = encoder.encode(value)


def _numpy() -> Any:
    import numpy

    return numpy


class Encoder:
    """Encodes values to msgpack bytes; see the module doc.  Reusable, not thread-safe."""

    def __init__(self) -> None:
        self._packer = msgpack.Packer(default=self._default, strict_types=True, use_bin_type=True, autoreset=True)

    def encode(self, value: Any) -> bytes:
        try:
            return self._packer.pack(value)
        except NotStorable:
            raise
        except MemoryError:
            raise NotStorable("MemoryError: out of memory while encoding it") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise NotStorable(f"{type(exc).__name__}: {exc}") from None

    def _nested(self, value: Any) -> bytes:
        # A fresh packer: the outer one is in the middle of a pack() call.
        return msgpack.packb(value, default=self._default, strict_types=True, use_bin_type=True)

    def _default(self, value: Any) -> Any:
        kind = type(value)
        if kind is tuple:
            return msgpack.ExtType(EXT_TUPLE, self._nested(list(value)))
        if kind is int:  # only the ones msgpack cannot hold get here
            return msgpack.ExtType(EXT_BIGINT, str(value).encode())
        if kind is datetime:
            if value.tzinfo is None:
                return msgpack.ExtType(EXT_NAIVE_DATETIME, _I64.pack(naive_microseconds(value)))
            return msgpack.ExtType(EXT_DATETIME, value.isoformat().encode())
        if kind is Pickled:
            return msgpack.ExtType(EXT_PICKLED, msgpack.packb([value.type_name, value.data], use_bin_type=True))
        if kind is Shown:
            return msgpack.ExtType(EXT_SHOWN, str(value).encode())
        if kind is Raw:
            return msgpack.ExtType(EXT_RAW, value.data)
        if kind is Extension:
            return msgpack.ExtType(value.code, self._nested(value.payload))
        if "numpy" in sys.modules:
            np = sys.modules["numpy"]
            if kind is np.float64:
                return msgpack.ExtType(EXT_F64, _F64.pack(value))
            if kind is np.int64:
                return msgpack.ExtType(EXT_I64, _I64.pack(value))
            if isinstance(value, np.generic) and value.dtype.kind in "biufcmM":
                dtype = value.dtype.str.encode()
                return msgpack.ExtType(EXT_NP_SCALAR, bytes([len(dtype)]) + dtype + value.tobytes())
            if kind is np.ndarray and value.dtype.kind in "biufcmM":
                header = msgpack.packb([value.dtype.str, list(value.shape)])
                return msgpack.ExtType(EXT_NP_ARRAY, header + np.ascontiguousarray(value).tobytes())
        # Subclasses of plain types (bool, str, dict, float...), and everything else.
        return self._default(Pickled.of(value))


_PLAIN_SCALARS: dict[bytes, Callable[[bytes], Any]] = {
    b"<f8": lambda raw: struct.unpack("<d", raw)[0],
    b"<f4": lambda raw: struct.unpack("<f", raw)[0],
    b"<i8": lambda raw: struct.unpack("<q", raw)[0],
    b"<i4": lambda raw: struct.unpack("<i", raw)[0],
    b"<u8": lambda raw: struct.unpack("<Q", raw)[0],
    b"<u4": lambda raw: struct.unpack("<I", raw)[0],
    b"|b1": lambda raw: raw != b"\x00",
}


class Decoder:
    """Decodes what :class:`Encoder` wrote; never runs code from the data."""

    def __init__(self, numpy: bool = True, handlers: dict[int, Callable[[Any, bool], Any]] | None = None) -> None:
        """``handlers``: for each :class:`Extension` code, a function of its
        decoded payload and ``numpy`` that gives the value back."""
        self.numpy = numpy
        self.handlers = handlers or {}
        self._dtypes: dict[bytes, Any] = {}

    def decode(self, data: bytes) -> Any:
        return msgpack.unpackb(data, ext_hook=self._ext, strict_map_key=False, raw=False, use_list=True)

    def _dtype(self, text: bytes) -> Any:
        dtype = self._dtypes.get(text)
        if dtype is None:
            dtype = self._dtypes[text] = _numpy().dtype(text.decode())
        return dtype

    def _ext(self, code: int, data: bytes) -> Any:
        # The most frequent first: a record holds one trial document (a handler's) per trial.
        handler = self.handlers.get(code)
        if handler is not None:
            return handler(msgpack.unpackb(data, ext_hook=self._ext, strict_map_key=False), self.numpy)
        if code == EXT_F64:
            number = _F64.unpack(data)[0]
            return _numpy().float64(number) if self.numpy else number
        if code == EXT_I64:
            number = _I64.unpack(data)[0]
            return _numpy().int64(number) if self.numpy else number
        if code == EXT_NAIVE_DATETIME:
            return naive_datetime(_I64.unpack(data)[0])
        if code == EXT_NP_SCALAR:
            size = data[0]
            dtype, raw = data[1 : 1 + size], data[1 + size :]
            if not self.numpy and dtype in _PLAIN_SCALARS:
                return _PLAIN_SCALARS[dtype](raw)
            return _numpy().frombuffer(raw, self._dtype(dtype))[0]
        if code == EXT_TUPLE:
            return tuple(self.decode(data))
        if code == EXT_DATETIME:
            return datetime.fromisoformat(data.decode())
        if code == EXT_BIGINT:
            return int(data.decode())
        if code == EXT_PICKLED:
            name, blob = msgpack.unpackb(data, raw=False)
            return Pickled(name, blob)
        if code == EXT_RAW:
            return self.decode(data)
        if code == EXT_SHOWN:
            return Shown(data.decode("utf-8", "replace"))
        if code == EXT_NP_ARRAY:
            unpacker = msgpack.Unpacker(raw=False)
            unpacker.feed(data)
            dtype, shape = unpacker.unpack()
            raw = data[unpacker.tell() :]
            return _numpy().frombuffer(raw, self._dtype(dtype.encode())).reshape(shape).copy()
        raise ValueError(f"unknown value type {code} in the record (written by a newer resumable-opt?)")


def contains_pickled(value: Any) -> bool:
    """Whether a decoded value holds a :class:`Pickled` anywhere."""
    if isinstance(value, Pickled):
        return True
    if isinstance(value, dict):
        return any(contains_pickled(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_pickled(item) for item in value)
    return False


def unpickle_all(value: Any, failures: list[str] | None = None) -> Any:
    """``value`` with every :class:`Pickled` in it unpickled (runs code: for the search only).

    A value that cannot be unpickled here stays a placeholder and its reason
    goes to ``failures``.
    """
    if isinstance(value, Pickled):
        try:
            return value.load()
        except Exception as exc:
            if failures is not None:
                failures.append(f"{value!r}: {type(exc).__name__}: {exc}")
            return value
    if isinstance(value, dict):
        if not contains_pickled(value):
            return value
        return {key: unpickle_all(item, failures) for key, item in value.items()}
    if isinstance(value, list) and contains_pickled(value):
        return [unpickle_all(item, failures) for item in value]
    if isinstance(value, tuple) and contains_pickled(value):
        return tuple(unpickle_all(item, failures) for item in value)
    return value


_DATA_TYPES = (type(None), bool, int, float, str, bytes, datetime)


def displayable(value: Any) -> Any:
    """``value`` with whatever is not data replaced by its ``repr`` (:class:`Shown`)."""
    if type(value) in _DATA_TYPES or type(value) is Shown:
        return value
    if type(value) is dict:
        return {
            key if isinstance(key, (str, int)) else Shown(repr(key)): displayable(item) for key, item in value.items()
        }
    if type(value) is list:
        return [displayable(item) for item in value]
    if type(value) is tuple:
        return tuple(displayable(item) for item in value)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.generic, numpy.ndarray)) and value.dtype.kind in "biufcmM":
        return value
    try:
        return Shown(repr(value))
    except Exception as exc:
        return Shown(f"<{type_name(value)}: repr failed: {type(exc).__name__}>")
