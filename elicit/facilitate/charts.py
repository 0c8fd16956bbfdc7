"""The convergence chart: each round's median and interquartile band, side by side.

Inline SVG drawn on the server, like the experts' distribution charts: no script, no
``style`` attribute (the Content-Security-Policy forbids inline styles), every text
escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from elicit.expert.charts import (
    GLYPH_WIDTH,
    IQR_COLOUR,
    MEDIAN_COLOUR,
    TEXT_COLOUR,
    default_format,
)

WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 40.0, 306.0, 14.0, 116.0
FONT = 13


def convergence_svg(
    rounds: Sequence[tuple[int, float | None, float | None, float | None]],
    *,
    minimum: float,
    maximum: float,
    title: str,
    description: str,
    round_label: Callable[[int], str],
    element_id: str,
    format_number: Callable[[float], str] = default_format,
) -> Markup:
    """Draw ``(round, median, q1, q3)`` per round: a band from q1 to q3 and a dot on
    the median, joined by a line, on a vertical axis from ``minimum`` to ``maximum``."""
    if maximum <= minimum:
        maximum = minimum + 1
    ends = [format_number(minimum), format_number(maximum)]
    # The axis starts right of its longest end label ("148,025" needs more room than
    # "100"), so that no label is cut at the chart's left edge.
    left = max(LEFT, 8 + max(len(label) for label in ends) * FONT * GLYPH_WIDTH)

    def y(value: float) -> float:
        clamped = min(max(value, minimum), maximum)
        return BOTTOM - (clamped - minimum) / (maximum - minimum) * (BOTTOM - TOP)

    slot = (RIGHT - left) / max(len(rounds), 1)
    parts: list[str] = [
        f'<title id="{escape(element_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(element_id)}-desc">{escape(description)}</desc>',
        f'<line x1="{left:.1f}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#6b6b6b"/>',
        f'<line x1="{left:.1f}" y1="{TOP}" x2="{left:.1f}" y2="{BOTTOM}" stroke="#6b6b6b"/>',
    ]
    for label, anchor_y in zip(ends, (BOTTOM, TOP), strict=True):
        parts.append(
            f'<text x="{left - 4:.1f}" y="{anchor_y + FONT / 3:.1f}" font-size="{FONT}" '
            f'text-anchor="end" fill="{TEXT_COLOUR}">{escape(label)}</text>'
        )
    previous: tuple[float, float] | None = None
    for index, (number, median, q1, q3) in enumerate(rounds):
        centre = left + slot * (index + 0.5)
        parts.append(
            f'<text x="{centre:.1f}" y="{BOTTOM + FONT + 4:.1f}" font-size="{FONT}" '
            f'text-anchor="middle" fill="{TEXT_COLOUR}">{escape(round_label(number))}</text>'
        )
        if q1 is not None and q3 is not None:
            top, bottom = y(q3), y(q1)
            parts.append(
                f'<rect class="convergence-iqr" x="{centre - 14:.1f}" y="{top:.1f}" width="28" '
                f'height="{max(bottom - top, 1.5):.1f}" fill="{IQR_COLOUR}" fill-opacity=".15" '
                f'stroke="{IQR_COLOUR}"/>'
            )
        if median is not None:
            point = (centre, y(median))
            if previous is not None:
                parts.append(
                    f'<line x1="{previous[0]:.1f}" y1="{previous[1]:.1f}" x2="{point[0]:.1f}" '
                    f'y2="{point[1]:.1f}" stroke="{MEDIAN_COLOUR}" stroke-width="2"/>'
                )
            parts.append(
                f'<circle class="convergence-median" cx="{point[0]:.1f}" cy="{point[1]:.1f}" '
                f'r="4" fill="{MEDIAN_COLOUR}" data-round="{number}" data-median="{median}"/>'
            )
            previous = point
    return Markup(  # noqa: S704 - every text above went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="convergence-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'aria-labelledby="{escape(element_id)}-title {escape(element_id)}-desc">'
        + "".join(parts)
        + "</svg>"
    )
