"""``plot``: the PNG the command writes holds the data of the search."""

import matplotlib.colors
import matplotlib.image
import numpy as np

import resumable_opt
from cli_helpers import cli, finished_search  # noqa: F401  (the "finished" fixture)
from resumable_opt.reporting.plot import BEST_COLOR, POINT_COLOR, png_bytes, search_figure
from resumable_opt.reporting.render import cell_text


def artist(axes, kind, label):
    return next(item for item in getattr(axes, kind) if item.get_label() == label)


def test_plot_draws_every_trial_the_best_so_far_and_a_panel_per_parameter(finished, tmp_path):
    target = tmp_path / "search.png"
    done = cli("plot", finished, "-o", target)
    assert done.returncode == 0, done.stderr
    state = resumable_opt.load(finished)
    assert done.stdout.strip() == f"Wrote the plot of {state.n_ok} trials with a loss (4 parameters) to {target}"

    # The figure the command draws, rebuilt here from the same checkpoint: what does it hold?
    figure, table = search_figure(state)
    ok = [row for row in table.rows if row["status"] == "ok"]
    failed = [row for row in table.rows if row["status"] == "fail"]
    assert ok and failed
    losses_axes, *panels = figure.axes
    points = artist(losses_axes, "collections", "trials").get_offsets()
    assert len(points) == state.n_ok
    assert np.array_equal(points, [[row["tid"], row["loss"]] for row in ok])
    best_line = artist(losses_axes, "lines", "best so far").get_ydata()
    assert np.array_equal(best_line[:-1], np.minimum.accumulate([row["loss"] for row in ok]))
    assert best_line[-1] == state.best_loss
    assert len(artist(losses_axes, "collections", "failed").get_offsets()) == len(failed) == state.n_failed
    assert [axes.get_title() for axes in panels] == ["kind", "degree", "x", "y"]
    for axes in panels:
        drawn = artist(axes, "collections", "trials").get_offsets()
        used = [row for row in ok if row[axes.get_title()] is not None]
        assert len(drawn) == len(used) and np.array_equal(drawn[:, 1], [row["loss"] for row in used])
        if axes.get_title() in ("x", "y", "degree"):
            assert np.array_equal(drawn[:, 0], [row[axes.get_title()] for row in used])
    assert artist(panels[2], "collections", "best").get_offsets().tolist() == [[state.best["x"], state.best_loss]]
    assert panels[3].get_xscale() == "log"  # y is log-uniform
    # kind is a choice: one slot per option that occurs, each point in the slot of its option.
    options = list(dict.fromkeys(cell_text(row["kind"], 18) for row in ok))
    assert [tick.get_text() for tick in panels[0].get_xticklabels()] == options
    slots = artist(panels[0], "collections", "trials").get_offsets()[:, 0]
    assert [options[int(slot)] for slot in slots] == [cell_text(row["kind"], 18) for row in ok]

    # The PNG on disk is exactly that figure...
    written = matplotlib.image.imread(target)
    rebuilt = tmp_path / "rebuilt.png"
    rebuilt.write_bytes(png_bytes(figure))  # draws it: the transforms below are now those of the image
    assert np.array_equal(written, matplotlib.image.imread(rebuilt))
    # ...and at the pixel of every trial's (tid, loss) there is a point of the trials' colour.
    height = written.shape[0]
    blue = np.array(matplotlib.colors.to_rgb(POINT_COLOR))
    red = np.array(matplotlib.colors.to_rgb(BEST_COLOR))
    for x, y in losses_axes.transData.transform(points):
        column, row = int(round(x)), int(round(height - y))
        window = written[row - 2 : row + 3, column - 2 : column + 3, :3].reshape(-1, 3)
        assert (np.abs(window - blue).max(axis=1) < 0.08).any(), (x, y)
    # The best-so-far line is drawn in its colour at the last trial.
    x, y = losses_axes.transData.transform((table.rows[-1]["tid"], state.best_loss))
    window = written[int(round(height - y)) - 2 : int(round(height - y)) + 3, int(round(x)) - 3 : int(round(x)) - 1, :3].reshape(-1, 3)
    assert (np.abs(window - red).max(axis=1) < 0.08).any()
