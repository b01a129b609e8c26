"""Trial values as people and files see them, without importing hyperopt or numpy.

Here rather than in ``space.py`` (which re-exports them) so that reading a
checkpoint (``load``, the inspecting commands) never imports hyperopt.
"""

from __future__ import annotations

import math
import sys

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any


def active_values(vals: dict[str, list]) -> dict[str, Any]:
    """hyperopt's ``misc["vals"]`` ({label: [value] or []}) as ``fmin`` returns it."""
    return {label: values[0] for label, values in vals.items() if values}


def to_jsonable(value: Any) -> Any:
    """Plain-JSON version of a decoded point (numpy scalars, tuples, odd objects)."""
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    numpy = sys.modules.get("numpy")  # a numpy value exists only once numpy is imported
    if numpy is not None and isinstance(value, numpy.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
