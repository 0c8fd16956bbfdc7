"""Server-drawn SVG charts of the previous round's panel answers (controlled feedback).

The chart is plain inline SVG so that feedback works without JavaScript, without a CDN
and under a Content-Security-Policy of ``style-src 'self'``: it carries no ``<script>``,
no ``style`` attribute and no external reference, only presentation attributes and
class names. Every text it prints is escaped, because labels come from study files.

Layout (viewBox units, 320 wide, height growing with the rows it needs)::

    counts above bars
    ┌──────────── plot area: IQR band behind bars, median line, own answer line ───┐
    └──────────── axis ────────────────────────────────────────────────────────────┘
                   ▲ own-answer marker below the axis
    tick numbers (option values, or minimum / middle / maximum)
    option labels (discrete scales, when they fit)
    legend (IQR, median, your answer — only the parts that are drawn)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from analysis.histogram import Histogram, histogram

__all__ = ["ChartLabels", "default_format", "distribution_svg", "histogram_svg"]

#: Colours, all on white: bars 5.1:1, IQR edge 7.8:1, median and text 17:1, own 7.3:1,
#: axis and ticks 5.3:1 — above WCAG's 3:1 for graphics and 4.5:1 for text.
BAR_COLOUR = "#4a6fa5"
IQR_COLOUR = "#0b5394"
MEDIAN_COLOUR = "#1b1b1b"
OWN_COLOUR = "#b00020"
AXIS_COLOUR = "#6b6b6b"
TEXT_COLOUR = "#1b1b1b"

WIDTH = 320
PLOT_LEFT = 14.0
PLOT_RIGHT = 306.0
PLOT_TOP = 18.0  # top of the tallest bar; its count label sits just above
LINE_TOP = 6.0  # where the IQR band, median and own-answer lines start
AXIS_Y = 86.0
# Drawn 320 units wide but shown as narrow as ~260 px on a 320 px phone: text below
# about 13 units would render under 11 px there (found by the 320 px browser test).
TICK_FONT = 14
LABEL_FONT = 13
COUNT_FONT = 13
LEGEND_FONT = 13

#: Average advance of a glyph as a fraction of the font size. Generous for sans-serif
#: text so that estimated widths err on the side of "does not fit".
GLYPH_WIDTH = 0.6


@dataclass(frozen=True)
class ChartLabels:
    """Texts of one chart, already translated by the caller.

    Attributes
    ----------
    title
        Short accessible name, e.g. "Panel answers in round 1".
    description
        A full sentence stating the median, the IQR, the number of answers and the
        expert's own answer in words; it is the accessible description and, when there
        are no answers, the text shown in the plot area.
    median, iqr, own
        Legend texts for the median line, the IQR band and the expert's own answer.
    axis_labels
        Optional short labels of a discrete scale's options, lowest first; ignored
        unless there is exactly one per option.
    """

    title: str
    description: str
    median: str
    iqr: str
    own: str
    axis_labels: tuple[str, ...] = ()


def default_format(value: float) -> str:
    """Format a number plainly: integers without ``.0``, others with at most two decimals.

    Used when the caller passes no locale-aware formatter. Values too small to show with
    two decimals fall back to three significant digits so they do not read as "0".
    """
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    if text in {"0", "-0"}:
        return f"{value:.3g}"
    return text


def distribution_svg(
    values: Sequence[float],
    *,
    minimum: float,
    maximum: float,
    discrete: bool,
    median: float | None,
    q1: float | None,
    q3: float | None,
    own: float | None,
    labels: ChartLabels,
    bins: int = 10,
    format_number: Callable[[float], str] = default_format,
    element_id: str,
    weights: Sequence[int] | None = None,
) -> Markup:
    """Draw the panel's distribution with its median, IQR and the expert's own answer.

    Parameters
    ----------
    values
        The panel's answers, in any order. NaN is ignored; values outside
        ``[minimum, maximum]`` are counted in the first or last bar.
    minimum, maximum
        Bounds of the scale (swapped if given in the wrong order). When equal (or,
        on a continuous scale, too close for floating point to bin), the axis is
        widened by half a unit on either side so that it still has a length.
    discrete
        ``True`` draws one bar per integer option from ``minimum`` to ``maximum``
        (values rounded half up to the nearest option; a scale of more than 101 options
        is binned as if continuous); ``False`` splits the range into
        ``bins`` equal-width bins, each closed on the left, the last also on the right
        (the convention of :func:`numpy.histogram`).
    median, q1, q3, own
        Statistics of the previous round and the expert's own previous answer; each is
        omitted when ``None`` or NaN and clamped onto the axis otherwise. ``q1`` and
        ``q3`` are only drawn together.
    labels
        Translated texts, see :class:`ChartLabels`.
    bins
        Number of bars of a continuous scale, clamped to 1..100.
    format_number
        Formats tick values and counts for the reader's locale.
    element_id
        Unique per page; the ids of the ``<title>`` and ``<desc>`` derive from it.
    weights
        How many answers each of ``values`` stands for (a tally,
        :func:`analysis.histogram.tally`), ``None`` for one each: the same chart as the
        answers themselves.

    Returns
    -------
    Markup
        One ``<svg role="img">`` element labelled by its title and description, with a
        ``viewBox`` and ``width="100%"`` so that it scales to the width of its column.
        The same arguments always give the same string, whatever the order of values.
    """
    return histogram_svg(
        histogram(
            values, minimum=minimum, maximum=maximum, discrete=discrete, bins=bins, weights=weights
        ),
        median=median,
        q1=q1,
        q3=q3,
        own=own,
        labels=labels,
        format_number=format_number,
        element_id=element_id,
    )


def histogram_svg(
    counted: Histogram,
    *,
    median: float | None,
    q1: float | None,
    q3: float | None,
    own: float | None,
    labels: ChartLabels,
    format_number: Callable[[float], str] = default_format,
    element_id: str,
) -> Markup:
    """Draw counted answers (:func:`analysis.histogram.histogram`, computed once when
    the round closed) as :func:`distribution_svg` draws the answers themselves: the
    same string for the same counts."""
    domain, value_low, value_high = counted.domain, counted.value_low, counted.value_high
    counts, edges, options, per_option = (
        list(counted.counts),
        list(counted.edges),
        list(counted.options),
        counted.per_option,
    )
    scale = _Scale(domain[0], domain[1])

    def clamp(value: float | None) -> float | None:
        if value is None or math.isnan(float(value)):
            return None
        return min(max(float(value), value_low), value_high)

    median_at, own_at = clamp(median), clamp(own)
    q1_at, q3_at = clamp(q1), clamp(q3)
    if q1_at is not None and q3_at is not None and q1_at > q3_at:
        q1_at, q3_at = q3_at, q1_at

    title_id = f"{element_id}-title"
    desc_id = f"{element_id}-desc"
    body: list[Markup] = [
        _element("title", {"id": title_id}, labels.title),
        _element("desc", {"id": desc_id}, labels.description),
    ]

    if q1_at is not None and q3_at is not None:
        left, right = scale.x(q1_at), scale.x(q3_at)
        body.append(
            _element(
                "rect",
                {
                    "class": "chart-iqr",
                    "x": _n(left),
                    "y": _n(LINE_TOP),
                    "width": _n(right - left),
                    "height": _n(AXIS_Y - LINE_TOP),
                    "fill": IQR_COLOUR,
                    "fill-opacity": ".15",
                    "stroke": IQR_COLOUR,
                    "stroke-width": "1",
                },
            )
        )

    bars, count_labels = _bars(counts, edges, scale, format_number)
    body.extend(bars)
    if not counted.answers:
        body.extend(_empty_message(labels.description))

    body.append(
        _element(
            "line",
            {
                "class": "chart-axis",
                "x1": _n(PLOT_LEFT),
                "y1": _n(AXIS_Y),
                "x2": _n(PLOT_RIGHT),
                "y2": _n(AXIS_Y),
                "stroke": AXIS_COLOUR,
                "stroke-width": "1",
            },
        )
    )

    if median_at is not None:
        x = scale.x(median_at)
        body.append(_vertical_line("chart-median", x, MEDIAN_COLOUR, dashed=False))
    if own_at is not None:
        x = scale.x(own_at)
        body.append(_vertical_line("chart-own", x, OWN_COLOUR, dashed=True))
        body.append(_own_marker(x, AXIS_Y + 2, "chart-own-marker", labels.own))
    body.extend(count_labels)

    row_y = AXIS_Y + 20
    if per_option:
        ticks, option_labels = _discrete_ticks(options, scale, labels.axis_labels, format_number)
        body.extend(_tick_marks([scale.x(o) for o in options]))
        body.extend(ticks)
        if option_labels:
            row_y += 17
            body.extend(option_labels(row_y))
    else:
        middle = (domain[0] + domain[1]) / 2
        body.extend(_tick_marks([PLOT_LEFT, scale.x(middle), PLOT_RIGHT]))
        for x, value, anchor in (
            (PLOT_LEFT, domain[0], "start"),
            (scale.x(middle), middle, "middle"),
            (PLOT_RIGHT, domain[1], "end"),
        ):
            body.append(_text(x, row_y, format_number(value), TICK_FONT, anchor, "chart-tick"))

    legend_entries = []
    if q1_at is not None and q3_at is not None:
        legend_entries.append(("iqr", labels.iqr))
    if median_at is not None:
        legend_entries.append(("median", labels.median))
    if own_at is not None:
        legend_entries.append(("own", labels.own))
    legend, bottom = _legend(legend_entries, row_y + 22)
    body.extend(legend)

    height = bottom + 6
    attributes = {
        "xmlns": "http://www.w3.org/2000/svg",
        "class": "distribution-chart",
        "role": "img",
        "aria-labelledby": f"{title_id} {desc_id}",
        "viewBox": f"0 0 {WIDTH} {_n(height)}",
        "width": "100%",
        "preserveAspectRatio": "xMidYMid meet",
        "font-family": "system-ui, sans-serif",
        "fill": TEXT_COLOUR,
    }
    return _element("svg", attributes, Markup("").join(body))


@dataclass(frozen=True)
class _Scale:
    """Linear map from a domain of values onto the plot area's x range."""

    low: float
    high: float

    def x(self, value: float) -> float:
        """The x coordinate of ``value``."""
        fraction = (value - self.low) / (self.high - self.low)
        return PLOT_LEFT + fraction * (PLOT_RIGHT - PLOT_LEFT)


def _bars(
    counts: list[int],
    edges: list[float],
    scale: _Scale,
    format_number: Callable[[float], str],
) -> tuple[list[Markup], list[Markup]]:
    """One rect per bin (empty bins get height 0), and a count label above non-empty ones.

    The labels come back separately so that they can be drawn over the median and
    own-answer lines.
    """
    tallest = max(counts, default=0)
    elements, count_labels = [], []
    for index, count in enumerate(counts):
        left, right = scale.x(edges[index]), scale.x(edges[index + 1])
        slot = right - left
        gap = 1.5 if slot > 8 else slot * 0.1
        height = (AXIS_Y - PLOT_TOP) * count / tallest if tallest else 0.0
        elements.append(
            _element(
                "rect",
                {
                    "class": "chart-bar",
                    "x": _n(left + gap),
                    "y": _n(AXIS_Y - height),
                    "width": _n(slot - 2 * gap),
                    "height": _n(height),
                    "fill": BAR_COLOUR,
                    "data-count": str(count),
                },
            )
        )
        label = format_number(count)
        if count and _text_width(label, COUNT_FONT) <= slot:
            count_labels.append(
                _text(
                    (left + right) / 2,
                    AXIS_Y - height - 3,
                    label,
                    COUNT_FONT,
                    "middle",
                    "chart-count",
                    halo=True,
                )
            )
    return elements, count_labels


def _empty_message(description: str) -> list[Markup]:
    """The description, wrapped and centred in the plot area, for a chart without data."""
    lines = _wrap(description, TICK_FONT, PLOT_RIGHT - PLOT_LEFT - 8, max_lines=4)
    line_height = TICK_FONT * 1.3
    first = (PLOT_TOP + AXIS_Y) / 2 - (len(lines) - 1) * line_height / 2 + TICK_FONT / 3
    centre = (PLOT_LEFT + PLOT_RIGHT) / 2
    return [
        _text(centre, first + i * line_height, line, TICK_FONT, "middle", "chart-empty")
        for i, line in enumerate(lines)
    ]


def _discrete_ticks(
    options: list[int],
    scale: _Scale,
    axis_labels: tuple[str, ...],
    format_number: Callable[[float], str],
) -> tuple[list[Markup], Callable[[float], list[Markup]] | None]:
    """Option numbers under the bars, and a row of option labels if they fit.

    Numbers are thinned to every k-th option when they would collide. Option labels are
    shown under every option if each fits its slot, else only the two end labels
    (anchored to the plot's edges) if each fits half the width, else not at all.
    """
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(options)
    numbers = [format_number(option) for option in options]
    widest = max(_text_width(n, TICK_FONT) for n in numbers)
    step = max(1, math.ceil((widest + 4) / slot))
    ticks = [
        _text(scale.x(option), AXIS_Y + 20, number, TICK_FONT, "middle", "chart-tick")
        for index, (option, number) in enumerate(zip(options, numbers, strict=True))
        if index % step == 0
    ]

    if len(axis_labels) != len(options) or not axis_labels:
        return ticks, None
    if all(_text_width(label, LABEL_FONT) <= slot - 2 for label in axis_labels):

        def every_label(y: float) -> list[Markup]:
            return [
                _text(scale.x(option), y, label, LABEL_FONT, "middle", "chart-option")
                for option, label in zip(options, axis_labels, strict=True)
            ]

        return ticks, every_label
    half = (PLOT_RIGHT - PLOT_LEFT) / 2 - 6
    ends = (axis_labels[0], axis_labels[-1])
    if len(options) >= 2 and all(_text_width(label, LABEL_FONT) <= half for label in ends):

        def end_labels(y: float) -> list[Markup]:
            return [
                _text(PLOT_LEFT, y, ends[0], LABEL_FONT, "start", "chart-option"),
                _text(PLOT_RIGHT, y, ends[1], LABEL_FONT, "end", "chart-option"),
            ]

        return ticks, end_labels
    return ticks, None


def _tick_marks(xs: list[float]) -> list[Markup]:
    """Short marks below the axis at ``xs``."""
    return [
        _element(
            "line",
            {
                "class": "chart-tick-mark",
                "x1": _n(x),
                "y1": _n(AXIS_Y),
                "x2": _n(x),
                "y2": _n(AXIS_Y + 3),
                "stroke": AXIS_COLOUR,
                "stroke-width": "1",
            },
        )
        for x in xs
    ]


def _vertical_line(css_class: str, x: float, colour: str, *, dashed: bool) -> Markup:
    """A full-height line through the plot area at ``x``."""
    attributes = {
        "class": css_class,
        "x1": _n(x),
        "y1": _n(LINE_TOP),
        "x2": _n(x),
        "y2": _n(AXIS_Y),
        "stroke": colour,
        "stroke-width": "2",
    }
    if dashed:
        attributes["stroke-dasharray"] = "4 3"
    return _element("line", attributes)


def _own_marker(x: float, top: float, css_class: str, name: str = "") -> Markup:
    """An upward triangle whose tip is at ``(x, top)``: the own answer's shape cue."""
    points = f"{_n(x)},{_n(top)} {_n(x - 5)},{_n(top + 8)} {_n(x + 5)},{_n(top + 8)}"
    content = _element("title", {}, name) if name else ""
    return _element(
        "polygon",
        {"class": css_class, "points": points, "fill": OWN_COLOUR, "data-x": _n(x)},
        content,
    )


def _legend(entries: list[tuple[str, str]], first_baseline: float) -> tuple[list[Markup], float]:
    """Swatch-and-text legend entries, wrapped into rows; returns them and the last baseline."""
    if not entries:
        return [], first_baseline - 12
    elements = []
    x, baseline = PLOT_LEFT, first_baseline
    for kind, text in entries:
        width = 14 + 4 + _text_width(text, LEGEND_FONT)
        if x > PLOT_LEFT and x + width > PLOT_RIGHT:
            x, baseline = PLOT_LEFT, baseline + LEGEND_FONT + 5
        middle = baseline - LEGEND_FONT / 3
        if kind == "iqr":
            elements.append(
                _element(
                    "rect",
                    {
                        "class": "chart-legend-iqr",
                        "x": _n(x),
                        "y": _n(middle - 5),
                        "width": "14",
                        "height": "10",
                        "fill": IQR_COLOUR,
                        "fill-opacity": ".15",
                        "stroke": IQR_COLOUR,
                        "stroke-width": "1",
                    },
                )
            )
        elif kind == "median":
            elements.append(
                _element(
                    "line",
                    {
                        "class": "chart-legend-median",
                        "x1": _n(x + 7),
                        "y1": _n(middle - 6),
                        "x2": _n(x + 7),
                        "y2": _n(middle + 6),
                        "stroke": MEDIAN_COLOUR,
                        "stroke-width": "2",
                    },
                )
            )
        else:
            elements.append(
                _element(
                    "line",
                    {
                        "class": "chart-legend-own",
                        "x1": _n(x + 7),
                        "y1": _n(middle - 7),
                        "x2": _n(x + 7),
                        "y2": _n(middle - 1),
                        "stroke": OWN_COLOUR,
                        "stroke-width": "2",
                        "stroke-dasharray": "2 2",
                    },
                )
            )
            elements.append(_own_marker(x + 7, middle - 1, "chart-legend-own-marker"))
        elements.append(_text(x + 18, baseline, text, LEGEND_FONT, "start", "chart-legend"))
        x += width + 12
    return elements, baseline


def _text(
    x: float, y: float, text: str, size: int, anchor: str, css_class: str, *, halo: bool = False
) -> Markup:
    """An escaped ``<text>`` element with its baseline at ``y``.

    ``halo`` outlines the glyphs in white so that a median or own-answer line drawn
    across the text does not make it unreadable.
    """
    attributes = {
        "class": css_class,
        "x": _n(x),
        "y": _n(y),
        "font-size": str(size),
        "text-anchor": anchor,
    }
    if halo:
        attributes |= {"stroke": "#ffffff", "stroke-width": "3", "paint-order": "stroke"}
    return _element("text", attributes, text)


def _element(name: str, attributes: dict[str, str], content: str = "") -> Markup:
    """Serialise one element; attribute values and plain-string content are escaped.

    Every piece goes through :func:`markupsafe.escape`, so only pieces that are already
    :class:`Markup` (other elements) pass through unescaped: what :meth:`Markup.format`
    does, at a fraction of its cost (a round-2 expert page draws tens of charts of
    dozens of elements each; ``Markup.format`` was most of their time).
    """
    tag = escape(name)
    attrs = "".join(f' {escape(key)}="{escape(value)}"' for key, value in attributes.items())
    # Every piece of these two strings was escaped above (S704 cannot see it).
    if content:
        return Markup(f"<{tag}{attrs}>{escape(content)}</{tag}>")  # noqa: S704
    return Markup(f"<{tag}{attrs}/>")  # noqa: S704


def _n(value: float) -> str:
    """A coordinate with at most two decimals, so output is short and reproducible."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _text_width(text: str, size: float) -> float:
    """Estimated rendered width of ``text`` at ``size``; the SVG cannot measure itself."""
    return len(text) * size * GLYPH_WIDTH


def _wrap(text: str, size: float, width: float, *, max_lines: int) -> list[str]:
    """Greedy word wrap by estimated width; the last allowed line ends in "…" if cut."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and _text_width(candidate, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " …"]
    return lines
