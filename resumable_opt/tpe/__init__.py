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
categorical posterior, ``broadcast_best``...), or by the same floating point
operations on equal arrays (``parzen``, ``densities``, ``samplers``), in the
very order in which ``pyll.rec_eval`` calls them on hyperopt's posterior
graph, so the random draws come in hyperopt's order from hyperopt's
Generator.  The graph is built and its evaluation order worked out once per
domain instead of once per call.

How it stays cheap: hyperopt spends most of a call, at large histories, on
bookkeeping: rebuilding the posterior graph, turning every trial into
``idxs``/``vals`` lists and splitting them into good and bad trials with
Python loops.  Here the observations per label are kept between calls in
numpy arrays, in trial-id order, and only what changed since the last call
is read again (new trials, trials whose result arrived, trials gone from
``trials.trials``), found by comparing object identities; a finished trial's
result replaced (by hand, or by running the trial again) is looked for when
``trials.trials`` is a new list, as ``Trials.refresh()`` makes one.  So the
state follows every change the runner makes and every change hyperopt's
``fmin`` makes, which refreshes at every evaluation (failed trials, trials
run again, imported trials, several trials in flight).  The state lives
beside the ``Trials`` object (weakly: it goes with it) and is never stored;
a resumed search rebuilds it on its first call.  What is left per call is
linear in the history: the list of documents compared with the last one's
(in C), the good/bad split grown by the new trial, the
Parzen estimator of the "bad" trials and bounds on the density of the
candidates under it (``choice``).

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
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from hyperopt import rand
from hyperopt import tpe as hyperopt_tpe
from hyperopt.base import miscs_update_idxs_vals

from .history import history_for
from .posterior import DEFAULT_LF, model_for

logger = logging.getLogger(__name__)

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
    model = model_for(domain, prior_weight, gamma, int(linear_forgetting))
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
    history = history_for(trials, model.labels)
    with history.lock:  # one caller at a time brings it up to date and reads it
        observations = history.observations(trials.trials)
        n = observations.n
        log = verbose and logger.isEnabledFor(logging.INFO)
        best = float(np.nanmin(observations.losses())) if n and log else None
        max_tid = observations.max_tid() if n else None
        splits = observations.split(gamma, model.ordered_labels) if n >= n_startup_jobs else {}
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
