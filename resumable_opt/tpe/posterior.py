"""hyperopt's posterior graph for one domain, compiled once: what ``pyll.rec_eval`` would evaluate, in its order."""

from __future__ import annotations

import itertools
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from hyperopt import tpe as hyperopt_tpe
from hyperopt.pyll import Apply, Literal, as_apply, dfs, rec_eval, scope

from . import choice, parzen, samplers
from .densities import gmm1_lpdf, lgmm1_lpdf

logger = logging.getLogger(__name__)

DEFAULT_LF = hyperopt_tpe.DEFAULT_LF
#: hyperopt's densities, replaced by ours (same numbers, less time).
VECTORISED = {"GMM1_lpdf": gmm1_lpdf, "LGMM1_lpdf": lgmm1_lpdf}
_hyperopt_array_union = scope._impls["array_union"]


def array_union(*args: Any) -> Any:
    """``pyll.array_union``, the same array: a single vector of ints already sorted and distinct
    (the candidates' ids, as the graph passes them on) is its own union."""
    if len(args) == 1:
        (ids,) = args
        if type(ids) is np.ndarray and ids.dtype == np.int64 and ids.ndim == 1 and len(ids) > 0:
            if (ids[1:] > ids[:-1]).all():
                return ids.copy()
        elif type(ids) is list and ids and all(type(x) is int for x in ids) and -(2**63) <= ids[0] <= ids[-1] < 2**63:
            if all(a < b for a, b in itertools.pairwise(ids)):
                return np.asarray(ids)
    return _hyperopt_array_union(*args)


#: Other functions of the graph replaced by ours (the same values, less time).
FASTER: dict[str, Callable] = {
    **VECTORISED,
    "array_union": array_union,
    "linear_forgetting_weights": parzen.forgetting_weights,
    "adaptive_parzen_normal": parzen.kept_parzen,
    "GMM1": samplers.gmm1,
    "LGMM1": samplers.lgmm1,
}


# -- the posterior, compiled once per domain -----------------------------------


class _Unsupported(Exception):
    """The space needs hyperopt's own evaluation of the posterior."""


class Model:
    """hyperopt's posterior graph for one domain, with the order in which
    ``pyll.rec_eval`` evaluates it worked out once.

    The graph is the one ``hyperopt.tpe.build_posterior_wrapper`` builds.
    Each label's ``ap_split_trials`` node (the good/bad split of its
    observations, the expensive part) is given its value from outside; every
    other node is evaluated by hyperopt's function for it.  ``rec_eval`` visits
    a graph without ``switch`` nodes in an order fixed by the graph alone, and
    the split nodes draw nothing, so the draws here come in hyperopt's order.
    """

    def __init__(self, domain: Any, prior_weight: float, gamma: float, linear_forgetting: int) -> None:
        observed, observed_loss, posterior = hyperopt_tpe.build_posterior_wrapper(domain, prior_weight, gamma)
        top = as_apply(posterior)
        nodes = dfs(top)
        if linear_forgetting != DEFAULT_LF:
            _set_linear_forgetting(nodes, linear_forgetting)
            nodes = dfs(top)
        self.labels = list(domain.params)
        self.split_nodes: dict[str, Apply] = {}
        placeholders = {observed["idxs"], observed["vals"], observed_loss["idxs"], observed_loss["vals"]}
        for node in nodes:
            if node.name == "switch":
                raise _Unsupported("switch in the posterior")
            if node.name == "ap_split_trials":
                label = _split_label(node, observed["idxs"])
                if label is None or label in self.split_nodes:
                    raise _Unsupported("unexpected split node")
                self.split_nodes[label] = node
        if set(self.split_nodes) != set(self.labels):
            raise _Unsupported("labels without a split node")
        self.s_new_ids = domain.s_new_ids
        self.s_rng = domain.s_rng
        given = {self.s_new_ids, self.s_rng, *self.split_nodes.values()}
        order = _rec_eval_order(top, given)
        self.literals = {node: node.obj for node in nodes if isinstance(node, Literal) and node not in given}
        replaced = _deferred_choices(nodes)
        sorted_above = _sorted_above(nodes, self.split_nodes)
        #: The labels whose split should carry the order of its above array (see ``parzen``).
        self.ordered_labels = frozenset(sorted_above.values())
        self.steps = []
        for node in order:
            if any(arg in placeholders for arg in node.inputs()):
                raise _Unsupported("the posterior reads the observations outside the split")
            fn = replaced.get(node) or FASTER.get(node.name) or scope._impls[node.name]
            named_args = list(node.named_args)
            if node in sorted_above:  # the split node is in the memo before any step: the order is rec_eval's
                fn = parzen.adaptive_parzen_normal
                named_args.append(["split", self.split_nodes[sorted_above[node]]])
            self.steps.append((node, fn, list(node.pos_args), named_args))
        self.top = top

    def evaluate(
        self, fake_ids: list, rng: np.random.Generator, splits: dict[str, tuple], spent: dict | None = None
    ) -> tuple[dict, dict]:
        """The posterior's ``(idxs, vals)`` for candidates ``fake_ids``, as ``rec_eval`` gives it;
        with ``spent``, the seconds each kind of node took are added to it, by name (for benchmarks)."""
        memo: dict[Apply, Any] = dict(self.literals)
        memo[self.s_new_ids] = fake_ids
        memo[self.s_rng] = rng
        for label, node in self.split_nodes.items():
            memo[node] = splits[label]
        for node, fn, pos_args, named_args in self.steps:
            started = time.perf_counter() if spent is not None else 0.0
            args = [memo[arg] for arg in pos_args]
            rval = fn(*args, **{name: memo[arg] for name, arg in named_args}) if named_args else fn(*args)
            if isinstance(rval, Apply):  # as rec_eval: an instruction that returns a graph means "evaluate that"
                rval = _evaluate_returned(rval, memo)
            memo[node] = rval
            if spent is not None:
                spent[node.name] = spent.get(node.name, 0.0) + time.perf_counter() - started
        return memo[self.top]


def _evaluate_returned(graph: Apply, memo: dict) -> Any:
    """``rec_eval(graph, memo=memo)``.  A single call on literal or evaluated arguments (what
    ``randint_via_categorical`` returns) is made directly, as rec_eval would make it, sparing its
    copy of the memo and its walk of the graph (some 50 us); any other graph goes to rec_eval."""
    arguments = [*graph.pos_args, *(arg for _, arg in graph.named_args)]
    if graph in memo or graph.name == "switch" or not all(isinstance(a, Literal) or a in memo for a in arguments):
        return rec_eval(graph, memo=memo)

    def value(arg: Apply) -> Any:
        return arg.obj if isinstance(arg, Literal) and arg not in memo else memo[arg]

    rval = scope._impls[graph.name](
        *[value(arg) for arg in graph.pos_args], **{name: value(arg) for name, arg in graph.named_args}
    )
    return _evaluate_returned(rval, memo) if isinstance(rval, Apply) else rval


def _rec_eval_order(top: Apply, given: set) -> list[Apply]:
    """The non-literal nodes ``pyll.rec_eval(top)`` evaluates, in its order, with ``given`` in its memo."""
    node_inputs: dict[Apply, list] = {}
    dfs(top, [], seqset=node_inputs)
    done = set(given)
    order = []
    todo = deque([top])
    while todo:
        node = todo.pop()
        if node in done:
            continue
        if isinstance(node, Literal):
            done.add(node)
            continue
        waiting_on = [arg for arg in node_inputs[node] if arg not in done]
        if waiting_on:
            todo.append(node)
            todo.extend(waiting_on)
        else:
            order.append(node)
            done.add(node)
    return order


def _deferred_choices(nodes: list[Apply]) -> dict[Apply, Callable]:
    """The functions that let ``choice.broadcast_best`` pick a candidate from bounds on the densities:
    for each ``broadcast_best`` node whose two densities feed nothing else, itself and its densities."""
    consumers: dict[Apply, list[Apply]] = {}
    for node in nodes:
        for arg in node.inputs():
            consumers.setdefault(arg, []).append(node)
    replaced: dict[Apply, Callable] = {}
    for node in nodes:
        if node.name != "broadcast_best" or len(node.pos_args) != 3 or node.named_args:
            continue
        samples, below, above = node.pos_args
        densities = (below, above)
        if below is above or any(d.name not in VECTORISED or d.pos_args[:1] != [samples] for d in densities):
            continue
        if any(consumers.get(d) != [node] for d in densities):
            continue
        replaced[node] = choice.broadcast_best
        for density in densities:
            replaced[density] = choice.deferred(VECTORISED[density.name], log_space=density.name == "LGMM1_lpdf")
    return replaced


def _sorted_above(nodes: list[Apply], split_nodes: dict[str, Apply]) -> dict[Apply, str]:
    """The ``adaptive_parzen_normal`` nodes of the bad trials, whose ``mus`` are ``above`` or ``log(above)``
    of a label's split, with the label: :func:`parzen.adaptive_parzen_normal` can sort those by the kept order."""
    label_of = {node: label for label, node in split_nodes.items()}
    found = {}
    for node in nodes:
        if node.name != "adaptive_parzen_normal" or not node.pos_args or "split" in dict(node.named_args):
            continue
        mus = node.pos_args[0]
        if mus.name == "log" and len(mus.pos_args) == 1 and not mus.named_args:
            mus = mus.pos_args[0]
        if mus.name != "getitem" or len(mus.pos_args) != 2 or mus.named_args:
            continue
        split, index = mus.pos_args
        if split in label_of and isinstance(index, Literal) and type(index.obj) is int and index.obj == 1:
            found[node] = label_of[split]
    return found


def _split_label(node: Apply, observed_idxs: Apply) -> str | None:
    """The label whose observations an ``ap_split_trials`` node splits."""
    first = node.pos_args[0]
    if first.name == "getitem" and first.pos_args[0] is observed_idxs and isinstance(first.pos_args[1], Literal):
        return first.pos_args[1].obj
    return None


def _set_linear_forgetting(nodes: list[Apply], lf: int) -> None:
    """Give hyperopt's forgetting functions ``lf`` where its graph relies on their default of 25."""
    for node in nodes:
        if node.name == "adaptive_parzen_normal":
            named = dict(node.named_args)
            if "LF" in named:
                raise _Unsupported("LF already set")
            node.named_args.append(["LF", as_apply(lf)])
        elif node.name == "linear_forgetting_weights":
            node.named_args = [[name, as_apply(lf) if name == "LF" else arg] for name, arg in node.named_args]
            if len(node.pos_args) > 1:
                raise _Unsupported("LF given by position")


MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_UNSUPPORTED = object()


def model_for(domain: Any, prior_weight: float, gamma: float, linear_forgetting: int) -> Model | None:
    """The compiled posterior for ``domain`` (kept with the domain), or None to use hyperopt's suggest."""
    try:
        per_domain = MODELS.setdefault(domain, {})
    except TypeError:  # a domain that cannot be weakly referenced or hashed: compile it every time
        per_domain = {}
    key = (prior_weight, type(prior_weight), gamma, type(gamma), linear_forgetting)
    model = per_domain.get(key)
    if model is None:
        try:
            model = Model(domain, prior_weight, gamma, linear_forgetting)
        except _Unsupported as why:
            logger.debug("resumable_opt.tpe: hyperopt's own TPE for this space (%s)", why)
            model = _UNSUPPORTED
        per_domain[key] = model
    return None if model is _UNSUPPORTED else model
