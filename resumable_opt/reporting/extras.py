"""The optional extras (matplotlib, pandas, pyarrow), imported only when needed.

The core install stays small; a feature that needs an extra says, in one
line, which package is missing and the command that installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import ResumableOptError


class MissingExtra(ResumableOptError, ImportError):
    """An optional package a feature needs is not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs {package}, which is not installed; install it with: "
            f"python -m pip install 'resumable-opt[{extra}]'"
        )


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(module.split(".")[0], extra, purpose) from None
