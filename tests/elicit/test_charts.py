"""The feedback chart: geometry checked against counts computed here, safety, robustness."""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from elicit.expert.charts import ChartLabels, default_format, distribution_svg

SVG = "{http://www.w3.org/2000/svg}"

LABELS = ChartLabels(
    title="Panel answers in round 1",
    description="Median 3, middle half 2 to 4, 12 answers; your answer was 5.",
    median="median",
    iqr="middle half (IQR)",
    own="your answer",
)
LIKERT = [1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5]


def draw(values=LIKERT, **overrides) -> str:
    """A likert chart by default; keyword arguments replace any argument."""
    arguments = {
        "minimum": 1,
        "maximum": 5,
        "discrete": True,
        "median": 3,
        "q1": 2,
        "q3": 4,
        "own": 5,
        "labels": LABELS,
        "element_id": "item-7",
    }
    arguments.update(overrides)
    return distribution_svg(values, **arguments)


def parse(svg: str) -> ET.Element:
    """Parse as XML (fails on malformed output) and check it is one SVG element."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def by_class(root: ET.Element, css_class: str) -> list[ET.Element]:
    """Elements whose class attribute is exactly ``css_class``, in document order."""
    return [element for element in root.iter() if element.get("class") == css_class]


def plot_area(root: ET.Element) -> tuple[float, float]:
    """Left and right ends of the drawn axis: the x range values map onto."""
    (axis,) = by_class(root, "chart-axis")
    return float(axis.get("x1")), float(axis.get("x2"))


def expected_x(root: ET.Element, value: float, low: float, high: float) -> float:
    """Where ``value`` must land if the domain ``low..high`` maps linearly onto the axis."""
    left, right = plot_area(root)
    return left + (value - low) / (high - low) * (right - left)


def bars(root: ET.Element) -> list[ET.Element]:
    """Bar rects from left to right."""
    return sorted(by_class(root, "chart-bar"), key=lambda bar: float(bar.get("x")))


def assert_heights_proportional(root: ET.Element, counts: list[int]) -> None:
    """Each bar's height over the tallest bar's equals its count over the largest count."""
    heights = [float(bar.get("height")) for bar in bars(root)]
    assert len(heights) == len(counts)
    tallest, largest = max(heights), max(counts)
    assert tallest > 0
    for height, count in zip(heights, counts, strict=True):
        assert height / tallest == pytest.approx(count / largest, abs=0.01)
    # Bars stand on the axis.
    axis_y = float(by_class(root, "chart-axis")[0].get("y1"))
    for bar in bars(root):
        assert float(bar.get("y")) + float(bar.get("height")) == pytest.approx(axis_y, abs=0.01)


# --- Geometry ---------------------------------------------------------------------------


def test_discrete_draws_one_bar_per_option_with_heights_proportional_to_counts():
    root = parse(draw())
    counter = Counter(LIKERT)
    counts = [counter[option] for option in range(1, 6)]
    assert len(bars(root)) == 5
    assert_heights_proportional(root, counts)
    assert [int(bar.get("data-count")) for bar in bars(root)] == counts


def test_discrete_bars_are_centred_on_their_options():
    root = parse(draw())
    for option, bar in zip(range(1, 6), bars(root), strict=True):
        centre = float(bar.get("x")) + float(bar.get("width")) / 2
        assert centre == pytest.approx(expected_x(root, option, 0.5, 5.5), abs=0.02)


def test_count_labels_sit_above_non_empty_bars_only():
    root = parse(draw([1, 1, 3, 5, 5, 5]))
    labels = [text.text for text in by_class(root, "chart-count")]
    assert labels == ["2", "1", "3"]


def test_continuous_bins_match_numpy_histogram():
    values = [5, 10, 12, 30, 33, 35, 40, 41, 55, 60, 62, 64, 70, 90, 100]
    root = parse(draw(values, minimum=0, maximum=100, discrete=False, bins=10, own=45))
    counts, _ = np.histogram(values, bins=10, range=(0, 100))
    assert len(bars(root)) == 10
    assert_heights_proportional(root, list(counts))
    assert [int(bar.get("data-count")) for bar in bars(root)] == list(counts)


def test_continuous_bar_edges_follow_the_bins():
    root = parse(draw([1.0, 9.0], minimum=0, maximum=10, discrete=False, bins=4))
    for index, bar in enumerate(bars(root)):
        left = expected_x(root, index * 2.5, 0, 10)
        right = expected_x(root, (index + 1) * 2.5, 0, 10)
        assert left <= float(bar.get("x")) < float(bar.get("x")) + float(bar.get("width")) <= right
    assert [int(bar.get("data-count")) for bar in bars(root)] == [1, 0, 0, 1]


@pytest.mark.parametrize("bins", [1, 3, 7, 20])
def test_number_of_bins_is_respected(bins):
    root = parse(draw([0.5, 2.5], minimum=0, maximum=10, discrete=False, bins=bins))
    assert len(bars(root)) == bins


def test_iqr_band_spans_q1_to_q3_on_a_continuous_scale():
    root = parse(draw([10, 50, 90], minimum=0, maximum=200, discrete=False, q1=30, q3=120))
    (band,) = by_class(root, "chart-iqr")
    left = float(band.get("x"))
    assert left == pytest.approx(expected_x(root, 30, 0, 200), abs=0.01)
    right = left + float(band.get("width"))
    assert right == pytest.approx(expected_x(root, 120, 0, 200), abs=0.02)


def test_iqr_band_on_a_discrete_scale_uses_option_centres():
    root = parse(draw(q1=2, q3=3.5))
    (band,) = by_class(root, "chart-iqr")
    assert float(band.get("x")) == pytest.approx(expected_x(root, 2, 0.5, 5.5), abs=0.01)
    right = float(band.get("x")) + float(band.get("width"))
    assert right == pytest.approx(expected_x(root, 3.5, 0.5, 5.5), abs=0.02)


def test_iqr_band_is_drawn_behind_the_bars():
    root = parse(draw())
    order = [element.get("class") for element in root]
    assert order.index("chart-iqr") < order.index("chart-bar")


def test_median_line_is_vertical_at_the_median():
    root = parse(draw([10, 50, 90], minimum=0, maximum=100, discrete=False, median=37.5))
    (line,) = by_class(root, "chart-median")
    assert line.get("x1") == line.get("x2")
    assert float(line.get("x1")) == pytest.approx(expected_x(root, 37.5, 0, 100), abs=0.01)


def test_own_answer_has_a_dashed_line_and_a_shape_at_its_value():
    root = parse(draw(own=4))
    (line,) = by_class(root, "chart-own")
    (marker,) = by_class(root, "chart-own-marker")
    x = expected_x(root, 4, 0.5, 5.5)
    assert float(line.get("x1")) == pytest.approx(x, abs=0.01)
    assert line.get("stroke-dasharray")
    assert marker.tag == f"{SVG}polygon"
    tip_x = float(marker.get("points").split()[0].split(",")[0])
    assert tip_x == pytest.approx(x, abs=0.01)
    # The shape is named in words too, so the cue is never colour alone.
    assert marker.find(f"{SVG}title").text == "your answer"
    assert "your answer" in [text.text for text in by_class(root, "chart-legend")]


def test_own_answer_is_absent_when_not_given():
    root = parse(draw(own=None))
    assert by_class(root, "chart-own") == []
    assert by_class(root, "chart-own-marker") == []
    assert "your answer" not in [text.text for text in by_class(root, "chart-legend")]


def test_none_statistics_are_omitted_with_their_legend_entries():
    root = parse(draw(median=None, q1=None, q3=None, own=None))
    for css_class in ("chart-median", "chart-iqr", "chart-own", "chart-legend"):
        assert by_class(root, css_class) == []
    assert len(bars(root)) == 5


def test_iqr_needs_both_quartiles():
    assert by_class(parse(draw(q1=2, q3=None)), "chart-iqr") == []
    assert by_class(parse(draw(q1=None, q3=4)), "chart-iqr") == []


def test_legend_lists_what_is_drawn_in_order():
    root = parse(draw())
    assert [text.text for text in by_class(root, "chart-legend")] == [
        "middle half (IQR)",
        "median",
        "your answer",
    ]


# --- Axis labels ---------------------------------------------------------------------------


def tick_texts(root: ET.Element) -> list[str]:
    return [text.text for text in by_class(root, "chart-tick")]


def option_texts(root: ET.Element) -> list[str]:
    return [text.text for text in by_class(root, "chart-option")]


def test_discrete_ticks_name_every_option():
    assert tick_texts(parse(draw())) == ["1", "2", "3", "4", "5"]


def test_short_option_labels_are_shown_under_every_option():
    labels = replace(LABELS, axis_labels=("No", "Low", "Mid", "High", "Yes"))
    assert option_texts(parse(draw(labels=labels))) == ["No", "Low", "Mid", "High", "Yes"]


def test_long_option_labels_fall_back_to_the_two_ends():
    long = ("Very unlikely", "Unlikely", "As likely as not", "Likely", "Very likely")
    root = parse(draw(labels=replace(LABELS, axis_labels=long)))
    ends = by_class(root, "chart-option")
    assert [text.text for text in ends] == ["Very unlikely", "Very likely"]
    assert [text.get("text-anchor") for text in ends] == ["start", "end"]


def test_option_labels_that_cannot_fit_or_do_not_match_are_dropped():
    huge = tuple("an extremely long option label that cannot fit anywhere" for _ in range(5))
    assert option_texts(parse(draw(labels=replace(LABELS, axis_labels=huge)))) == []
    three = ("a", "b", "c")
    assert option_texts(parse(draw(labels=replace(LABELS, axis_labels=three)))) == []


def test_many_options_thin_the_tick_numbers():
    root = parse(draw(list(range(101)), minimum=0, maximum=100, median=50, q1=25, q3=75))
    ticks = tick_texts(root)
    assert len(bars(root)) == 101
    assert ticks[0] == "0"
    assert 3 <= len(ticks) < 101


def test_continuous_ticks_are_minimum_middle_maximum_formatted_by_the_caller():
    root = parse(
        draw(
            [0.5, 2.5],
            minimum=0,
            maximum=5,
            discrete=False,
            format_number=lambda value: f"{value:.1f}".replace(".", ","),
        )
    )
    assert tick_texts(root) == ["0,0", "2,5", "5,0"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (3, "3"), (2.5, "2.5"), (-1.0, "-1"), (1 / 3, "0.33"), (0.001, "0.001")],
)
def test_default_format_is_plain(value, text):
    assert default_format(value) == text


# --- Accessibility and safety ---------------------------------------------------------------


def test_svg_is_an_image_labelled_by_its_title_and_description():
    root = parse(draw())
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == LABELS.title
    assert desc.text == LABELS.description
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")]
    assert title.get("id") != desc.get("id")
    assert title.get("id").startswith("item-7")


def test_svg_scales_with_its_container():
    root = parse(draw())
    x, y, width, height = (float(part) for part in root.get("viewBox").split())
    assert (x, y, width) == (0, 0, 320)
    assert 80 <= height <= 200
    assert root.get("width") == "100%"
    assert root.get("height") is None


def test_everything_drawn_fits_inside_the_viewbox():
    labels = replace(
        LABELS,
        iqr="mitad central (rango intercuartílico)",
        own="su respuesta anterior",
        axis_labels=("Muy improbable", "b", "c", "d", "Muy probable"),
    )
    root = parse(draw(labels=labels))
    width, height = (float(part) for part in root.get("viewBox").split()[2:])
    for element in root.iter():
        for name in ("x", "x1", "x2"):
            if element.get(name) is not None:
                assert 0 <= float(element.get(name)) <= width
        for name in ("y", "y1", "y2"):
            if element.get(name) is not None:
                assert 0 <= float(element.get(name)) <= height


def test_labels_are_escaped():
    attack = '<script>alert("x")</script>&'
    labels = ChartLabels(attack, attack, attack, attack, attack, (attack,) * 5)
    svg = draw(labels=labels)
    assert "<script" not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == attack
    assert attack in [text.text for text in by_class(root, "chart-legend")]


def test_element_id_is_escaped_in_attributes():
    root = parse(draw(element_id='x" onload="alert(1)'))
    assert root.get("onload") is None
    assert root.find(f"{SVG}title").get("id") == 'x" onload="alert(1)-title'


@pytest.mark.parametrize(
    "svg",
    [
        pytest.param(lambda: draw(), id="likert"),
        pytest.param(lambda: draw([], median=None, q1=None, q3=None), id="empty"),
        pytest.param(
            lambda: draw([1, 50, 99], minimum=0, maximum=100, discrete=False), id="continuous"
        ),
    ],
)
def test_nothing_a_strict_content_security_policy_would_block(svg):
    text = svg()
    for element in parse(text).iter():
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
        assert not any("href" in name for name in element.attrib)
        assert element.tag.removeprefix(SVG) not in {"script", "foreignObject", "image", "a"}
    assert "<script" not in text
    assert "url(" not in text
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_returns_markup_so_templates_do_not_escape_it_again():
    svg = draw()
    assert isinstance(svg, Markup)
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_output_is_small():
    assert len(draw(list(range(101)), minimum=0, maximum=100)) < 40_000
    assert len(draw()) < 6_000


# --- Robustness ---------------------------------------------------------------------------


def test_empty_values_draw_an_axis_and_the_description():
    root = parse(draw([], median=None, q1=None, q3=None, own=None))
    assert len(by_class(root, "chart-axis")) == 1
    assert all(float(bar.get("height")) == 0 for bar in bars(root))
    assert len(bars(root)) == 5
    shown = " ".join(text.text for text in by_class(root, "chart-empty"))
    assert shown == LABELS.description


def test_a_single_value():
    root = parse(draw([4], median=4, q1=4, q3=4, own=4))
    assert [int(bar.get("data-count")) for bar in bars(root)] == [0, 0, 0, 1, 0]
    (band,) = by_class(root, "chart-iqr")
    assert float(band.get("width")) == 0


def test_minimum_equal_to_maximum():
    discrete = parse(draw([3, 3, 3], minimum=3, maximum=3, median=3, q1=3, q3=3, own=3))
    assert [int(bar.get("data-count")) for bar in bars(discrete)] == [3]
    continuous = parse(
        draw([7.0, 7.0], minimum=7, maximum=7, discrete=False, median=7, q1=7, q3=7, own=7)
    )
    assert len(bars(continuous)) == 10
    assert sum(int(bar.get("data-count")) for bar in bars(continuous)) == 2
    (line,) = by_class(continuous, "chart-median")
    left, right = plot_area(continuous)
    assert float(line.get("x1")) == pytest.approx((left + right) / 2, abs=0.01)


def test_discrete_values_between_options_round_half_up():
    root = parse(draw([2.5, 3.5, 1.2, 4.49]))
    assert [int(bar.get("data-count")) for bar in bars(root)] == [1, 0, 1, 2, 0]


def test_values_outside_the_scale_go_into_the_edge_bars():
    discrete = parse(draw([-3, 0, 1, 3, 7, 100]))
    assert [int(bar.get("data-count")) for bar in bars(discrete)] == [3, 0, 1, 0, 2]
    continuous = parse(draw([-5.0, 50.0, 1e9], minimum=0, maximum=100, discrete=False, bins=4))
    assert [int(bar.get("data-count")) for bar in bars(continuous)] == [1, 0, 1, 1]


def test_statistics_outside_the_scale_are_clamped_onto_it():
    root = parse(draw(own=9, median=-2))
    left, right = plot_area(root)
    assert float(by_class(root, "chart-own")[0].get("x1")) == pytest.approx(
        expected_x(root, 5, 0.5, 5.5), abs=0.01
    )
    assert float(by_class(root, "chart-median")[0].get("x1")) == pytest.approx(
        expected_x(root, 1, 0.5, 5.5), abs=0.01
    )
    assert left < right


def test_nan_is_ignored_everywhere():
    nan = float("nan")
    root = parse(draw([nan, 2, nan, 2, 4], median=nan, q1=nan, q3=4, own=nan))
    assert [int(bar.get("data-count")) for bar in bars(root)] == [0, 2, 0, 1, 0]
    for css_class in ("chart-median", "chart-iqr", "chart-own"):
        assert by_class(root, css_class) == []
    all_nan = parse(draw([nan, nan], median=None, q1=None, q3=None, own=None))
    assert by_class(all_nan, "chart-empty")


def test_quartiles_given_in_the_wrong_order_are_swapped():
    assert draw(q1=4, q3=2) == draw(q1=2, q3=4)


def test_bounds_given_in_the_wrong_order_are_swapped():
    assert draw(minimum=5, maximum=1) == draw(minimum=1, maximum=5)


def test_extreme_bounds_do_not_raise():
    for minimum, maximum in [(0, 5e-324), (1e15, 1e15 + 0.1), (-1e308, 1e308)]:
        svg = draw([minimum, maximum], minimum=minimum, maximum=maximum, discrete=False)
        assert sum(int(bar.get("data-count")) for bar in bars(parse(svg))) == 2
        assert "nan" not in svg


def test_non_finite_bounds_do_not_raise():
    for minimum, maximum in [(float("nan"), 5), (1, float("inf")), (float("nan"), float("nan"))]:
        parse(draw(minimum=minimum, maximum=maximum, discrete=False))


def test_output_is_deterministic_and_independent_of_the_order_of_values():
    values = [0.3, 12.5, 12.5, 40.0, 77.7, 99.0, 100.0, 5.0]
    shuffled = values[:]
    random.Random(4).shuffle(shuffled)
    arguments = {"minimum": 0, "maximum": 100, "discrete": False, "median": 26.25}
    first = draw(values, **arguments)
    assert first == draw(values, **arguments)
    assert first == draw(shuffled, **arguments)
    assert first == draw(tuple(reversed(values)), **arguments)
    assert draw(LIKERT) == draw(sorted(LIKERT, reverse=True))


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)
statistic = st.none() | st.floats(min_value=-1e6, max_value=1e6) | st.just(float("nan"))


@given(
    values=st.lists(finite_or_not, max_size=40),
    minimum=st.floats(min_value=-1e6, max_value=1e6),
    span=st.floats(min_value=0, max_value=1e6),
    discrete=st.booleans(),
    median=statistic,
    q1=statistic,
    q3=statistic,
    own=statistic,
    bins=st.integers(min_value=-3, max_value=150),
)
def test_any_input_gives_well_formed_svg_counting_every_answer(
    values, minimum, span, discrete, median, q1, q3, own, bins
):
    svg = distribution_svg(
        values,
        minimum=minimum,
        maximum=minimum + span,
        discrete=discrete,
        median=median,
        q1=q1,
        q3=q3,
        own=own,
        labels=LABELS,
        bins=bins,
        element_id="p",
    )
    root = parse(svg)
    counted = sum(int(bar.get("data-count")) for bar in bars(root))
    assert counted == sum(1 for value in values if not math.isnan(value))
    assert "nan" not in svg.lower()
    assert "inf" not in svg.lower()
    assert bool(by_class(root, "chart-own")) == (own is not None and not math.isnan(own))


def test_a_discrete_scale_too_wide_for_one_bar_per_option_is_binned():
    root = parse(draw([0, 500, 1000], minimum=0, maximum=1000, bins=10, median=500))
    assert len(bars(root)) == 10
    assert [int(bar.get("data-count")) for bar in bars(root)] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]


@given(
    values=st.lists(st.floats(min_value=-1e3, max_value=1e3), max_size=60),
    minimum=st.floats(min_value=-1e3, max_value=1e3),
    span=st.floats(min_value=1e-3, max_value=1e3),
    bins=st.integers(min_value=1, max_value=40),
)
def test_continuous_counts_equal_numpy_histogram_of_the_clipped_values(values, minimum, span, bins):
    maximum = minimum + span
    svg = draw(values, minimum=minimum, maximum=maximum, discrete=False, bins=bins)
    expected, _ = np.histogram(
        np.clip(values, minimum, maximum), bins=bins, range=(minimum, maximum)
    )
    assert [int(bar.get("data-count")) for bar in bars(parse(svg))] == list(expected)
