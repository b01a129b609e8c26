"""What a search space is, in words: a canonical description, decoding and diffs.

A checkpoint stores the description of its space, so that resuming with a
different space is refused with a readable list of what changed, while the
same space rebuilt in a new process (new objects, same labels, distributions,
bounds and choices) is accepted.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from hyperopt import pyll, space_eval

from .values import active_values, to_jsonable  # noqa: F401  (here too: their home was this module)

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def describe(space: Any) -> str:
    """A canonical, process-independent text of the whole space graph."""
    return _ADDRESS.sub("", str(pyll.as_apply(space)))


def parameters(space: Any) -> dict[str, str]:
    """Each hyperparameter label with a one-line description of its distribution.

    ``hp.choice("lr", [1.0, 0.1])`` is sampled as ``randint(2)``, so its
    options are listed too: changing an option is a change of the space; so
    are the probabilities of an ``hp.pchoice``.
    """
    described: dict[str, str] = {}
    for node in pyll.dfs(pyll.as_apply(space)):
        if node.name == "switch" and node.pos_args[0].name == "hyperopt_param":
            label = node.pos_args[0].arg["label"].obj
            options = [_short(option) for option in node.pos_args[1:]]
            sampler = node.pos_args[0].arg["obj"]
            if sampler.name == "categorical":  # hp.pchoice: each option with its probability
                weights = [_short(weight) for weight in sampler.pos_args[0].pos_args]
                described[label] = (
                    f"pchoice of [{', '.join(f'{w}: {o}' for w, o in zip(weights, options, strict=True))}]"
                )
            else:
                described[label] = f"choice of [{', '.join(options)}]"
        elif node.name == "hyperopt_param":
            label = node.arg["label"].obj
            described.setdefault(label, _short(node.arg["obj"]))
    return described


def _short(node: Any) -> str:
    """One-line text of a pyll node: ``uniform(-5, 5)``, ``0.1``, ``{...}``."""
    if node.name == "literal":
        return repr(node.obj)
    if node.name == "hyperopt_param":
        return f"<{node.arg['label'].obj}>"
    if node.name in ("dict", "pos_args") or not node.pos_args and node.named_args:
        return "{...}" if node.name == "dict" else f"{node.name}(...)"
    args = [_short(arg) for arg in node.pos_args]
    args += [f"{key}={_short(value)}" for key, value in node.named_args]
    return f"{node.name}({', '.join(args)})"


def differences(stored: dict, current: Any) -> list[str]:
    """Readable differences between a stored space description and a space.

    ``stored`` is what :func:`signature` returned for the checkpoint's space.
    An empty list means the two are the same space.
    """
    now = signature(current)
    if now["text"] == stored["text"]:
        return []
    found: list[str] = []
    old_params, new_params = stored["parameters"], now["parameters"]
    for label in sorted(old_params.keys() - new_params.keys()):
        found.append(f"label {label!r} is gone (was {old_params[label]})")
    for label in sorted(new_params.keys() - old_params.keys()):
        found.append(f"new label {label!r} ({new_params[label]})")
    for label in sorted(old_params.keys() & new_params.keys()):
        if old_params[label] != new_params[label]:
            found.append(f"{label!r}: {old_params[label]} -> {new_params[label]}")
    if not found:
        diff = difflib.unified_diff(
            stored["text"].splitlines(), now["text"].splitlines(), "checkpoint", "given", n=1, lineterm=""
        )
        changed = [
            line[0] + " " + line[1:].split(maxsplit=1)[-1].strip()  # without pyll's line number
            for line in diff
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        found.append("the structure differs: " + " ".join(changed[:12]))
    return found


def signature(space: Any) -> dict:
    """What a checkpoint keeps to recognise its space."""
    return {"text": describe(space), "parameters": parameters(space)}


def decode(space: Any, vals: dict[str, list]) -> Any:
    """The point as the objective saw it: choices as values, not indexes."""
    return space_eval(space, active_values(vals))
