"""The calibration plot (a reliability diagram) of the stored scores, drawn as the
report's plots are (:mod:`elicit.facilitate.report_plots`: matplotlib figures made
directly, SVG with text kept as text, shown as ``data:`` images with a caption and alt
text that give the numbers in words).

One small panel per forecaster shown (the panel, then each pooling method): each
non-empty bin's mean forecast against the observed frequency of the events in it, the
point's area growing with the bin's count, with the bin's Wilson interval as a vertical
bar, and the diagonal a perfectly calibrated forecaster would lie on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

from flask_babel import gettext
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from elicit.facilitate.report_plots import (
    AXIS_COLOUR,
    FONT_SIZE,
    IQR_COLOUR,
    TEXT_COLOUR,
    TITLE_SIZE,
    Format,
    Layout,
    Plot,
    _drawn,
    _legend,
    _legend_lines,
    _plot,
    plain_number,
)
from surveys.scores import Calibration


def calibration_plot(
    shown: Sequence[tuple[str, Calibration]], number: Format = plain_number, language: str = ""
) -> Plot:
    """The calibration plot of ``shown`` ((title, table) pairs, in order); reused from
    the cache when the same tables were drawn in the same language."""
    data = [[title, table.events, table.forecasts, table.rows] for title, table in shown]
    context = [language, f"{number.__module__}.{number.__qualname__}"]
    return _drawn(context, data, partial(_calibration_plot, list(shown), number))


#: Panels a row: two, so that on a phone each is still half the screen wide.
GRID_COLUMNS = 2


def _grid(
    count: int, layout: Layout, legend_labels: Sequence[str]
) -> tuple[Figure, list[Axes], int]:
    """The report's panel grid (:func:`elicit.facilitate.report_plots._panels`) with
    :data:`GRID_COLUMNS` panels a row instead of three."""
    columns = min(max(count, 1), GRID_COLUMNS)
    rows = math.ceil(max(count, 1) / columns)
    width = columns * (layout.left + layout.panel_width) + layout.right
    legend_columns, legend_lines = _legend_lines(legend_labels, width)
    legend = 0.12 + 0.2 * legend_lines
    height = rows * (layout.top + layout.panel_height + layout.bottom) + legend
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=layout.left / width,
        right=1 - layout.right / width,
        bottom=(layout.bottom + legend) / height,
        top=1 - layout.top / height,
        wspace=layout.left / layout.panel_width,
        hspace=(layout.top + layout.bottom) / layout.panel_height,
    )
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for spare in axes[count:]:
        figure.delaxes(spare)
    for axis in axes[:count]:
        axis.tick_params(labelsize=FONT_SIZE, colors=TEXT_COLOUR)
        for spine in ("top", "right"):
            axis.spines[spine].set_visible(False)
        for spine in ("left", "bottom"):
            axis.spines[spine].set_color(AXIS_COLOUR)
    return figure, axes[:count], legend_columns


def _calibration_plot(shown: list[tuple[str, Calibration]], number: Format) -> Plot:
    layout = Layout(panel_width=2.6, panel_height=2.4, left=0.6, bottom=0.6, top=0.6)
    handles = [
        Line2D([], [], marker="o", linestyle="", color=IQR_COLOUR, label=gettext("bin")),
        Line2D([], [], color=IQR_COLOUR, linewidth=1.2, label=gettext("Wilson interval (95%)")),
        Line2D(
            [],
            [],
            color=AXIS_COLOUR,
            linestyle="--",
            linewidth=1,
            label=gettext("perfect calibration"),
        ),
    ]
    figure, axes, columns = _grid(
        len(shown), layout, [str(handle.get_label()) for handle in handles]
    )
    described = []
    for axis, (title, table) in zip(axes, shown, strict=True):
        axis.plot([0, 1], [0, 1], color=AXIS_COLOUR, linestyle="--", linewidth=1)
        largest = max((row["count"] for row in table.rows), default=1)
        for row in table.rows:
            x, y = row["mean_forecast"], row["observed_frequency"]
            axis.plot([x, x], [row["ci_low"], row["ci_high"]], color=IQR_COLOUR, linewidth=1.2)
            axis.scatter(
                [x],
                [y],
                s=18 + 60 * math.sqrt(row["count"] / largest),
                color=IQR_COLOUR,
                edgecolors=TEXT_COLOUR,
                linewidths=0.5,
                zorder=3,
            )
        axis.set_xlim(-0.02, 1.02)
        axis.set_ylim(-0.02, 1.02)
        axis.set_xticks([0, 0.5, 1], [number(0), number(0.5), number(1)])
        axis.set_yticks([0, 0.5, 1], [number(0), number(0.5), number(1)])
        axis.set_title(
            title + "\n" + gettext("%(events)s events", events=table.events),
            fontsize=TITLE_SIZE,
            color=TEXT_COLOUR,
            loc="left",
        )
        axis.set_xlabel(gettext("Forecast"), fontsize=FONT_SIZE, color=TEXT_COLOUR)
        axis.set_ylabel(gettext("Observed frequency"), fontsize=FONT_SIZE, color=TEXT_COLOUR)
        described.append(
            gettext("%(name)s: ", name=title)
            + "; ".join(
                gettext(
                    "forecasts near %(forecast)s came true %(observed)s of the time (%(count)s)",
                    forecast=number(row["mean_forecast"]),
                    observed=number(row["observed_frequency"]),
                    count=row["count"],
                )
                for row in table.rows
            )
        )
    _legend(figure, handles, columns)
    caption = gettext(
        "Calibration: in each bin of forecasts (tenths of probability), the mean forecast "
        "against how often the events came true, with its 95% Wilson interval. A "
        "well-calibrated forecaster's points lie near the diagonal."
    )
    return _plot("calibration", "scores", caption, ". ".join(described) + ".", figure)
