"""``plot``: the PNG the command writes holds the data of the search."""

import matplotlib.colors
import matplotlib.image
import numpy as np

import resumable_opt
from cli_helpers import cli, finished_search  # noqa: F401  (the "finished" fixture)
from resumable_opt.reporting.plot import BEST_COLOR, POINT_COLOR, option_label, png_bytes, search_figure


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
        used = [row for row in ok if axes.get_title() in row]
        assert len(drawn) == len(used) and np.array_equal(drawn[:, 1], [row["loss"] for row in used])
        if axes.get_title() in ("x", "y", "degree"):
            assert np.array_equal(drawn[:, 0], [row[axes.get_title()] for row in used])
    assert artist(panels[2], "collections", "best").get_offsets().tolist() == [[state.best["x"], state.best_loss]]
    assert panels[3].get_xscale() == "log"  # y is log-uniform
    # kind is a choice: one slot per option that occurs, each point in the slot of its option.
    options = list(dict.fromkeys(option_label(row["kind"]) for row in ok))
    assert [tick.get_text() for tick in panels[0].get_xticklabels()] == options
    slots = artist(panels[0], "collections", "trials").get_offsets()[:, 0]
    assert [options[int(slot)] for slot in slots] == [option_label(row["kind"]) for row in ok]

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
    window = written[
        int(round(height - y)) - 2 : int(round(height - y)) + 3, int(round(x)) - 3 : int(round(x)) - 1, :3
    ].reshape(-1, 3)
    assert (np.abs(window - red).max(axis=1) < 0.08).any()


def blue_at_every_point(image, axes, points) -> None:
    """At the pixel of each data point of ``axes`` there is a point of the trials' colour (or the
    best's star): nothing, the legend included, is drawn over it."""
    height = image.shape[0]
    blue = np.array(matplotlib.colors.to_rgb(POINT_COLOR))
    translucent = 0.7 * blue + 0.3  # a parameter panel's points (alpha 0.7) on white
    for x, y in axes.transData.transform(points):
        column, row = int(round(x)), int(round(height - y))
        window = image[row - 2 : row + 3, column - 2 : column + 3, :3].reshape(-1, 3)
        red = np.array(matplotlib.colors.to_rgb(BEST_COLOR))  # the best trial's star is drawn over its point
        near = [np.abs(window - colour).max(axis=1) < 0.1 for colour in (blue, translucent, red)]
        assert np.logical_or.reduce(near).any(), (axes.get_title(), x, y)


def test_plot_shows_none_options_with_short_labels_and_nothing_behind_the_legend(tmp_path):
    from searches import SPACES, loss_of

    ckpt = tmp_path / "wide.ckpt"
    state = resumable_opt.minimize(loss_of, SPACES["wide"](), ckpt, 40, seed=2, progress=False)
    target = tmp_path / "wide.png"
    done = cli("plot", ckpt, "-o", target)
    assert done.returncode == 0, done.stderr
    figure, table = search_figure(state)
    ok = [row for row in table.rows if row["status"] == "ok"]
    assert any(row["sampling"] is None for row in ok)  # the None option was chosen
    losses_axes, *panels = figure.axes
    by_title = {axes.get_title(): axes for axes in panels}

    sampling = by_title["sampling"]
    drawn = artist(sampling, "collections", "trials").get_offsets()
    assert len(drawn) == len(ok)  # every trial, the None option included
    labels = [tick.get_text() for tick in sampling.get_xticklabels()]
    assert sorted(labels) == ["None", "mode=full", "mode=subsample"] and labels[-1] == "None"
    assert [labels[int(slot)] for slot in drawn[:, 0]] == [option_label(row["sampling"]) for row in ok]
    # A label used only inside one option: in its panel, exactly the trials that chose that option.
    leaf = artist(by_title["min_samples_leaf"], "collections", "trials").get_offsets()
    full = [row for row in ok if isinstance(row["sampling"], dict) and row["sampling"]["mode"] == "full"]
    assert leaf[:, 0].tolist() == [row["min_samples_leaf"] for row in full]

    image = matplotlib.image.imread(target)
    rebuilt = tmp_path / "rebuilt.png"
    rebuilt.write_bytes(png_bytes(figure))
    assert np.array_equal(image, matplotlib.image.imread(rebuilt))
    # The legend is beside the axes, and no point of any panel is covered.
    legend_box = losses_axes.get_legend().get_window_extent()
    assert not legend_box.overlaps(losses_axes.get_window_extent())
    blue_at_every_point(image, losses_axes, artist(losses_axes, "collections", "trials").get_offsets())
    for axes in panels:
        blue_at_every_point(image, axes, artist(axes, "collections", "trials").get_offsets())
