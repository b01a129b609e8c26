"""The picture of a search: the loss of every trial with the best so far, and a
panel per parameter (its value against the loss).

Drawn with matplotlib (the ``plot`` extra) on a ``Figure`` of its own, never
through pyplot's global state, so it works without a display and in a
notebook alike.  The artists carry labels (``trials``, ``best so far``,
``failed``, ``best``) so that a program can read back what was drawn.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ResumableOptError
from .export import write_output
from .extras import require
from .progress import cut, format_value
from .rows import STATUS_FAIL, STATUS_OK, STATUS_PRUNED, TrialTable, trial_table
from .summary import space_parameters

if TYPE_CHECKING:
    from ..search_state import SearchState

PURPOSE = "plotting a search"
#: Distributions drawn on a log axis (the names hyperopt's ``hp`` functions give their nodes).
LOG_DISTRIBUTIONS = ("loguniform", "qloguniform", "lognormal", "qlognormal")
PANELS_PER_ROW = 3
DPI = 100
#: The loss axis turns logarithmic when the positive losses span more than this factor.
LOG_LOSS_SPAN = 1e3

#: Longest label of a choice's option on its axis; longer ones end in "…".
OPTION_WIDTH = 16

POINT_COLOR = "#1f77b4"
BEST_COLOR = "#d62728"
FAIL_COLOR = "#7f7f7f"


def parameter_scales(described: dict[str, str]) -> dict[str, str]:
    """How to lay out each parameter's axis, from ``space.parameters``' descriptions:
    ``"category"`` for an ``hp.choice`` (one slot per option, even numeric ones),
    ``"log"`` for a logarithmic distribution; others are left out (linear)."""
    scales = {}
    for label, text in described.items():
        if text.startswith("choice of "):
            scales[label] = "category"
        elif text.startswith(tuple(f"{name}(" for name in LOG_DISTRIBUTIONS)):
            scales[label] = "log"
    return scales


def search_figure(state: SearchState) -> tuple[Any, TrialTable]:
    """The figure of a loaded search (what ``resumable-opt plot`` draws), and the rows drawn."""
    if state.n_ok == 0:
        raise ResumableOptError(f"{state.path}: no trial has finished with a loss yet, so there is nothing to plot")
    table = trial_table(state)
    scales = parameter_scales(space_parameters(state))
    title = f"{state.path.name}: {state.n_finished} trials"
    return build_figure(table, title, scales, state.intermediate()), table


def build_figure(
    table: TrialTable, title: str = "", scales: dict[str, str] | None = None, curves: dict[int, dict] | None = None
) -> Any:
    """A matplotlib ``Figure``: the losses in trial order, then one panel per parameter.

    ``curves`` (``{tid: {step: value}}``, the trials' intermediate values),
    when there are any, adds a panel of them, one line per trial, the
    pruned trials' lines dimmed.

    ``scales`` (see :func:`parameter_scales`) says which parameters are
    choices or logarithmic; without it, non-numeric values are categories.

    Raises :class:`~resumable_opt.errors.ResumableOptError` when no trial has
    a loss yet (there is nothing to draw).
    """
    require("matplotlib", "plot", PURPOSE)
    from matplotlib.figure import Figure

    ok = [row for row in table.rows if row["status"] in (STATUS_OK, STATUS_PRUNED)]
    if not ok:
        raise ResumableOptError("no trial has finished with a loss yet, so there is nothing to plot")
    best = min(ok, key=lambda row: row["loss"])
    log_loss = _spans_orders_of_magnitude([row["loss"] for row in ok])
    first = 2 if curves else 1  # the row of the first parameter panel
    n_rows = first + math.ceil(len(table.parameters) / PANELS_PER_ROW)
    figure = Figure(figsize=(11, 3.4 + 2.8 * (n_rows - 1)), dpi=DPI, layout="constrained")
    grid = figure.add_gridspec(n_rows, PANELS_PER_ROW)
    if title:
        figure.suptitle(title)

    losses = figure.add_subplot(grid[0, :])
    _draw_losses(losses, table, ok, best, log_loss)
    if curves:
        pruned = {row["tid"] for row in table.rows if row["status"] == STATUS_PRUNED}
        _draw_curves(figure.add_subplot(grid[1, :]), curves, pruned, log_loss)
    for index, parameter in enumerate(table.parameters):
        axes = figure.add_subplot(grid[first + index // PANELS_PER_ROW, index % PANELS_PER_ROW])
        _draw_parameter(axes, parameter, ok, best, log_loss, (scales or {}).get(parameter, "linear"))
    # The data stay inside their axes; leaving them out of the layout computation
    # halves the time to draw a search of thousands of trials.
    for axes in figure.axes:
        for drawn in [*axes.collections, *axes.lines]:
            drawn.set_in_layout(False)
    return figure


def _spans_orders_of_magnitude(values: list[float]) -> bool:
    return min(values) > 0 and max(values) / min(values) > LOG_LOSS_SPAN


def _draw_losses(axes: Any, table: TrialTable, ok: list[dict], best: dict, log_loss: bool) -> None:
    full = [row for row in ok if row["status"] != STATUS_PRUNED]
    xs, ys = [row["tid"] for row in full], [row["loss"] for row in full]
    axes.scatter(xs, ys, s=18, color=POINT_COLOR, label="trials", zorder=2)
    pruned = [row for row in ok if row["status"] == STATUS_PRUNED]
    if pruned:  # their loss is the last value they reported: hollow, dimmed
        xs, ys = [row["tid"] for row in pruned], [row["loss"] for row in pruned]
        axes.scatter(xs, ys, s=18, facecolors="none", edgecolors=FAIL_COLOR, label="pruned", zorder=2)
    running_best, best_so_far = math.inf, []
    for row in ok:  # rows are in trial order
        running_best = min(running_best, row["loss"])
        best_so_far.append(running_best)
    last_tid = table.rows[-1]["tid"]
    axes.step(
        [row["tid"] for row in ok] + [last_tid],
        best_so_far + [best_so_far[-1]],
        where="post",
        color=BEST_COLOR,
        label="best so far",
        zorder=3,
    )
    failed = [row["tid"] for row in table.rows if row["status"] == STATUS_FAIL]
    if failed:  # no loss to place them by: a mark along the bottom edge
        axes.scatter(
            failed,
            [0.02] * len(failed),
            transform=axes.get_xaxis_transform(),
            marker="x",
            color=FAIL_COLOR,
            label="failed",
            zorder=2,
        )
    axes.set_yscale("log" if log_loss else "linear")
    axes.set_xlabel("trial (tid)")
    axes.set_ylabel("loss")
    axes.set_title(f"loss of each trial; best {best['loss']:.6g} at trial {best['tid']}", fontsize="medium")
    # Beside the axes, not over them: no point is ever hidden behind it.
    axes.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0, fontsize="small")
    axes.grid(alpha=0.3)


def option_label(value: Any, width: int = OPTION_WIDTH) -> str:
    """A short readable label for a chosen option: ``None``, ``0.1``, ``adam``;
    a dict option by its fixed text entries (``mode=full``), else by its keys."""
    if isinstance(value, dict):
        fixed = [
            f"{key}={format_value(item)}"
            for key, item in value.items()
            if item is None or isinstance(item, (str, bool))
        ]
        text = " ".join(fixed) if fixed else "{" + ", ".join(map(str, value)) + "}"
    else:
        text = format_value(value)
    return cut(text, width)


def _category_order(values: list[Any]) -> list[str]:
    """The slots of a choice panel: numeric options in their order, the others
    as they first appear, None last."""
    numbers = sorted({value for value in values if _is_number(value)})
    others = [value for value in values if not _is_number(value) and value is not None]
    labels = [option_label(value) for value in numbers] + [option_label(value) for value in others]
    if any(value is None for value in values):
        labels.append(option_label(None))
    return list(dict.fromkeys(labels))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _draw_curves(axes: Any, curves: dict[int, dict], pruned: set[int], log_scale: bool) -> None:
    """The intermediate values of each trial against the step; pruned trials dimmed."""
    labelled: set[str] = set()
    for tid, values in curves.items():
        steps = sorted(values)
        kind = "pruned" if tid in pruned else "trials"
        style = (
            {"color": FAIL_COLOR, "alpha": 0.4, "linewidth": 0.8}
            if tid in pruned
            else {"color": POINT_COLOR, "alpha": 0.8}
        )
        label = None if kind in labelled else kind
        ys = [values[step] for step in steps]
        (line,) = axes.plot(steps, ys, marker=".", markersize=3, label=label, zorder=2, **style)
        line.set_gid(f"{kind} {tid}")  # which trial a line is, for a program reading the figure back
        labelled.add(kind)
    axes.set_yscale("log" if log_scale else "linear")
    axes.set_xlabel("step")
    axes.set_ylabel("reported value")
    axes.set_title(f"intermediate values of {len(curves)} trials ({len(pruned)} pruned, dimmed)", fontsize="medium")
    axes.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0, fontsize="small")
    axes.grid(alpha=0.3)


def _draw_parameter(axes: Any, parameter: str, ok: list[dict], best: dict, log_loss: bool, scale: str) -> None:
    # Every trial that used the parameter, a chosen None included (a row leaves out only what it did not use).
    used = [row for row in ok if parameter in row]
    values = [row[parameter] for row in used]
    numeric = all(_is_number(value) for value in values)
    if scale == "category" or not numeric:
        categories = _category_order(values)
        position = {category: index for index, category in enumerate(categories)}
        xs = [position[option_label(value)] for value in values]
        axes.set_xticks(range(len(categories)), categories, rotation=20 if len(categories) > 3 else 0, fontsize="small")
        axes.set_xlim(-0.5, len(categories) - 0.5)
    else:
        xs = values
        if scale == "log" and values and min(values) > 0:
            axes.set_xscale("log")
    axes.scatter(xs, [row["loss"] for row in used], s=14, color=POINT_COLOR, alpha=0.7, label="trials", zorder=2)
    if parameter in best:
        best_x = xs[used.index(best)]
        axes.scatter([best_x], [best["loss"]], s=60, marker="*", color=BEST_COLOR, label="best", zorder=3)
    axes.set_yscale("log" if log_loss else "linear")
    axes.set_title(parameter, fontsize="medium")
    axes.set_ylabel("loss", fontsize="small")
    axes.grid(alpha=0.3)


def png_bytes(figure: Any) -> bytes:
    """The figure as PNG, at :data:`DPI`."""
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def save_plot(figure: Any, path: Path) -> None:
    """Write the figure to ``path`` (PNG) atomically."""
    if path.suffix.lower() != ".png":
        raise ResumableOptError(f"{path}: the plot is written as PNG; name the file with .png")
    write_output(path, png_bytes(figure), "the plot", "a file name ending in .png")
