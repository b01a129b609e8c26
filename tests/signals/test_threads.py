"""A search started from a thread other than the main one: only the main thread
can set signal handlers, so there the guard does nothing, and it leaves the main
thread's guard and handlers as they are."""

import signal
import threading

from hyperopt import hp, rand

import resumable_opt
from resumable_opt.interrupts import InterruptGuard


def test_a_search_in_another_thread_leaves_the_main_threads_signal_handling_alone(tmp_path):
    outcome = []

    def search():
        try:
            seen = InterruptGuard.installed()
            state = resumable_opt.minimize(
                lambda p: p["x"] ** 2, {"x": hp.uniform("x", -1, 1)}, tmp_path / "t.ckpt", 5, algo=rand.suggest,
                seed=0, progress=False,
            )  # fmt: skip
            outcome.append((seen, state))
        except BaseException as exc:
            outcome.append(exc)

    before = signal.getsignal(signal.SIGINT)
    with InterruptGuard() as guard:
        handler = signal.getsignal(signal.SIGINT)
        worker = threading.Thread(target=search)
        worker.start()
        worker.join(timeout=120)
        assert InterruptGuard.installed() is guard and signal.getsignal(signal.SIGINT) == handler
    assert signal.getsignal(signal.SIGINT) == before
    [result] = outcome
    assert not isinstance(result, BaseException), result
    seen, state = result
    assert seen is None, "the main thread's guard is not the worker's"
    assert state.n_finished == 5 and state.runs[-1].outcome == "budget reached"
