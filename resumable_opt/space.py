"""What a search space is, in words: a canonical description, decoding and diffs.

A checkpoint stores the description of its space, so that resuming with a
different space is refused with a readable list of what changed, while the
same space rebuilt in a new process (new objects, same labels, distributions,
bounds and choices) is accepted.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from hyperopt import pyll

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


# -- decoding a point without running the space ------------------------------
#
# The one way a trial's parameters are decoded for people and files (progress
# lines, NAME.best.json, load().best, the trials table, imports): from the
# trial's values and the *structure* of the space alone.  No function of the
# space is ever called here (one the user defined with scope.define, a random
# node with its own generator): each runs only when the objective's own
# evaluation (hyperopt's Domain.evaluate) runs the space, exactly as often as
# under hyperopt.fmin.  Only hyperopt's own arithmetic is computed.  What a
# decoded point is: docs/decoded-parameters.md.

#: The wrappers hyperopt puts around a label's raw value (hp.uniform is
#: float(hyperopt_param(...)), hp.uniformint is int(float(...))): applied in
#: order, they turn the stored value into the one the objective received.
_CASTS: dict[str, Callable[[Any], Any]] = {"float": float, "int": int}

#: hyperopt's own deterministic arithmetic (what ``2 ** hp.quniform(...)`` or
#: ``hp.uniform(...) / 2`` make): decoding computes these, as they cannot
#: disturb a search.  Taken from hyperopt's symbol table when this module is
#: imported (pyll refuses to redefine a name), so only hyperopt's functions qualify.
_ARITHMETIC: dict[str, Callable[..., Any]] = {
    name: pyll.scope._impls[name]
    for name in (
        "add", "sub", "mul", "truediv", "floordiv", "neg", "pow", "getitem", "exp", "log", "sqrt",
        "sin", "cos", "tan", "minimum", "maximum", "eq", "lt", "le", "gt", "ge", "identity",
    )
    if name in pyll.scope._impls
}  # fmt: skip

#: Decodes one label of a raw point ({label: value} of the active labels).
_LabelDecoder = Callable[[dict[str, Any]], Any]


class PointDecoder:
    """The decoding of points of one space, worked out once (see :func:`decode`)."""

    def __init__(self, space: Any) -> None:
        self.expr = pyll.as_apply(space)
        nodes = list(pyll.dfs(self.expr))
        parents: dict[int, list] = {}
        for node in nodes:
            for child in node.inputs():
                parents.setdefault(id(child), []).append(node)
        self._decoders: dict[str, _LabelDecoder] = {}
        for node in nodes:
            if _is_choice(node):
                label = node.pos_args[0].arg["label"].obj
                self._decoders[label] = _choice_decoder(label, node.pos_args[1:])
            elif node.name == "hyperopt_param":
                label = node.arg["label"].obj
                self._decoders.setdefault(label, _cast_decoder(label, _casts_above(node, parents)))
        #: Every label of the space, in the order hyperopt walks it.
        self.labels: list[str] = list(self._decoders)
        #: True when the space computes something (then points are decoded label by label).
        self.computes = _computes(self.expr)

    def __call__(self, vals: dict[str, Any]) -> Any:
        """The decoded point: see :func:`decode`."""
        if self.computes:
            return self.by_label(vals)
        return _build(self.expr, _as_point(vals))

    def by_label(self, vals: dict[str, Any]) -> dict[str, Any]:
        """``{label: value}`` for each label the point has, in the order of the space:
        a plain hyperparameter's value as the objective receives it (an ``int``
        for ``hp.randint``/``hp.uniformint``), a choice's chosen option built
        from the point, ``"option I, computed: EXPRESSION"`` where that option
        needs a function of the space (``"computed: EXPRESSION"`` for such a
        part of it; the expression's text is cut at 80 characters)."""
        point = _as_point(vals)
        return {label: self._decoders[label](point) for label in self.labels if label in point}


def decode(space: Any, vals: dict[str, Any]) -> Any:
    """A trial's parameters as people and files see them, never running the space.

    ``vals`` is a trial's ``misc["vals"]`` (``{label: [value] or []}``) or a
    point ``{label: value}`` (choices as indexes).  No function of the space
    is called (only hyperopt's own arithmetic is computed): decoding costs a
    few look-ups per label, disturbs no random node, and gives the same
    result in any process.  What the result is (docs/decoded-parameters.md):

    * a space made only of hyperparameters, literals, dicts, lists, tuples,
      choices, hyperopt's ``int``/``float`` wrappers and hyperopt's own
      arithmetic (``2 ** hp.quniform(...)``, ``hp.uniform(...) / 2``): the
      point the objective receives, equal to ``hyperopt.space_eval(space, argmin)``;
    * a space that uses any other function (one the user defined with
      ``scope.define``, a random node such as ``scope.normal(..., rng=...)``):
      showing what the objective received would mean running those again,
      so the point is given label by label instead, as
      :meth:`PointDecoder.by_label` says.

    Raises (KeyError, IndexError, ValueError, TypeError) when a choice index is
    out of range or a label that the chosen options need is missing.
    """
    return decoder(space)(vals)


#: Recently used spaces and their decoders (the space is kept so that its id stays its own).
_DECODERS: dict[int, tuple[Any, PointDecoder]] = {}
_DECODERS_KEPT = 8


def decoder(space: Any) -> PointDecoder:
    """The :class:`PointDecoder` of ``space``, made once and kept for the next calls."""
    found = _DECODERS.get(id(space))
    if found is not None and found[0] is space:
        return found[1]
    made = PointDecoder(space)
    if len(_DECODERS) >= _DECODERS_KEPT:
        _DECODERS.pop(next(iter(_DECODERS)))
    _DECODERS[id(space)] = (space, made)
    return made


def check_point(space: Any, vals: dict[str, Any]) -> None:
    """Raise unless the point fits ``space``: ValueError without a value for
    every label it uses (following the options it chooses), IndexError for a
    choice index out of range.

    Runs nothing of the space either: it only walks its structure.
    """
    point = _as_point(vals)
    seen: set[int] = set()
    todo = [pyll.as_apply(space)]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.name == "hyperopt_param":
            label = node.arg["label"].obj
            if label not in point:
                raise ValueError(f"no value for the label {label!r}, which this point uses")
            continue  # its distribution is the prior, not part of the point
        if _is_choice(node):
            label = node.pos_args[0].arg["label"].obj
            todo.append(node.pos_args[0])
            if label in point:
                options = node.pos_args[1:]
                index = _choice_index(label, point[label], len(options))
                todo.append(options[index])
            continue
        todo.extend(node.inputs())


def _computes(expr: Any) -> bool:
    """Whether any node of the space, outside the hyperparameters' own
    distributions, is something other than structure :func:`_build` builds."""
    seen: set[int] = set()
    todo = [expr]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.name == "hyperopt_param":
            continue
        if not _is_structure(node):
            return True
        todo.extend(node.inputs())
    return False


def _is_structure(node: Any) -> bool:
    name = node.name
    return (
        name == "literal"
        or _is_choice(node)
        or (name in _CASTS and len(node.inputs()) == 1)
        or name in _ARITHMETIC
        or (name == "pos_args" and not node.named_args)
        or (name == "dict" and not node.pos_args)
        or (name == "dict" and len(node.pos_args) == 1 and not node.named_args and node.pos_args[0].name == "pos_args")
    )


def _as_point(vals: dict[str, Any]) -> dict[str, Any]:
    """``{label: value}`` of the active labels, from misc vals or from a point."""
    point = {}
    for label, value in vals.items():
        if isinstance(value, (list, tuple, np.ndarray)):
            if len(value):
                point[label] = value[0]
        else:
            point[label] = value
    return point


def _is_choice(node: Any) -> bool:
    return node.name == "switch" and node.pos_args[0].name == "hyperopt_param"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _choice_index(label: str, value: Any, n_options: int) -> int:
    index = int(value)
    if index != value or not 0 <= index < n_options:
        raise IndexError(f"{label!r} is {value!r}: not the index of one of its {n_options} options")
    return index


def _casts_above(node: Any, parents: dict[int, list]) -> list[Callable[[Any], Any]]:
    """The ``float``/``int`` wrappers directly around a ``hyperopt_param`` node."""
    casts: list[Callable[[Any], Any]] = []
    while True:
        above = parents.get(id(node), [])
        if len(above) != 1 or above[0].name not in _CASTS or len(above[0].inputs()) != 1:
            return casts
        node = above[0]
        casts.append(_CASTS[node.name])


def _cast_decoder(label: str, casts: list[Callable[[Any], Any]]) -> _LabelDecoder:
    def decode_label(point: dict[str, Any]) -> Any:
        value = _plain(point[label])
        for cast in casts:
            value = cast(value)
        return value

    return decode_label


def _choice_decoder(label: str, options: list) -> _LabelDecoder:
    """An ``hp.choice``/``hp.pchoice``: the chosen option, built from the point, never run."""
    literals = [option.obj if option.name == "literal" else _NOT_LITERAL for option in options]

    def decode_label(point: dict[str, Any]) -> Any:
        index = _choice_index(label, point[label], len(options))
        if literals[index] is not _NOT_LITERAL:
            return _plain(literals[index])
        built = _build(options[index], point)
        if isinstance(built, _Computed):
            return f"option {index}, {built}"
        return built

    return decode_label


class _Computed(str):
    """The text standing for a part of an option that the space computes."""


def _build(node: Any, point: dict[str, Any]) -> Any:
    """The value of a piece of the space made of literals, hyperparameters,
    containers, casts and hyperopt's arithmetic; a :class:`_Computed` text
    for anything else (or arithmetic that fails on this point)."""
    name = node.name
    if name == "literal":
        return _plain(node.obj)
    if name == "hyperopt_param":
        return _plain(point[node.arg["label"].obj])
    if _is_choice(node):
        label = node.pos_args[0].arg["label"].obj
        options = node.pos_args[1:]
        return _build(options[_choice_index(label, point[label], len(options))], point)
    if name in _CASTS and len(node.inputs()) == 1:
        inner = _build(node.inputs()[0], point)
        if not isinstance(inner, _Computed):
            return _CASTS[name](inner)
    elif name == "pos_args" and not node.named_args:
        return tuple(_part(arg, point) for arg in node.pos_args)
    elif name == "dict" and not node.pos_args:
        return {key: _part(value, point) for key, value in node.named_args}
    elif name == "dict" and len(node.pos_args) == 1 and not node.named_args and node.pos_args[0].name == "pos_args":
        pairs = _build(node.pos_args[0], point)  # a dict with keys that are not all strings
        if all(isinstance(pair, tuple) and len(pair) == 2 for pair in pairs):
            return dict(pairs)
    elif name in _ARITHMETIC:
        args = [_build(arg, point) for arg in node.pos_args]
        kwargs = {key: _build(arg, point) for key, arg in node.named_args}
        if not any(isinstance(arg, _Computed) for arg in [*args, *kwargs.values()]):
            try:
                return _plain(_ARITHMETIC[name](*args, **kwargs))
            except Exception:  # e.g. log of a negative point: the objective fails on it too; shown as text
                pass
    text = _ADDRESS.sub("", _short(node))
    return _Computed(f"computed: {text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + '...'}")


def _part(node: Any, point: dict[str, Any]) -> Any:
    """A piece inside a built container: a computed piece stays as its plain text."""
    built = _build(node, point)
    return str(built) if isinstance(built, _Computed) else built


_NOT_LITERAL = object()
#: How much of a computed expression's text a decoded point keeps.
_TEXT_LIMIT = 80


def own_generators(space: Any) -> list[Any]:
    """The numpy random generators held by the space itself (a random node such
    as ``scope.normal(0, 1, rng=np.random.default_rng(123))``), each once, in
    the order hyperopt walks the space.

    They are drawn from when the objective's evaluation runs the space, so
    their state is part of where a search stands.
    """
    found: dict[int, Any] = {}
    for node in pyll.dfs(pyll.as_apply(space)):
        if node.name == "literal" and isinstance(node.obj, (np.random.Generator, np.random.RandomState)):
            found.setdefault(id(node.obj), node.obj)
    return list(found.values())


def generator_state(generator: Any) -> dict:
    """The state of a numpy Generator or RandomState as plain data (arrays as lists)."""
    if isinstance(generator, np.random.RandomState):
        return _plain_data(generator.get_state(legacy=False))
    return _plain_data(generator.bit_generator.state)


def set_generator_state(generator: Any, state: dict) -> None:
    """Put a numpy Generator or RandomState back in a state :func:`generator_state` gave."""
    if isinstance(generator, np.random.RandomState):
        generator.set_state(state)
    else:
        generator.bit_generator.state = state


def _plain_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain_data(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return _plain(value)
