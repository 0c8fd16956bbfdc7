"""The scenario tracker's timeline chart, drawn with matplotlib as SVG like the
report's plots (:mod:`elicit.facilitate.report_plots`, whose settings — text kept as
text, no mathtext, a fixed hash salt — apply to every figure of the process): each
scenario's pooled probability after each observation, a band from the lowest to the
highest probability under the panel's individual likelihoods, and each observation
marked by a dotted line, its number (the table beside the chart says what it was) and
its date (month and day in the page's language; the year under the first date and
wherever it changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import partial
from typing import Any

import numpy as np
from babel.dates import format_skeleton
from flask_babel import gettext
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from elicit.facilitate.report_plots import (
    AXIS_COLOUR,
    FONT_SIZE,
    SERIES_COLOURS,
    TEXT_COLOUR,
    Format,
    Layout,
    Plot,
    _drawn,
    _legend,
    _panels,
    _plot,
    plain_number,
)
from surveys.tracking import Tracker


def tracker_plot(tracker: Tracker, language: str, number: Format = plain_number) -> Plot | None:
    """The timeline chart of ``tracker``; ``None`` without a timeline."""
    if tracker.timeline is None or tracker.inputs is None:
        return None
    rows = [
        [int(row.step), str(row.scenario), float(row.probability), float(row.low), float(row.high)]
        for row in tracker.timeline.itertuples()
    ]
    steps = tracker.timeline.drop_duplicates("step")
    applied = [bool(value) for value in steps["applied"]]
    labels = step_labels(list(steps["date"]), language)
    context = [language, f"{number.__module__}.{number.__qualname__}"]
    data = [tracker.inputs.scenario_item, tracker.inputs.scenarios, rows, applied, labels]
    return _drawn(
        context,
        data,
        partial(
            _timeline_plot,
            tracker.inputs.scenario_item,
            tracker.inputs.scenarios,
            rows,
            applied,
            labels,
            number,
        ),
    )


def step_labels(dates: Sequence[Any], language: str) -> list[str]:
    """The x-axis label of each step: "prior" for step 0, then the observation's number
    over its date, month and day as ``language`` writes them short ("Oct 26",
    "26 oct"), with the year on a third line under the first date and wherever it
    changes (observations are in date order)."""
    labels = [gettext("prior")]
    year = None
    for step, observed in enumerate(dates[1:], start=1):
        if not isinstance(observed, date):
            labels.append(str(step))
            continue
        label = f"{step}\n{format_skeleton('MMMd', observed, locale=language)}"
        if observed.year != year:
            label += f"\n{observed.year}"
            year = observed.year
        labels.append(label)
    return labels


def _timeline_plot(
    item: str,
    scenarios: list[str],
    rows: list[list[Any]],
    applied: list[bool],
    labels: list[str],
    number: Format,
) -> Plot:
    steps = len(applied)
    table = {(step, scenario): (p, low, high) for step, scenario, p, low, high in rows}
    layout = Layout(
        # A step's date ("21 sept" in Spanish) is about 0.43 in wide at 8 pt: the
        # steps stay 0.45 in apart, and the chart narrow enough for a phone.
        panel_width=min(9.0, max(3.2, 0.45 * steps + 2.0)),
        panel_height=2.6,
        left=0.55,
        bottom=0.55 + 0.13 * (max(label.count("\n") for label in labels)),
        top=0.15,
    )
    band = gettext("range over the panelists")
    figure, axes, columns = _panels(1, layout, [*scenarios, band])
    axis = axes[0]
    x = np.arange(steps)
    handles: list[Any] = []
    descriptions = []
    for index, scenario in enumerate(scenarios):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        values = np.array([table[(step, scenario)] for step in range(steps)]) * 100
        axis.fill_between(x, values[:, 1], values[:, 2], color=colour, alpha=0.15, linewidth=0)
        axis.plot(x, values[:, 0], color=colour, linewidth=2, marker="o", markersize=4)
        handles.append(Line2D([], [], color=colour, linewidth=2, marker="o", label=scenario))
        descriptions.append(
            f"{scenario}: "
            + ", ".join(f"{step} {number(values[step, 0])}" for step in range(steps))
        )
    for step in range(1, steps):
        axis.axvline(
            step,
            color=AXIS_COLOUR,
            linestyle=":" if applied[step] else (0, (1, 4)),
            linewidth=0.8,
            zorder=0,
        )
    axis.set_xlim(-0.3, steps - 0.7)
    axis.set_ylim(0, 100)
    axis.set_yticks([0, 25, 50, 75, 100])
    axis.set_xticks(x, labels)
    axis.tick_params(axis="x", labelsize=FONT_SIZE - 1)
    axis.set_ylabel(gettext("Probability (%)"), fontsize=FONT_SIZE, color=TEXT_COLOUR)
    axis.set_xlabel(
        gettext("Observation (numbered as in the table) and its date"),
        fontsize=FONT_SIZE,
        color=TEXT_COLOUR,
    )
    handles.append(Patch(facecolor=AXIS_COLOUR, alpha=0.3, label=band))
    _legend(figure, handles, columns)
    caption = gettext("Scenario probabilities after each observation: %(item)s", item=item)
    alt = " ".join(
        [
            f"{caption}.",
            gettext(
                "Line chart of each scenario's pooled probability, in percent, before any "
                "observation (prior) and after each one, with a shaded range over the "
                "panelists' own likelihoods."
            ),
            "; ".join(descriptions) + ".",
        ]
    )
    return _plot("tracker", item, caption, alt, figure)
