"""The runner: steps hyperopt one evaluation at a time over a checkpoint."""

from .minimize import minimize

__all__ = ["minimize"]
