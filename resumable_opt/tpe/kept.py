"""Results of hyperopt's pure functions kept for arguments of the same bits.

Late in a search the good trials seldom change, and with them the
arguments of their Parzen estimator and of its mass between the bounds:
:class:`Kept` returns the result of the last call with arguments of the
same bits instead of computing it again.

Guarantee: a call returns what the function returns for those arguments,
bit for bit; the function must be deterministic (hyperopt's are).  Only
arguments whose bits are the whole story are keyed: float64 vectors of at
most ``largest`` values, floats (not NaN, whose payload ``float.hex`` would
lose) and ints, each with its type (so ``-0.0`` is not ``0.0`` and ``1`` is
not ``1.0``), and None.  Any other argument makes the call a plain call.
Arrays in the result (itself, or in a tuple) are handed out as copies, so
that nothing a caller does to them reaches the next call; the functions
kept return nothing else that can change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np


class Kept:
    """``function``, its results kept (at most ``most`` of them, the oldest dropped first)."""

    def __init__(self, function: Callable, largest: int = 64, most: int = 64) -> None:
        self.function, self.largest, self.most = function, largest, most
        self._results: dict = {}
        self._lock = threading.Lock()
        #: How many calls were answered from a kept result and how many computed one (for tests).
        self.counts = {"kept": 0, "computed": 0}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = self._key(args, kwargs)
        if key is None:
            return self.function(*args, **kwargs)
        result = self._results.get(key)
        if result is None:
            result = self.function(*args, **kwargs)
            with self._lock:
                if len(self._results) >= self.most:
                    del self._results[next(iter(self._results))]
                self._results[key] = result
            self.counts["computed"] += 1
        else:
            self.counts["kept"] += 1
        return _copied(result)

    def _key(self, args: tuple, kwargs: dict) -> tuple | None:
        named = sorted(kwargs)
        parts = [self._part(value) for value in (*args, *(kwargs[name] for name in named))]
        if any(part is None for part in parts):
            return None
        return (len(args), *named, *parts)

    def _part(self, value: Any) -> Any:
        kind = type(value)
        if kind is np.ndarray:
            if value.dtype == np.float64 and value.ndim == 1 and len(value) <= self.largest:
                return (kind, value.tobytes())
            return None
        if kind is float or kind is np.float64:
            return None if value != value else (kind, float(value).hex())
        if kind is int or value is None:
            return (kind, value)
        return None


def _copied(result: Any) -> Any:
    if type(result) is np.ndarray:
        return result.copy()
    if type(result) is tuple:
        return tuple(_copied(x) for x in result)
    return result
