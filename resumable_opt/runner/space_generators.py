"""The random generators a space holds itself, kept in step with its trials across runs.

A space may draw random numbers of its own when the objective's evaluation
runs it (hyperopt's test domains do: ``scope.normal(0, 0.1, rng=np.random.default_rng(123))``).
For a search to go on exactly as an uninterrupted ``hyperopt.fmin`` would,
those generators must stand where they stood after the last finished trial:

* after each finished trial their states are noted in the search's meta
  (``space_generators``: the number of finished trials and the states), which
  every snapshot stores: the one a stopped run ends with, and compactions;
* a run that starts on finished trials puts the space's generators in the
  noted state, if it was noted at exactly that many finished trials (an
  evaluation cut short by a stop may have drawn from them already: it is
  run again first, from the noted state).

Only where trials are evaluated in this process (the default): worker
processes each run their own copy of the space.  After a kill (no snapshot
after the last trials) the noted state is older than the trials: the
generators then go on from the state the script gives them, and the run
says so.
"""

from __future__ import annotations

from typing import Any

from ..space import generator_state, own_generators, set_generator_state

META_KEY = "space_generators"

NOT_RESTORED = (
    "Note: the search space holds {count} random generator(s) of its own, whose state after the last finished "
    "trial is not in the checkpoint (the run before was killed, or made by an older version): they go on from the "
    "state this script gives them, so the next trials may differ from those of an uninterrupted run."
)


class SpaceGenerators:
    """The space's own generators of one run, and their noted state (see module doc)."""

    def __init__(self, space: Any, meta: dict, in_this_process: bool) -> None:
        self.generators = own_generators(space) if in_this_process else []
        self.meta = meta

    def restore(self, n_finished: int) -> str | None:
        """At the start of a run on ``n_finished`` finished trials: put the
        generators where they stood then; a note for the user if that is not known."""
        if not self.generators:
            return None
        noted = self.meta.get(META_KEY)
        known = noted is not None and noted["n_finished"] == n_finished and len(noted["states"]) == len(self.generators)
        if noted is not None and known:
            self._set(noted["states"])
        self.note(n_finished)  # what the next run starts from, should no trial finish in this one
        return None if known or n_finished == 0 else NOT_RESTORED.format(count=len(self.generators))

    def note(self, n_finished: int) -> None:
        """After a trial finished (or at the start of a run): note where the generators stand."""
        if self.generators:
            self.meta[META_KEY] = {"n_finished": n_finished, "states": [generator_state(g) for g in self.generators]}

    def _set(self, states: list[dict]) -> None:
        for generator, state in zip(self.generators, states, strict=True):
            set_generator_state(generator, state)
