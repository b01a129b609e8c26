"""Issue 3, faults 1 and 2: SIGKILL, SIGINT and SIGTERM at random moments over one search.

``tests/torture.py`` does the work and checks after every stop that the
checkpoint loads and verifies, that no trial finished before the stop (or
announced as finished by the run) is lost or changed, and at the end that
the search equals an uninterrupted one with the same seed.
"""

import pytest

import torture

# Real processes, clusters or signals: seconds per test; .ci/run runs these once.
pytestmark = pytest.mark.slow


def test_sigkill_at_random_moments_never_loses_a_trial(tmp_path):
    figures = torture.kill_torture(tmp_path, torture.QUICK)
    assert figures["SIGKILLs survived"] >= 25
    assert figures["trials lost"] == 0
    # Some kills really landed inside a checkpoint write.
    assert (
        figures["kills inside a snapshot write (half-written file left)"] + figures["kills that left a torn append"]
        >= 3
    )
    assert figures["searches equal to the uninterrupted run"] == 1


def test_ctrl_c_and_sigterm_with_a_second_signal_during_the_final_write(tmp_path):
    figures = torture.interrupt_torture(tmp_path, torture.QUICK)
    assert figures["Ctrl-C/SIGTERM stops survived"] >= 12
    assert figures["SIGINT stops"] and figures["SIGTERM stops"]
    assert figures["second signals during the final write"] >= 2
    assert figures["trials lost"] == 0
    assert figures["searches equal to the uninterrupted run"] == 1
