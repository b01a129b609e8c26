"""hyperopt's TPE, proposing exactly hyperopt's points, at a small cost per proposal.

:func:`suggest` takes the arguments of ``hyperopt.tpe.suggest`` and returns,
for the same trials, domain and seed, the same trial document: the same
``vals`` and ``idxs``, bit for bit, for every kind of space hyperopt supports.
It is a drop-in ``algo=`` for :func:`resumable_opt.minimize`,
:func:`resumable_opt.fmin` and ``hyperopt.fmin`` itself, alone or in a
``functools.partial`` with ``prior_weight``, ``n_startup_jobs``,
``n_EI_candidates``, ``gamma``, ``verbose`` and ``linear_forgetting``.

How it stays exact: every number is computed by hyperopt's own functions
(``adaptive_parzen_normal``, ``GMM1``/``LGMM1`` and their ``_lpdf``, the
categorical posterior, ``broadcast_best``...), called with equal arrays in
the very order in which ``pyll.rec_eval`` calls them on hyperopt's posterior
graph, so the random draws come in hyperopt's order from hyperopt's
Generator.  The graph is built and its evaluation order worked out once per
domain instead of once per call.

How it stays cheap: hyperopt spends most of a call, at large histories, on
bookkeeping: rebuilding the posterior graph, turning every trial into
``idxs``/``vals`` lists and splitting them into good and bad trials with
Python loops.  Here the observations per label are kept between calls in
numpy arrays, in trial-id order, and only what changed since the last call
is read again (new trials, trials whose result was replaced, trials gone from
``trials.trials``), found by comparing object identities, so the state
follows any change hyperopt's ``Trials`` allows (failed trials, trials run
again, imported trials, several trials in flight).  The state lives beside
the ``Trials`` object (weakly: it goes with it) and is never stored; a
resumed search rebuilds it on its first call.  What is left per call is
linear in the history and in C: one ``argsort`` of the losses, the Parzen
estimator of the "bad" trials and the density of the candidates under it.

Where this module cannot follow hyperopt's computation (a posterior graph
with a ``switch`` node, which hyperopt evaluates lazily; no ``hp`` function
makes one) it calls ``hyperopt.tpe.suggest`` itself.  Unusual trials
(``from_tid``, repeated trial ids, ids that are not ints) are read with
hyperopt's own loops, every call; values of unusual types with ``np.asarray``
as hyperopt does.  A caller's ``Trials`` is followed by one thread at a time.
"""

from __future__ import annotations

import functools
import logging
import operator
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from hyperopt import JOB_STATE_NEW, JOB_STATE_RUNNING, rand
from hyperopt import tpe as hyperopt_tpe
from hyperopt.base import miscs_to_idxs_vals, miscs_update_idxs_vals
from hyperopt.pyll import Apply, Literal, as_apply, dfs, rec_eval, scope
from scipy.special import erf  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

DEFAULT_LF = hyperopt_tpe.DEFAULT_LF
#: The keyword arguments of ``hyperopt.tpe.suggest`` a partial may fix.
HYPEROPT_KEYWORDS = frozenset({"prior_weight", "n_startup_jobs", "n_EI_candidates", "gamma", "verbose"})
#: Environment variable that, set to 0, keeps minimize/fmin on hyperopt's own TPE.
SWITCH_VARIABLE = "RESUMABLE_OPT_FAST_TPE"


def suggest(
    new_ids: list,
    domain: Any,
    trials: Any,
    seed: int,
    prior_weight: float = hyperopt_tpe._default_prior_weight,
    n_startup_jobs: int = hyperopt_tpe._default_n_startup_jobs,
    n_EI_candidates: int = hyperopt_tpe._default_n_EI_candidates,
    gamma: float = hyperopt_tpe._default_gamma,
    verbose: bool = True,
    linear_forgetting: int = DEFAULT_LF,
) -> list:
    """``hyperopt.tpe.suggest``, returning the very same trial documents.

    ``linear_forgetting`` (not a parameter of hyperopt 0.3's ``suggest``,
    which always uses 25) is the number of most recent observations that
    keep full weight in the Parzen estimators and the categorical counts;
    with 25 the proposals are hyperopt's.  ``verbose`` logs, as hyperopt
    does, how many trials the proposal is based on.
    """
    if not isinstance(linear_forgetting, (int, np.integer)) or linear_forgetting <= 0:
        raise ValueError(f"linear_forgetting must be a whole number > 0, not {linear_forgetting!r}")
    model = _model_for(domain, prior_weight, gamma, int(linear_forgetting))
    if model is None:
        if linear_forgetting != DEFAULT_LF:
            raise ValueError(
                "linear_forgetting other than 25 is not supported for this space (its posterior keeps a switch "
                "hyperopt evaluates lazily); leave it at 25"
            )
        return hyperopt_tpe.suggest(
            new_ids, domain, trials, seed, prior_weight=prior_weight, n_startup_jobs=n_startup_jobs,
            n_EI_candidates=n_EI_candidates, gamma=gamma, verbose=verbose,
        )  # fmt: skip
    history = _history_for(trials, model.labels)
    with history.lock:  # one caller at a time brings it up to date and reads it
        observations = history.observations(trials.trials)
        n = observations.n
        log = verbose and logger.isEnabledFor(logging.INFO)
        best = float(np.nanmin(observations.losses())) if n and log else None
        max_tid = observations.max_tid() if n else None
        splits = observations.split(gamma) if n >= n_startup_jobs else {}
    if log:
        logger.info("TPE using %s", f"{n:d}/{len(trials):d} trials with best loss {best:f}" if n else "0 trials")

    if n < n_startup_jobs:
        return rand.suggest(new_ids, domain, trials, seed)

    first_new_id = new_ids[0]
    if max_tid is not None:
        fake_id_0 = max(max_tid, first_new_id) + 2
    else:
        assert n_startup_jobs <= 0
        fake_id_0 = first_new_id + 2
    fake_ids = list(range(fake_id_0, fake_id_0 + n_EI_candidates))

    idxs, vals = model.evaluate(fake_ids, np.random.default_rng(seed), splits)

    # What hyperopt.tpe.suggest does with the posterior's draws, as it does it.
    for label, param in domain.params.items():
        if param.name == "randint" and len(param.pos_args) == 2:
            offset = param.pos_args[0].obj
            vals[label] = [val + offset for val in vals[label]]
    rval_specs = [None]
    rval_results = [domain.new_result()]
    rval_miscs = [{"tid": first_new_id, "cmd": domain.cmd, "workdir": domain.workdir}]
    miscs_update_idxs_vals(rval_miscs, idxs, vals, idxs_map={fake_ids[0]: first_new_id}, assert_all_vals_used=False)
    return trials.new_trial_docs([first_new_id], rval_specs, rval_results, rval_miscs)


# -- which algorithm minimize and fmin run -------------------------------------


def fast_equivalent(algo: Callable) -> Callable:
    """:func:`suggest` in place of ``hyperopt.tpe.suggest`` or a partial of it; any other ``algo`` unchanged.

    A partial that fixes anything but hyperopt's keyword arguments is left
    to hyperopt (which then behaves, or fails, as it would).
    """
    if algo is hyperopt_tpe.suggest:
        return suggest
    if isinstance(algo, functools.partial) and algo.func is hyperopt_tpe.suggest and not algo.args:
        if set(algo.keywords) <= HYPEROPT_KEYWORDS:
            return functools.partial(suggest, **algo.keywords)
    return algo


def enabled(fast_tpe: bool | None) -> bool:
    """Whether minimize/fmin swap in :func:`suggest`: ``fast_tpe`` if given, else
    unless the environment variable ``RESUMABLE_OPT_FAST_TPE`` is ``0``."""
    if fast_tpe is not None:
        return bool(fast_tpe)
    return os.environ.get(SWITCH_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


# -- the posterior, compiled once per domain -----------------------------------


class _Unsupported(Exception):
    """The space needs hyperopt's own evaluation of the posterior."""


class _Model:
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
        self.steps = []
        for node in order:
            if any(arg in placeholders for arg in node.inputs()):
                raise _Unsupported("the posterior reads the observations outside the split")
            fn = _VECTORISED.get(node.name) or scope._impls[node.name]
            self.steps.append((node, fn, list(node.pos_args), list(node.named_args)))
        self.top = top

    def evaluate(self, fake_ids: list, rng: np.random.Generator, splits: dict[str, tuple]) -> tuple[dict, dict]:
        """The posterior's ``(idxs, vals)`` for candidates ``fake_ids``, as ``rec_eval`` gives it."""
        memo: dict[Apply, Any] = dict(self.literals)
        memo[self.s_new_ids] = fake_ids
        memo[self.s_rng] = rng
        for label, node in self.split_nodes.items():
            memo[node] = splits[label]
        for node, fn, pos_args, named_args in self.steps:
            rval = fn(*[memo[arg] for arg in pos_args], **{name: memo[arg] for name, arg in named_args})
            if isinstance(rval, Apply):  # as rec_eval: an instruction that returns a graph means "evaluate that"
                rval = rec_eval(rval, memo=memo)
            memo[node] = rval
        return memo[self.top]


# -- hyperopt's mixture densities, at less cost ----------------------------------
#
# hyperopt's GMM1_lpdf and LGMM1_lpdf, the densities of the candidates under
# the mixtures (one component per observation: the cost of a proposal at large
# histories), with the same floating point operations on each element, so the
# same bits:
# - without quantisation, in two scratch arrays kept between calls instead of
#   some ten fresh (candidates x components) arrays per call;
# - with quantisation, hyperopt loops in Python over the components, adding
#   each one's mass at the candidates into ``prob``; here every component's
#   mass is computed at once and added up in the loop's order by ``np.cumsum``
#   (a sequential sum, as ``prob += inc_amt``).


def _gmm1_lpdf(samples, weights, mus, sigmas, low=None, high=None, q=None):
    """``hyperopt.tpe.GMM1_lpdf``, the same numbers."""
    samples, weights, mus, sigmas = list(map(np.asarray, (samples, weights, mus, sigmas)))
    if samples.size == 0 or weights.ndim != 1 or mus.ndim != 1 or sigmas.ndim != 1 or not len(weights):
        return hyperopt_tpe.GMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    assert len(weights) == len(mus) == len(sigmas)
    _samples = samples
    samples = _samples.flatten()
    normal_cdf = hyperopt_tpe.normal_cdf
    if low is None and high is None:
        p_accept = 1
    else:
        p_accept = np.sum(weights * (normal_cdf(high, mus, sigmas) - normal_cdf(low, mus, sigmas)))
    if q is None:
        mahal = np.subtract(samples[:, None], mus, out=_buffer(0, (len(samples), len(mus))))
        np.divide(mahal, np.maximum(sigmas, hyperopt_tpe.EPS), out=mahal)
        np.square(mahal, out=mahal)
        Z = np.sqrt(2 * np.pi * sigmas**2)
        coef = weights / Z / p_accept
        np.multiply(-0.5, mahal, out=mahal)
        rval = _logsum_rows(np.add(mahal, np.log(coef), out=mahal))
        rval.shape = _samples.shape
        return rval
    ubound = samples + q / 2 if high is None else np.minimum(samples + q / 2, high)
    lbound = samples - q / 2 if low is None else np.maximum(samples - q / 2, low)
    mu, bottom, w = mus[:, None], np.maximum(np.sqrt(2) * sigmas, hyperopt_tpe.EPS)[:, None], weights[:, None]
    inc_amt = w * (0.5 * (1 + erf((ubound - mu) / bottom)))
    inc_amt -= w * (0.5 * (1 + erf((lbound - mu) / bottom)))
    prob = np.cumsum(inc_amt, axis=0)[-1]
    rval = np.log(prob) - np.log(p_accept)
    rval.shape = _samples.shape
    return rval


def _lgmm1_lpdf(samples, weights, mus, sigmas, low=None, high=None, q=None):
    """``hyperopt.tpe.LGMM1_lpdf``, the same numbers."""
    samples, weights, mus, sigmas = list(map(np.asarray, (samples, weights, mus, sigmas)))
    if samples.size == 0 or weights.ndim != 1 or mus.ndim != 1 or sigmas.ndim != 1 or not len(weights):
        return hyperopt_tpe.LGMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    _samples = samples
    if samples.ndim != 1:
        samples = samples.flatten()
    normal_cdf = hyperopt_tpe.normal_cdf
    if low is None and high is None:
        p_accept = 1
    else:
        p_accept = np.sum(weights * (normal_cdf(high, mus, sigmas) - normal_cdf(low, mus, sigmas)))
    if q is None:
        # lognormal_lpdf(samples[:, None], mus, sigmas), then + log(weights)
        assert np.all(sigmas >= 0)
        sigma = np.maximum(sigmas, hyperopt_tpe.EPS)
        x = samples[:, None]
        shape = (len(samples), len(mus))
        log_z = np.multiply(sigma, x, out=_buffer(0, shape))
        np.multiply(log_z, np.sqrt(2 * np.pi), out=log_z)
        np.log(log_z, out=log_z)
        e = np.subtract(np.log(x), mus, out=_buffer(1, shape))
        np.divide(e, sigma, out=e)
        np.square(e, out=e)
        np.multiply(0.5, e, out=e)
        np.negative(e, out=e)
        np.subtract(e, log_z, out=e)
        rval = _logsum_rows(np.add(e, np.log(weights), out=e))
        rval.shape = _samples.shape
        return rval
    ubound = samples + q / 2 if high is None else np.minimum(samples + q / 2, np.exp(high))
    lbound = samples - q / 2 if low is None else np.maximum(samples - q / 2, np.exp(low))
    lbound = np.maximum(0, lbound)
    if ubound.min() < 0:  # hyperopt's lognormal_cdf refuses it: let it say so
        return hyperopt_tpe.LGMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    mu, bottom, w = mus[:, None], np.maximum(np.sqrt(2) * sigmas, hyperopt_tpe.EPS)[:, None], weights[:, None]
    with np.errstate(divide="ignore"):
        log_u, log_l = np.log(np.maximum(ubound, hyperopt_tpe.EPS)), np.log(np.maximum(lbound, hyperopt_tpe.EPS))
    inc_amt = w * (0.5 + 0.5 * erf((log_u - mu) / bottom))
    inc_amt -= w * (0.5 + 0.5 * erf((log_l - mu) / bottom))
    prob = np.cumsum(inc_amt, axis=0)[-1]
    rval = np.log(prob) - np.log(p_accept)
    rval.shape = _samples.shape
    return rval


def _logsum_rows(x: np.ndarray) -> np.ndarray:
    """``hyperopt.tpe.logsum_rows``, in place (``x`` is a scratch buffer)."""
    m = x.max(axis=1)
    np.subtract(x, m[:, None], out=x)
    np.exp(x, out=x)
    return np.log(x.sum(axis=1)) + m


_BUFFERS = threading.local()


def _buffer(which: int, shape: tuple[int, int]) -> np.ndarray:
    """A scratch array of ``shape`` kept between calls (a fresh one of this size
    costs page faults on every call), one set per thread."""
    buffers = getattr(_BUFFERS, "arrays", None)
    if buffers is None:
        buffers = _BUFFERS.arrays = {}
    size = shape[0] * shape[1]
    have = buffers.get(which)
    if have is None or len(have) < size:
        have = buffers[which] = np.empty(max(size, 2 * len(have) if have is not None else 0))
    return have[:size].reshape(shape)


_VECTORISED = {"GMM1_lpdf": _gmm1_lpdf, "LGMM1_lpdf": _lgmm1_lpdf}


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


_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_UNSUPPORTED = object()


def _model_for(domain: Any, prior_weight: float, gamma: float, linear_forgetting: int) -> _Model | None:
    """The compiled posterior for ``domain`` (kept with the domain), or None to use hyperopt's suggest."""
    try:
        per_domain = _MODELS.setdefault(domain, {})
    except TypeError:  # a domain that cannot be weakly referenced or hashed: compile it every time
        per_domain = {}
    key = (prior_weight, type(prior_weight), gamma, type(gamma), linear_forgetting)
    model = per_domain.get(key)
    if model is None:
        try:
            model = _Model(domain, prior_weight, gamma, linear_forgetting)
        except _Unsupported as why:
            logger.debug("resumable_opt.tpe: hyperopt's own TPE for this space (%s)", why)
            model = _UNSUPPORTED
        per_domain[key] = model
    return None if model is _UNSUPPORTED else model


# -- the observations, kept between calls --------------------------------------

_FLOAT, _INT, _OTHER = 0, 1, 2


def _kind(value: Any) -> int:
    """How ``np.asarray`` would hold a list of such values: float64, int64, or something to ask it about."""
    kind = type(value)
    if kind is float or kind is np.float64:
        return _FLOAT
    if (kind is int and -(2**63) <= value < 2**63) or kind is np.int64:
        return _INT
    return _OTHER


class _Growing:
    """A numpy array that grows at its end in amortised constant time."""

    def __init__(self, dtype: Any) -> None:
        self.data = np.empty(64, dtype=dtype)
        self.n = 0

    def append(self, value: Any) -> None:
        if self.n == len(self.data):
            self.data = np.concatenate([self.data, np.empty(len(self.data), dtype=self.data.dtype)])
        self.data[self.n] = value
        self.n += 1

    def truncate(self, n: int) -> None:
        self.n = min(self.n, n)

    def view(self) -> np.ndarray:
        return self.data[: self.n]


class _Label:
    """One label's observations: the slots (positions in ``trials.trials``) of
    the trials where it is active, ascending, and their values."""

    def __init__(self) -> None:
        self.slots = _Growing(np.int64)
        self.floats = _Growing(np.float64)
        self.ints = _Growing(np.int64)
        self.kinds = _Growing(np.int8)
        self.values: list = []

    def append(self, slot: int, value: Any) -> None:
        kind = _kind(value)
        self.slots.append(slot)
        self.kinds.append(kind)
        self.floats.append(float(value) if kind == _FLOAT else 0.0)
        self.ints.append(value if kind == _INT else 0)
        self.values.append(value)

    def truncate(self, n_slots: int) -> None:
        keep = int(np.searchsorted(self.slots.view(), n_slots))
        for column in (self.slots, self.floats, self.ints, self.kinds):
            column.truncate(keep)
        del self.values[keep:]

    def array(self, positions: np.ndarray) -> np.ndarray:
        """``np.asarray`` of the values at ``positions``, as ``ap_split_trials`` makes it."""
        if len(positions) == 0:
            return np.asarray([])
        kinds = self.kinds.view()
        if not kinds.any():
            return self.floats.view()[positions]
        if (kinds == _INT).all():
            return self.ints.view()[positions]
        values = self.values
        return np.asarray([values[i] for i in positions])


class _Irregular(Exception):
    """Trials this module's fast path does not follow (hyperopt's loops are used for them)."""


class _History:
    """What ``tpe.suggest`` reads from one ``Trials``, kept in step between calls.

    One slot per document of ``trials.trials``, in its order: the trial id,
    the loss hyperopt would read (inf when there is none, NaN excluded as
    hyperopt's ``<=`` excludes it) and, per label, the value.  Each call
    compares the documents and their result objects with those of the
    last call, by identity, and rereads only what differs.
    """

    def __init__(self, labels: list[str]) -> None:
        self.label_names = labels
        self.lock = threading.Lock()
        #: Trial documents (or their results) read so far: the work that grows with the history.
        self.reads = 0
        self.reset()

    def reset(self) -> None:
        self.docs: list = []
        self.results: list = []
        #: Slots of the trials that were new or running when last read.
        self.pending: set[int] = set()
        self.tids = _Growing(np.int64)
        self.losses = _Growing(np.float64)
        self.included = _Growing(np.bool_)
        self.labels = {label: _Label() for label in self.label_names}
        self.tid_set: set = set()
        self.irregular = False

    def observations(self, docs: list) -> _Observations:
        try:
            if not self.irregular:
                self._follow(docs)
                return _FastObservations(self)
        except _Irregular:
            self.irregular = True
        except Exception:
            self.reset()
            raise
        # Unusual trials: read them all, with hyperopt's own loops, every call
        # (and try the fast path again once they are gone).
        observations = _ExactObservations(docs, self.label_names)
        self.reads += len(docs)
        self.reset()
        self.irregular = True  # read them this way from now on
        return observations

    def _follow(self, docs: list) -> None:
        n_old, n_new = len(self.docs), len(docs)
        results = list(map(_RESULT, docs))
        if n_new >= n_old and docs[:n_old] == self.docs:  # C-speed, by identity: trials were only added
            first_new = n_old
        else:
            common = min(n_old, n_new)
            doc_ids = np.fromiter(map(id, docs[:common]), dtype=np.int64, count=common)
            old_ids = np.fromiter(map(id, self.docs[:common]), dtype=np.int64, count=common)
            differ = np.flatnonzero(doc_ids != old_ids)
            first_new = int(differ[0]) if len(differ) else common
            self._truncate(first_new)
        old_results = self.results
        changed = []
        # Results come to the trials that were in flight: look at those first...
        for slot in sorted(self.pending):
            if results[slot] is not old_results[slot]:
                changed.append(slot)
                old_results[slot] = results[slot]
            if docs[slot].get("state") not in _IN_FLIGHT:
                self.pending.discard(slot)
        # ... then make sure no other result was replaced (C-speed when none was).
        if results[:first_new] != old_results[:first_new]:
            new_ids = np.fromiter(map(id, results[:first_new]), dtype=np.int64, count=first_new)
            old_ids = np.fromiter(map(id, old_results[:first_new]), dtype=np.int64, count=first_new)
            changed.extend(np.flatnonzero(new_ids != old_ids).tolist())
        losses, included = self.losses.data, self.included.data
        self.reads += len(changed) + n_new - first_new
        for slot in changed:
            loss = _loss(results[slot])
            losses[slot] = loss
            included[slot] = loss == loss
        for slot in range(first_new, n_new):
            self._append(slot, docs[slot], results[slot])
        self.docs = list(docs)
        self.results = results

    def _truncate(self, n: int) -> None:
        self.pending = {slot for slot in self.pending if slot < n}
        for tid in self.tids.view()[n:].tolist():
            self.tid_set.discard(tid)
        for column in (self.tids, self.losses, self.included):
            column.truncate(n)
        for label in self.labels.values():
            label.truncate(n)

    def _append(self, slot: int, doc: dict, result: dict) -> None:
        tid = doc["tid"]
        misc = doc["misc"]
        if type(tid) is not int or "from_tid" in misc or misc.get("tid") != tid or tid in self.tid_set:
            raise _Irregular
        idxs, vals = misc["idxs"], misc["vals"]
        active = []
        for name in self.label_names:
            t_idxs, t_vals = idxs.get(name), vals.get(name)
            if t_idxs is None or t_vals is None or len(t_idxs) != len(t_vals) or t_idxs not in ([], [tid]):
                raise _Irregular
            if t_idxs:
                active.append((name, t_vals[0]))
        loss = _loss(result)
        self.tids.append(tid)
        self.losses.append(loss)
        self.included.append(loss == loss)
        self.tid_set.add(tid)
        if doc.get("state") in _IN_FLIGHT:
            self.pending.add(slot)
        for name, value in active:
            self.labels[name].append(slot, value)


_RESULT = operator.itemgetter("result")
_IN_FLIGHT = (JOB_STATE_NEW, JOB_STATE_RUNNING)


def _loss(result: dict) -> float:
    loss = result.get("loss")
    return float("inf") if loss is None else float(loss)


class _Observations:
    """The inputs of hyperopt's split: how many trials, their losses, and per
    label the (good, bad) observations ``ap_split_trials`` would return."""

    n: int

    def losses(self) -> np.ndarray:
        raise NotImplementedError

    def max_tid(self) -> int:
        raise NotImplementedError

    def split(self, gamma: float) -> dict[str, tuple]:
        raise NotImplementedError


def _n_below(gamma: float, n: int) -> int:
    # ap_split_trials' own expression, with its gamma_cap
    return min(int(np.ceil(gamma * np.sqrt(n))), DEFAULT_LF)


class _FastObservations(_Observations):
    def __init__(self, history: _History) -> None:
        self.history = history
        included = history.included.view()
        self.all_included = bool(included.all())
        tids = history.tids.view()
        self.slots = np.arange(len(tids)) if self.all_included else np.flatnonzero(included)
        self.in_tid_order = bool((np.diff(tids) > 0).all())
        if not self.in_tid_order:
            self.slots = self.slots[np.argsort(tids[self.slots], kind="stable")]
        self.n = len(self.slots)

    def losses(self) -> np.ndarray:
        losses = self.history.losses.view()
        return losses if self.all_included and self.in_tid_order else losses[self.slots]

    def max_tid(self) -> int:
        return int(self.history.tids.view()[self.slots].max())

    def split(self, gamma: float) -> dict[str, tuple]:
        history = self.history
        l_order = np.argsort(self.losses())
        below = np.zeros(history.tids.n, dtype=bool)
        below[self.slots[l_order[: _n_below(gamma, self.n)]]] = True
        included = history.included.view()
        tids = history.tids.view()
        splits = {}
        for name, label in history.labels.items():
            slots = label.slots.view()
            positions = np.arange(len(slots))
            if not self.all_included:
                positions = positions[included[slots]]
            if not self.in_tid_order:
                positions = positions[np.argsort(tids[slots[positions]], kind="stable")]
            is_below = below[slots[positions]]
            good = positions[is_below]
            values = label.values
            splits[name] = (np.asarray([values[i] for i in good]), label.array(positions[~is_below]))
        return splits


class _ExactObservations(_Observations):
    """hyperopt's own reading of the trials (its loops, its ``ap_split_trials``), for unusual histories."""

    def __init__(self, docs: list, labels: list[str]) -> None:
        best_docs: dict = {}
        best_docs_loss: dict = {}
        tid_counts: dict = {}
        for doc in docs:
            tid = doc["misc"].get("from_tid", doc["tid"])
            tid_counts[tid] = tid_counts.get(tid, 0) + 1
            loss = doc["result"].get("loss")
            loss = float("inf") if loss is None else float(loss)
            best_docs_loss.setdefault(tid, loss)
            if loss <= best_docs_loss[tid]:
                best_docs_loss[tid] = loss
                best_docs[tid] = doc
        tid_docs = sorted(best_docs.items())
        self.loss_list = [best_docs_loss[tid] for tid, doc in tid_docs]
        self.tid_list, chosen = list(zip(*tid_docs, strict=True)) if tid_docs else ([], [])
        self.n = len(chosen)
        self.chosen, self.labels = chosen, labels
        self.irregular = any(count > 1 for count in tid_counts.values())

    def losses(self) -> np.ndarray:
        return np.asarray(self.loss_list)

    def max_tid(self) -> int:
        return max(self.tid_list)

    def split(self, gamma: float) -> dict[str, tuple]:
        # read only now, as hyperopt reads them only once past the start-up trials
        obs_idxs, obs_vals = miscs_to_idxs_vals([doc["misc"] for doc in self.chosen], keys=self.labels)
        split = scope._impls["ap_split_trials"]
        return {name: split(obs_idxs[name], obs_vals[name], self.tid_list, self.loss_list, gamma) for name in obs_idxs}


_HISTORIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _history_for(trials: Any, labels: list[str]) -> _History:
    """The kept state for ``trials`` (a new one when the labels differ)."""
    try:
        history = _HISTORIES.get(trials)
        if history is None or history.label_names != labels:
            history = _HISTORIES[trials] = _History(labels)
            logger.debug("resumable_opt.tpe: following a new Trials (labels %s)", ", ".join(labels))
    except TypeError:  # a Trials that cannot be weakly referenced or hashed: read it all every time
        history = _History(labels)
    return history
