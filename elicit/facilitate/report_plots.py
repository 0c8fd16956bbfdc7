"""The study report's plots, drawn with matplotlib as SVG.

Per summarised item two plots: the distribution of the answers in each closed round
(bars of the stored counts per scale point or bin; a strip of the answers for numeric
estimates, whose bounds are too wide for bins) and the convergence of the median and
interquartile range across rounds.  Per scenario set one more: the pooled probability of
each scenario by pooling method and round.

Every figure is a :class:`matplotlib.figure.Figure` made directly, never through pyplot,
whose global registry of figures is not thread-safe.  Figures are saved as SVG with text
kept as text (``svg.fonttype = "none"``: small files, selectable text) and a fixed
``svg.hashsalt``, without which the ids inside the SVG are random and the same report
would never give the same bytes.  matplotlib reads both from its global ``rcParams``
when a figure is saved, so they are set once here, at import, to constant values: no
thread ever changes them back.

Every text is drawn literally.  By default matplotlib reads a text holding two ``$`` as
mathematics (mathtext): a likert label ``$1–$5 million`` lost its dollar signs and came
out in italics, and one that mathtext cannot parse (``$\\frac$``) raised while the
figure was drawn, so the whole report answered 500.  Labels and every other text come
from the study's author, never from someone writing formulas, so mathtext is switched
off with matplotlib's own setting, ``text.parse_math = False`` (and ``text.usetex`` kept
off, whatever a ``matplotlibrc`` says): a text object reads it when it is created, so
it too is set once at import, for every figure of the process.

The page embeds each SVG as a ``data:`` image.  Inline ``<svg>`` would carry matplotlib's
``<style>`` element and ``style`` attributes, which the Content-Security-Policy
(``style-src 'self'``) refuses; an image is rendered as a document of its own, needs no
other file (the downloaded report stays self-contained) and loads nothing from the
internet.  Each plot has a caption and alt text that gives its numbers in words.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import matplotlib
import numpy as np
from flask_babel import gettext
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from surveys.definition import CONFIDENCE_RANGE
from surveys.report import ANSWERS_SHOWN, ComponentRound, ReportItem, StudyReport

matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["svg.hashsalt"] = "elicit-report"
matplotlib.rcParams["text.parse_math"] = False
matplotlib.rcParams["text.usetex"] = False

#: Colours on white, as in the console's other charts.
TEXT_COLOUR = "#1b1b1b"
AXIS_COLOUR = "#6b6b6b"
MEDIAN_COLOUR = "#1b1b1b"
IQR_COLOUR = "#0b5394"
#: Rounds from light to dark blue (the latest darkest); bars get a dark edge so that
#: even the lightest stands out against white.
ROUND_COLOURS = LinearSegmentedColormap.from_list("rounds", ["#9ecae1", "#08306b"])
#: Okabe & Ito's colour-blind-safe palette, one colour per pooling method.
POOL_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00")
#: One colour per component when several share a convergence panel (Okabe & Ito).
SERIES_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
POOL_COLUMNS = ("mean", "median", "pool_trimmed_mean", "pool_geometric_odds", "pool_extremized")

FONT_SIZE = 9
TITLE_SIZE = 10
COLUMNS = 3

Format = Callable[[float], str]


def plain_number(value: float) -> str:
    """A number as text without a locale, up to two decimals."""
    return f"{round(value, 2):g}"


@dataclass(frozen=True)
class Plot:
    """One figure of the report: what it shows, in words, and the SVG itself."""

    #: ``distribution``, ``convergence`` or ``pooled``.
    kind: str
    item: str
    caption: str
    alt: str
    svg: bytes
    #: The figure's size in CSS pixels (96 a inch), for the image's attributes.
    width: int
    height: int

    @property
    def element_id(self) -> str:
        """The ``id`` of the plot's image on the page."""
        return f"plot-{self.kind}-{self.item}"

    @property
    def data_uri(self) -> str:
        """The SVG as a ``data:`` address for an ``<img>``."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg).decode("ascii")


def report_plots(report: StudyReport, number: Format = plain_number) -> dict[str, dict[str, Plot]]:
    """Every plot of the report, by item key and kind: ``distribution`` and
    ``convergence`` for each summarised item, ``pooled`` for each scenario set.

    Plots already drawn from the same data in the same language are reused (see
    :func:`_drawn`): the download right after the page, or a reload, draws nothing.
    """
    plots: dict[str, dict[str, Plot]] = {}
    # The plots' words depend on the language and on how numbers are written.
    context = [report.language, f"{number.__module__}.{number.__qualname__}"]
    for item in report.items:
        data = _item_data(item)
        plots[item.key] = {
            "distribution": _drawn(context, data, partial(distribution_plot, item, number)),
            "convergence": _drawn(context, data, partial(convergence_plot, item, number)),
        }
        if item.kind == "scenario_set":
            rows = report.pooled[report.pooled["item"] == item.key].to_dict("records")
            plots[item.key]["pooled"] = _drawn(
                context, [data, rows], partial(pooled_plot, item, rows, number)
            )
    return plots


#: Plots drawn lately, by a digest of everything they show.  Drawing a report's plots
#: takes seconds; this keeps the last few reports' plots in each worker process.  A
#: worker that has not drawn a plot yet simply draws it: nothing depends on the cache.
_DRAWN: OrderedDict[str, Plot] = OrderedDict()
_DRAWN_LIMIT = 400
_DRAWN_LOCK = threading.Lock()


def _drawn(context: list[str], data: Any, draw: partial[Plot]) -> Plot:
    """The plot ``draw`` makes of ``data`` in ``context`` (language, number format):
    from the cache, or drawn now."""
    key = [context, draw.func.__name__, data]
    digest = hashlib.sha256(
        json.dumps(key, sort_keys=True, default=repr).encode("utf-8")
    ).hexdigest()
    with _DRAWN_LOCK:
        if digest in _DRAWN:
            _DRAWN.move_to_end(digest)
            return _DRAWN[digest]
    plot = draw()
    with _DRAWN_LOCK:
        _DRAWN[digest] = plot
        while len(_DRAWN) > _DRAWN_LIMIT:
            _DRAWN.popitem(last=False)
    return plot


def _item_data(item: ReportItem) -> list[Any]:
    """Everything the plots of ``item`` draw or say, as JSON-ready data."""
    return [
        item.key,
        item.kind,
        sorted(item.labels.items()),
        item.component_texts,
        item.bounds,
        [
            [
                component,
                [
                    [entry.round, entry.statistics, entry.values, entry.histogram]
                    for entry in history
                ],
            ]
            for component, history in item.components.items()
        ],
    ]


# -- shared ----------------------------------------------------------------------------


def _plot(kind: str, item: str, caption: str, alt: str, figure: Figure) -> Plot:
    """The figure saved as SVG without a creation date (same data, same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    width, height = figure.get_size_inches()
    return Plot(
        kind=kind,
        item=item,
        caption=caption,
        alt=alt,
        svg=buffer.getvalue(),
        width=round(width * 96),
        height=round(height * 96),
    )


@dataclass(frozen=True)
class Layout:
    """Sizes in inches of one panel and the room around it.

    Margins are computed, not found by matplotlib's constrained layout, which measures
    every text twice and made the report about twice as slow to draw.
    """

    panel_width: float
    panel_height: float
    #: Room left of a panel for its tick labels (see :func:`_label_room`).
    left: float = 0.5
    #: Room above a panel for its title.
    top: float = 0.3
    #: Room below a panel for its tick labels and axis label.
    bottom: float = 0.5
    right: float = 0.3


def _label_room(labels: Sequence[str]) -> float:
    """Room in inches for the longest of ``labels`` at :data:`FONT_SIZE` (an average
    character is about 0.55 em wide), plus the ticks."""
    longest = max((len(label) for label in labels), default=1)
    return longest * FONT_SIZE * 0.56 / 72 + 0.2


def _panels(
    count: int, layout: Layout, legend_labels: Sequence[str]
) -> tuple[Figure, list[Axes], int]:
    """A figure with ``count`` panels, at most :data:`COLUMNS` a row, and room for a
    legend of ``legend_labels`` below them; also the legend's number of columns."""
    columns = min(max(count, 1), COLUMNS)
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
    grid = figure.subplots(rows, columns, squeeze=False)
    axes = list(grid.ravel())
    for spare in axes[count:]:
        figure.delaxes(spare)
    for axis in axes[:count]:
        axis.tick_params(labelsize=FONT_SIZE, colors=TEXT_COLOUR)
        for spine in ("top", "right"):
            axis.spines[spine].set_visible(False)
        for spine in ("left", "bottom"):
            axis.spines[spine].set_color(AXIS_COLOUR)
    return figure, axes[:count], legend_columns


def _legend_lines(labels: Sequence[str], width: float) -> tuple[int, int]:
    """(columns, lines) of a legend of ``labels`` that fits ``width`` inches."""
    entry = max(len(label) for label in labels) * FONT_SIZE * 0.56 / 72 + 0.5
    columns = max(1, min(len(labels), int(width // entry)))
    return columns, math.ceil(len(labels) / columns)


def _round_colours(rounds: Sequence[int]) -> dict[int, Any]:
    """A colour per round, light to dark."""
    if len(rounds) == 1:
        return {rounds[0]: IQR_COLOUR}
    return {number: ROUND_COLOURS(index / (len(rounds) - 1)) for index, number in enumerate(rounds)}


def _round_name(number: int) -> str:
    return gettext("Round %(number)s", number=number)


def _component_name(item: ReportItem, component: str) -> str:
    """The panel title of a component: its key (texts are in the item's table); a
    cross-impact part's trigger and scenario on two lines."""
    if item.kind == "numeric_estimate":
        return {
            "lowest": gettext("Lowest"),
            "highest": gettext("Highest"),
            "best": gettext("Best guess"),
            "confidence": gettext("Confidence (%)"),
        }.get(component, component)
    if item.kind == "cross_impact":
        # "trigger:scenario" on two lines: both keys at once are wider than a panel.
        return component.replace(":", ":\n", 1)
    return component


def _legend(figure: Figure, handles: list[Any], columns: int) -> None:
    """The figure's legend, centred below the panels, in ``columns`` columns."""
    figure.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncols=columns,
        fontsize=FONT_SIZE,
        frameon=False,
        borderaxespad=0.3,
    )


# -- distribution ------------------------------------------------------------------------


def distribution_plot(item: ReportItem, number: Format = plain_number) -> Plot:
    """Each round's distribution of each component of ``item``, one panel a component."""
    figure, caption, alt = distribution_figure(item, number)
    return _plot("distribution", item.key, caption, alt, figure)


def distribution_figure(item: ReportItem, number: Format = plain_number) -> tuple[Figure, str, str]:
    """The distribution plot's figure, caption and alt text (see
    :func:`distribution_plot`); the figure itself for tests that read its axes."""
    rounds = item.rounds
    colours = _round_colours(rounds)
    strip = item.kind == "numeric_estimate" or any(
        entry.histogram is None for history in item.components.values() for entry in history
    )
    # Every answer as a dot where the round's answers were read (ANSWERS_SHOWN or
    # fewer), else the range of the answers as a line.
    summarised = strip and any(
        not entry.values and entry.statistics.get("n")
        for history in item.components.values()
        for entry in history
    )
    if strip:
        handles: list[Any] = [
            Line2D([], [], marker="o", linestyle="", color=IQR_COLOUR, label=gettext("answer")),
            Line2D([], [], color=IQR_COLOUR, linewidth=5, alpha=0.35, label=gettext("IQR")),
            Line2D([], [], marker="|", linestyle="", markersize=12, color=MEDIAN_COLOUR,
                   label=gettext("median")),
        ]  # fmt: skip
        if summarised:
            handles[0] = Line2D(
                [], [], color=IQR_COLOUR, linewidth=1.5, label=gettext("range of the answers")
            )
        layout = Layout(
            panel_width=2.0 if len(item.components) > 1 else 4.2,
            panel_height=0.35 + 0.3 * len(rounds),
            left=_label_room([_round_name(r) for r in rounds]),
            bottom=0.3,
            top=0.45 if item.kind == "cross_impact" else Layout.top,
        )
    else:
        handles = [
            Patch(facecolor=colours[r], edgecolor=TEXT_COLOUR, label=_round_name(r)) for r in rounds
        ]
        names = [
            name
            for history in item.components.values()
            for name in _categories(item, history[0], number)
        ]
        layout = Layout(
            panel_width=1.5 if len(item.components) > 1 else 3.4,
            panel_height=0.1 + 0.09 * _most_categories(item) * len(rounds),
            left=_label_room(names) + (0.2 if item.kind == "ranking" else 0),
            bottom=0.12,
            # A cross-impact part's title takes two lines (_component_name).
            top=0.45 if item.kind == "cross_impact" else Layout.top,
        )
    figure, axes, columns = _panels(
        len(item.components), layout, [handle.get_label() for handle in handles]
    )
    descriptions = []
    for axis, (component, history) in zip(axes, item.components.items(), strict=True):
        if strip:
            _strip(axis, history, rounds, colours)
            axis.set_xlim(*_component_range(item, component))
            axis.xaxis.set_major_formatter(_tick_format(number))
        else:
            _bars(axis, item, history, rounds, colours, number)
        if component:
            axis.set_title(_component_name(item, component), fontsize=TITLE_SIZE)
        descriptions.append(_describe_distribution(item, component, history, strip, number))
    _legend(figure, handles, columns)
    caption = gettext("Distribution of the answers by round: %(item)s", item=item.key)
    if summarised:
        kind = gettext(
            "Range, IQR and median of the answers in each round (each answer is drawn as a "
            "dot only in a round of at most %(limit)s answers per question).",
            limit=ANSWERS_SHOWN,
        )
    elif strip:
        kind = gettext("Dot plot of every answer in each round, with the median and IQR.")
    else:
        kind = gettext("Bar chart of the number of answers per scale point or range, by round.")
    return figure, caption, " ".join([f"{caption}.", kind, *descriptions])


def _most_categories(item: ReportItem) -> int:
    """The largest number of bars' categories among the item's panels."""
    return max(
        len(entry.histogram.counts)
        for history in item.components.values()
        for entry in history
        if entry.histogram is not None
    )


def _categories(item: ReportItem, entry: ComponentRound, number: Format) -> list[str]:
    """The names of a histogram's categories: option values with labels, or ranges."""
    histogram = entry.histogram
    assert histogram is not None
    if histogram.options is not None:
        return [
            f"{number(value)} {item.labels[value]}" if value in item.labels else number(value)
            for value in histogram.options
        ]
    edges = histogram.edges or ()
    return [f"{number(low)}–{number(high)}" for low, high in itertools.pairwise(edges)]


def _bars(
    axis: Axes,
    item: ReportItem,
    history: list[ComponentRound],
    rounds: list[int],
    colours: dict[int, Any],
    number: Format,
) -> None:
    """Horizontal bars: one group per category (lowest on top), one bar per round."""
    names = _categories(item, history[0], number)
    positions = np.arange(len(names))
    thickness = 0.8 / len(rounds)
    largest = 1
    for entry in history:
        assert entry.histogram is not None
        index = rounds.index(entry.round)
        offset = (index - (len(rounds) - 1) / 2) * thickness
        counts = entry.histogram.counts
        largest = max(largest, *counts)
        bars = axis.barh(
            positions[: len(counts)] + offset,
            counts,
            height=thickness,
            color=colours[entry.round],
            edgecolor=TEXT_COLOUR,
            linewidth=0.4,
        )
        axis.bar_label(
            bars,
            labels=[str(count) if count else "" for count in counts],
            padding=2,
            fontsize=FONT_SIZE - 1,
            color=TEXT_COLOUR,
        )
    axis.set_yticks(positions, names)
    axis.invert_yaxis()
    axis.set_xlim(0, largest * 1.18 + 0.5)
    # Every bar carries its count: a count axis would add only ticks (slow to draw).
    axis.xaxis.set_visible(False)
    axis.spines["bottom"].set_visible(False)
    if item.kind == "ranking":
        axis.set_ylabel(gettext("Place (1 = first)"), fontsize=FONT_SIZE)


def _strip(
    axis: Axes, history: list[ComponentRound], rounds: list[int], colours: dict[int, Any]
) -> None:
    """Every answer as a dot, one row per round (round 1 on top), with the IQR as a band
    under the dots and the median as a tick; equal answers are stacked upwards."""
    for entry in history:
        row = rounds.index(entry.round)
        seen: dict[float, int] = {}
        heights = []
        for value in entry.values:
            heights.append(row - 0.09 * seen.get(value, 0))
            seen[value] = seen.get(value, 0) + 1
        if entry.values:
            axis.scatter(entry.values, heights, s=14, color=colours[entry.round], zorder=3)
        else:  # too many answers to draw one by one: their range
            low, high = entry.statistics.get("min"), entry.statistics.get("max")
            if low is not None and high is not None:
                axis.plot([low, high], [row] * 2, color=colours[entry.round], linewidth=1.5)
        q1, q3, median = (entry.statistics.get(name) for name in ("q1", "q3", "median"))
        if q1 is not None and q3 is not None:
            axis.plot([q1, q3], [row + 0.22] * 2, color=IQR_COLOUR, linewidth=5, alpha=0.35)
        if median is not None:
            axis.plot([median], [row + 0.22], marker="|", markersize=12, color=MEDIAN_COLOUR)
    axis.set_yticks(range(len(rounds)), [_round_name(number) for number in rounds])
    axis.set_ylim(len(rounds) - 0.5, -0.8)
    axis.xaxis.set_major_locator(MaxNLocator(5))


def _describe_distribution(
    item: ReportItem, component: str, history: list[ComponentRound], strip: bool, number: Format
) -> str:
    """The distribution's numbers in words, for the alt text."""
    parts = []
    for entry in history:
        count = entry.statistics.get("n") or 0
        statistics = entry.statistics
        if (strip or entry.histogram is None) and not entry.values and count:
            parts.append(
                gettext(
                    "Round %(number)s, %(n)s answers: median %(median)s, IQR %(q1)s to "
                    "%(q3)s, from %(low)s to %(high)s.",
                    number=entry.round,
                    n=count,
                    **{
                        name: "–" if statistics.get(key) is None else number(statistics[key])
                        for name, key in (
                            ("median", "median"),
                            ("q1", "q1"),
                            ("q3", "q3"),
                            ("low", "min"),
                            ("high", "max"),
                        )
                    },
                )
            )
            continue
        if strip or entry.histogram is None:
            shown = ", ".join(number(value) for value in entry.values)
        else:
            shown = ", ".join(
                f"{name}: {value}"
                for name, value in zip(
                    _categories(item, entry, number), entry.histogram.counts, strict=False
                )
                if value
            )
        parts.append(
            gettext(
                "Round %(number)s, %(n)s answers: %(values)s.",
                number=entry.round,
                n=count,
                values=shown or "–",
            )
        )
    prefix = f"{_component_name(item, component)}: " if component else ""
    return prefix + " ".join(parts)


# -- convergence -----------------------------------------------------------------------


def convergence_plot(item: ReportItem, number: Format = plain_number) -> Plot:
    """The median (line) and interquartile range (band) of each component by round.

    Components that share a scale share one panel, side by side within each round;
    a numeric estimate's confidence (percent, not the estimate's unit) gets its own.
    """
    figure, caption, alt = convergence_figure(item, number)
    return _plot("convergence", item.key, caption, alt, figure)


def convergence_figure(item: ReportItem, number: Format = plain_number) -> tuple[Figure, str, str]:
    """The convergence plot's figure, caption and alt text (see
    :func:`convergence_plot`)."""
    rounds = item.rounds
    groups: list[list[str]] = [[c for c in item.components if c != "confidence"]]
    if "confidence" in item.components and item.kind == "numeric_estimate":
        groups.append(["confidence"])
    many = len(item.components) > 1
    series = [c for group in groups for c in group]
    colours = {c: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, c in enumerate(series)}
    labels = [_component_name(item, c) for c in series] if many else [gettext("median")]
    layout = Layout(
        panel_width=max(2.6, 0.7 * len(rounds) * max(len(group) for group in groups) ** 0.5),
        panel_height=1.6,
        # Room for the longest tick label: the ends of the value axes are at least as
        # long as any tick between them ("146,275" against "140,000").
        left=max(
            0.55,
            _label_room([number(v) for group in groups for v in _component_range(item, group[0])]),
        ),
        bottom=0.35,
    )
    figure, axes, columns = _panels(len(groups), layout, [*labels, gettext("IQR")])
    descriptions = []
    for axis, group in zip(axes, groups, strict=True):
        width = 0.6 / len(group)
        for index, component in enumerate(group):
            history = item.components[component]
            shift = (index - (len(group) - 1) / 2) * width
            colour = colours[component] if many else MEDIAN_COLOUR
            band = IQR_COLOUR if not many else colour
            points = [
                (entry.round, *(entry.statistics.get(name) for name in ("median", "q1", "q3")))
                for entry in history
            ]
            for r, _, q1, q3 in points:
                if q1 is not None and q3 is not None:
                    axis.add_patch(
                        Rectangle(
                            (r + shift - width * 0.4, q1),
                            width * 0.8,
                            max(q3 - q1, 0.0),
                            facecolor=band,
                            alpha=0.25,
                            edgecolor=band,
                            linewidth=0.8,
                        )
                    )
            medians = [(r + shift, m) for r, m, _, _ in points if m is not None]
            axis.plot(
                [x for x, _ in medians],
                [y for _, y in medians],
                color=colour,
                marker="o",
                markersize=4,
                linewidth=1.5,
            )
            words = " ".join(
                gettext(
                    "Round %(number)s: median %(median)s, IQR %(q1)s to %(q3)s.",
                    number=r,
                    median=number(m) if m is not None else "–",
                    q1=number(q1) if q1 is not None else "–",
                    q3=number(q3) if q3 is not None else "–",
                )
                for r, m, q1, q3 in points
            )
            descriptions.append(
                f"{_component_name(item, component)}: {words}" if component else words
            )
        axis.set_xticks(rounds, [_round_name(r) for r in rounds])
        axis.set_xlim(min(rounds) - 0.5, max(rounds) + 0.5)
        axis.set_ylim(*_component_range(item, group[0]))
        axis.yaxis.set_major_locator(MaxNLocator(5))
        axis.yaxis.set_major_formatter(_tick_format(number))
        if len(groups) > 1:
            axis.set_title(
                gettext("Confidence (%)") if group == ["confidence"] else gettext("Estimate"),
                fontsize=TITLE_SIZE,
            )
    handles: list[Any] = [
        Line2D([], [], color=colours[c] if many else MEDIAN_COLOUR, marker="o", markersize=4,
               label=label)
        for c, label in zip(series, labels, strict=False)
    ]  # fmt: skip
    handles.append(
        Patch(facecolor=IQR_COLOUR if not many else "#bbbbbb", alpha=0.4, label=gettext("IQR"))
    )
    _legend(figure, handles, columns)
    caption = gettext("Convergence of the median and IQR: %(item)s", item=item.key)
    return figure, caption, " ".join([f"{caption}.", *descriptions])


def _tick_format(number: Format) -> FuncFormatter:
    """Tick labels written as the report writes numbers ("120,000", not "120000")."""
    return FuncFormatter(lambda value, _position: number(value))


def _component_range(item: ReportItem, component: str) -> tuple[float, float]:
    """The value axis of ``component``, padded: each component on its own scale.

    A numeric estimate's confidence is a percentage from 50 to 100; its lowest, best and
    highest values share the span of all their answers (the estimate's bounds, when
    given, are usually far wider than the answers).  Other kinds have the item's range
    (a likert's scale, 0–100 %, ranking places), or the answers' span without one.
    """
    if item.kind == "numeric_estimate" and component == "confidence":
        low, high = float(CONFIDENCE_RANGE[0]), float(CONFIDENCE_RANGE[1])
    elif item.bounds is not None and item.kind != "numeric_estimate":
        low, high = item.bounds
    else:
        shared = [
            part
            for part in item.components
            if item.kind != "numeric_estimate" or part != "confidence"
        ]
        values = [
            value
            for part in shared
            for entry in item.components[part]
            for value in (
                *entry.values,
                *(entry.statistics.get(name) for name in ("median", "q1", "q3", "min", "max")),
            )
            if value is not None
        ] or [0.0, 1.0]
        low, high = min(values), max(values)
    padding = (high - low) * 0.06 or 1.0
    return low - padding, high + padding


# -- pooled probabilities --------------------------------------------------------------


def pooled_plot(
    item: ReportItem, rows: list[dict[str, Any]], number: Format = plain_number
) -> Plot:
    """The pooled probability of each scenario, by pooling method, one panel per round."""
    figure, caption, alt = pooled_figure(item, rows, number)
    return _plot("pooled", item.key, caption, alt, figure)


def pooled_figure(
    item: ReportItem, rows: list[dict[str, Any]], number: Format = plain_number
) -> tuple[Figure, str, str]:
    """The pooled plot's figure, caption and alt text (see :func:`pooled_plot`)."""
    names = {
        "mean": gettext("mean (linear pool)"),
        "median": gettext("median"),
        "pool_trimmed_mean": gettext("trimmed mean"),
        "pool_geometric_odds": gettext("geometric mean of odds"),
        "pool_extremized": gettext("extremised log-odds"),
    }
    scenarios = list(item.components)
    rounds = sorted({int(row["round"]) for row in rows})
    layout = Layout(
        panel_width=2.2 if len(rounds) > 1 else 4.0,
        panel_height=0.2 + 0.5 * len(scenarios),
        left=_label_room(scenarios),
    )
    figure, axes, columns = _panels(len(rounds), layout, list(names.values()))
    descriptions = []
    thickness = 0.8 / len(POOL_COLUMNS)
    positions = np.arange(len(scenarios))
    for axis, round_number in zip(axes, rounds, strict=True):
        by_scenario = {row["component"]: row for row in rows if row["round"] == round_number}
        for index, (column, colour) in enumerate(zip(POOL_COLUMNS, POOL_COLOURS, strict=True)):
            values = [_as_number(by_scenario.get(key, {}).get(column)) for key in scenarios]
            axis.barh(
                positions + (index - (len(POOL_COLUMNS) - 1) / 2) * thickness,
                values,
                height=thickness,
                color=colour,
                edgecolor=TEXT_COLOUR,
                linewidth=0.3,
                label=names[column],
            )
        axis.set_yticks(positions, scenarios)
        axis.invert_yaxis()
        axis.set_xlim(0, 100)
        axis.set_xticks([0, 25, 50, 75, 100])
        axis.set_xlabel(gettext("Probability (%)"), fontsize=FONT_SIZE)
        axis.set_title(_round_name(round_number), fontsize=TITLE_SIZE)
        described = "; ".join(
            f"{key}: "
            + ", ".join(
                f"{names[column]} {number(value)}"
                for column in POOL_COLUMNS
                if (value := by_scenario.get(key, {}).get(column)) is not None
            )
            for key in scenarios
        )
        descriptions.append(f"{_round_name(round_number)}: {described}.")
    _legend(
        figure,
        [
            Patch(facecolor=colour, edgecolor=TEXT_COLOUR, label=names[column])
            for column, colour in zip(POOL_COLUMNS, POOL_COLOURS, strict=True)
        ],
        columns,
    )
    caption = gettext("Pooled scenario probabilities: %(item)s", item=item.key)
    alt = " ".join(
        [
            f"{caption}.",
            gettext("Bar chart of each scenario's pooled probability by method, in percent."),
            *descriptions,
        ]
    )
    return figure, caption, alt


def _as_number(value: Any) -> float:
    """A stored statistic for a bar: missing draws nothing (zero length)."""
    return 0.0 if value is None else float(value)
