"""Every chart of a study draws each component on its own scale (issue 13, point 6).

A study holds one item of every kind, with a numeric estimate of bounds 0–200,000
answered in tens of thousands and its confidence from 50 to 100 %.  After two closed
rounds every chart is drawn: the results page's SVG charts (read back from their tick
texts and coordinates) and the report's matplotlib figures (read back from each Axes'
limits).  Each axis must cover the data it shows and be the component's own scale: the
confidence was drawn on the estimate's 0–200,000 axis, every bar at 0.
"""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from elicit.extensions import db
from elicit.facilitate.report import _number as written
from elicit.facilitate.report_plots import convergence_figure, distribution_figure, pooled_figure
from elicit.facilitate.results import _charts as results_charts
from surveys.answers import submit_responses
from surveys.models import Round, RoundSummary
from surveys.panel import panelist_by_pseudonym
from surveys.report import study_report
from surveys.results import study_results
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import log_in, without_tokens
from tests.report_support import two_round_study

SVG = "{http://www.w3.org/2000/svg}"
SOURCE = """\
[study]
slug = "every-kind"
languages = ["en"]
max_rounds = 3
title = { en = "One item of every kind" }

[consensus]
criteria = [{ kind = "iqr", max = 1 }]

[[items]]
key = "agree"
kind = "likert"
scale = { min = 1, max = 7 }
text = { en = "Do you agree?" }
labels.en = [
    "Strongly disagree", "Disagree", "Rather disagree", "Neither agree nor disagree",
    "Rather agree", "Agree", "Strongly agree",
]

[[items]]
key = "chance"
kind = "probability"
text = { en = "How likely?" }

[[items]]
key = "futures"
kind = "scenario_set"
text = { en = "Which future?" }

[[items.scenarios]]
key = "calm"
text = { en = "Calm" }

[[items.scenarios]]
key = "storm"
text = { en = "Storm" }

[[items]]
key = "tonnes"
kind = "numeric_estimate"
text = { en = "How many tonnes?" }
unit = { en = "tonnes" }
bounds = { min = 0, max = 200000 }
consensus = { criteria = [{ kind = "iqr", max = 10000 }] }

[[items]]
key = "order"
kind = "ranking"
text = { en = "Order the causes" }
consensus = { criteria = [{ kind = "iqr", max = 1 }] }

[[items.options]]
key = "cost"
text = { en = "Cost" }

[[items.options]]
key = "time"
text = { en = "Time" }

[[items.options]]
key = "risk"
text = { en = "Risk" }

[[items]]
key = "notes"
kind = "open_text"
text = { en = "Anything else?" }
"""

#: Each component's own scale, where it has a fixed one.
FIXED = {
    ("agree", ""): (1, 7),
    ("chance", ""): (0, 100),
    ("futures", "calm"): (0, 100),
    ("futures", "storm"): (0, 100),
    ("tonnes", "confidence"): (50, 100),
    ("order", "cost"): (1, 3),
    ("order", "time"): (1, 3),
    ("order", "risk"): (1, 3),
}
ESTIMATE_PARTS = ("lowest", "best", "highest")


@pytest.fixture
def every_kind(app, client, make_study, make_panel, make_user):
    """Two closed rounds of nine panelists; estimates in tens of thousands of tonnes."""
    study = make_study(SOURCE)
    definition = study_definition(study)
    links = make_panel(study, 9)
    rng = random.Random(13)
    for _ in (1, 2):
        open_round(db.session, study)
        for link in links:
            answers = simulated_answers(rng, definition)
            low = rng.randrange(20_000, 60_000, 500)
            best = low + rng.randrange(0, 40_000, 500)
            answers |= {
                "tonnes.lowest": str(low),
                "tonnes.best": str(best),
                "tonnes.highest": str(best + rng.randrange(0, 60_000, 500)),
                "tonnes.confidence": str(rng.choice([55, 60, 75, 80, 95, 100])),
            }
            panelist = panelist_by_pseudonym(db.session, study, link.pseudonym)
            submit_responses(db.session, panelist, answers)
        close_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    return study


def _values(study) -> dict[tuple[str, str], list[float]]:
    """Every answer of every component over both rounds, as stored."""
    return {
        (entry.key, component): [v for result in history for v in result.values]
        for entry in study_results(db.session, study, "en", values_up_to=1_000)
        for component, history in entry.components.items()
    }


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _charts(page: str) -> dict[str, ET.Element]:
    """Every inline SVG chart of the page by its title's id prefix."""
    charts = {}
    for match in re.finditer(r"<svg .*?</svg>", page, re.DOTALL):
        root = ET.fromstring(match.group(0))
        title = root.find(f"{SVG}title")
        assert title is not None
        charts[title.get("id", "").removesuffix("-title")] = root
    return charts


def _distribution_domain(root: ET.Element) -> tuple[float, float]:
    """The value range of a distribution chart's axis, read from its tick texts."""
    ticks = [
        _number(t.text or "") for t in root.iter(f"{SVG}text") if t.get("class") == "chart-tick"
    ]
    return min(ticks), max(ticks)


def _convergence_domain(root: ET.Element) -> tuple[float, float]:
    """The value range of a convergence chart's axis: its two end labels."""
    ends = [_number(t.text or "") for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    return min(ends), max(ends)


def _covers(domain: tuple[float, float], values: list[float]) -> bool:
    return domain[0] <= min(values) and max(values) <= domain[1]


def _near(domain: tuple[float, float], scale: tuple[float, float]) -> bool:
    """``domain`` is ``scale``, give or take a little padding."""
    room = (scale[1] - scale[0]) * 0.1 + 0.5
    return abs(domain[0] - scale[0]) <= room and abs(domain[1] - scale[1]) <= room


def test_the_results_page_draws_every_component_on_its_own_scale(client, every_kind):
    page = client.get("/console/studies/every-kind/results")
    assert page.status_code == 200
    charts = _charts(page.text)
    values = _values(every_kind)
    estimate_domains = set()
    for (key, component), shown in values.items():
        name = f"{key}-{component or 'value'}"
        domains = [_distribution_domain(charts[f"distribution-{name}-{r}"]) for r in (1, 2)]
        convergence = charts[f"convergence-{name}"]
        domains.append(_convergence_domain(convergence))
        medians = [float(c.get("data-median")) for c in convergence.iter(f"{SVG}circle")]
        assert len(medians) == 2, name
        for domain in domains:
            assert _covers(domain, shown + medians), (name, domain, shown)
            if (key, component) in FIXED:
                assert _near(domain, FIXED[key, component]), (name, domain)
        if key == "tonnes" and component in ESTIMATE_PARTS:
            estimate_domains.update(domains)
    # The lowest, best and highest estimates share one axis, the span of their answers
    # (not the bounds 0–200,000, which would squeeze them into a few bars).
    answers = [v for part in ESTIMATE_PARTS for v in values["tonnes", part]]
    span = max(answers) - min(answers)
    assert len({round(low, -2) for low, _ in estimate_domains}) == 1, estimate_domains
    for low, high in estimate_domains:
        assert high - low < 1.3 * span, (low, high, span)
    # The confidence is in its own bars: answers of 55 and 100 % are not in one bar.
    bars = [
        int(rect.get("data-count"))
        for rect in charts["distribution-tonnes-confidence-1"].iter(f"{SVG}rect")
        if rect.get("class") == "chart-bar"
    ]
    assert max(bars) < sum(bars), bars


def _value_limits(axis: Axes, horizontal: bool) -> tuple[float, float]:
    low, high = axis.get_xlim() if horizontal else axis.get_ylim()
    return min(low, high), max(low, high)


def _data_limits(axis: Axes, horizontal: bool) -> tuple[float, float]:
    """The span of everything drawn in ``axis`` along its value axis."""
    box = axis.dataLim
    return (box.x0, box.x1) if horizontal else (box.y0, box.y1)


def _assert_nothing_clipped(figure: Figure, name: str) -> None:
    """Every text of ``figure`` (tick labels, titles, legend) lies inside it."""
    renderer = FigureCanvasAgg(figure).get_renderer()
    width, height = figure.get_size_inches()
    inked = figure.get_tightbbox(renderer)
    assert inked.x0 >= -0.01 and inked.y0 >= -0.01, (name, inked)
    assert inked.x1 <= width + 0.01 and inked.y1 <= height + 0.01, (name, inked, width, height)


def test_the_report_draws_every_component_on_its_own_scale(app, every_kind):
    report = study_report(db.session, every_kind, "en")
    values = _values(every_kind)
    kinds = set()
    with app.test_request_context():
        for item in report.items:
            kinds.add(item.kind)
            distribution, _, _ = distribution_figure(item, written)
            convergence, _, _ = convergence_figure(item, written)
            figures = [("distribution", distribution), ("convergence", convergence)]
            if item.kind == "scenario_set":
                rows = report.pooled[report.pooled["item"] == item.key].to_dict("records")
                figures.append(("pooled", pooled_figure(item, rows, written)[0]))
            for name, figure in figures:
                _assert_nothing_clipped(figure, f"{item.key} {name}")
                panels = [axis for axis in figure.axes if axis.get_visible()]
                assert panels, (item.key, name)
                for axis in panels:
                    # Strips and bars lie along x; convergence draws values up the y axis.
                    horizontal = name != "convergence"
                    shown = _value_limits(axis, horizontal)
                    drawn = _data_limits(axis, horizontal)
                    assert shown[0] <= drawn[0] + 1e-9 and drawn[1] <= shown[1] + 1e-9, (
                        item.key,
                        name,
                        axis.get_title(),
                        shown,
                        drawn,
                    )
            estimate_axes = []
            if item.kind == "numeric_estimate":
                titles = {axis.get_title(): axis for axis in distribution.axes}
                confidence = _value_limits(titles["Confidence (%)"], True)
                assert _covers(confidence, values["tonnes", "confidence"])
                assert _near(confidence, (50, 100)), confidence
                estimate_axes = [
                    _value_limits(titles[title], True)
                    for title in ("Lowest", "Best guess", "Highest")
                ]
                assert len(set(estimate_axes)) == 1, estimate_axes
                answers = [v for part in ESTIMATE_PARTS for v in values["tonnes", part]]
                assert _covers(estimate_axes[0], answers)
                panels = {axis.get_title(): axis for axis in convergence.axes}
                assert _near(_value_limits(panels["Confidence (%)"], False), (50, 100))
                assert _covers(_value_limits(panels["Estimate"], False), answers)
    assert kinds == {"likert", "probability", "scenario_set", "numeric_estimate", "ranking"}


def test_no_report_plot_of_the_demo_cuts_a_label(app, make_study):
    """The demo's long likert labels, scenario names and estimates all fit their figure."""
    run = two_round_study(make_study)
    report = study_report(db.session, run.study, "en")
    with app.test_request_context():
        for item in report.items:
            figures = [distribution_figure(item, written)[0], convergence_figure(item, written)[0]]
            if item.kind == "scenario_set":
                rows = report.pooled[report.pooled["item"] == item.key].to_dict("records")
                figures.append(pooled_figure(item, rows, written)[0])
            for figure in figures:
                _assert_nothing_clipped(figure, item.key)


# The results page draws each distribution from its tally (issue 15): the same charts,
# byte for byte, as from every answer, and a summary stored before tallies existed is
# tallied when read.


def test_a_close_stores_each_distribution_as_its_distinct_answers_and_their_counts(every_kind):
    summaries = db.session.execute(
        db.select(RoundSummary).join(RoundSummary.round).where(Round.study_id == every_kind.id)
    ).scalars()
    checked = 0
    for summary in summaries:
        distributions = summary.statistics["distributions"]
        assert set(summary.tallies) == set(distributions)
        for key, components in distributions.items():
            assert set(summary.tallies[key]) == set(components)
            for component, answers in components.items():
                counted = summary.tallies[key][component]
                assert counted["values"] == sorted(set(answers))
                expanded = [
                    value
                    for value, count in zip(counted["values"], counted["counts"], strict=True)
                    for _ in range(count)
                ]
                assert expanded == sorted(answers)
                checked += 1
    assert checked == 22  # 11 distributions (an item or a part of one) in each round


def test_charts_drawn_from_tallies_are_those_drawn_from_every_answer(app, every_kind):
    definition = study_definition(every_kind)
    bounds = {item.key: item.bounds for item in definition.items}
    tallied = study_results(db.session, every_kind, "en")
    answers = study_results(db.session, every_kind, "en", values_up_to=1_000)
    assert [entry.key for entry in tallied] == [entry.key for entry in answers]
    repeated = 0
    for by_tally, by_answer in zip(tallied, answers, strict=True):
        for component, history in by_tally.components.items():
            for result, full in zip(history, by_answer.components[component], strict=True):
                assert full.counts is None and result.counts is not None
                assert sum(result.counts) == len(full.values) == result.statistics["n"]
                repeated += len(result.values) < len(full.values)
        with app.test_request_context():
            assert results_charts(by_tally, bounds[by_tally.key]) == results_charts(
                by_answer, bounds[by_answer.key]
            )
    assert repeated > 10  # most distributions have answers given more than once


def test_a_summary_stored_without_tallies_draws_the_same_page(client, every_kind):
    shown = client.get("/console/studies/every-kind/results")
    assert shown.status_code == 200
    db.session.execute(
        db.update(RoundSummary)
        .where(
            RoundSummary.round_id.in_(db.select(Round.id).where(Round.study_id == every_kind.id))
        )
        .values(tallies=None, glance=None)
    )
    db.session.commit()
    again = client.get("/console/studies/every-kind/results")
    assert again.status_code == 200
    assert _charts(again.text).keys() == _charts(shown.text).keys()
    assert without_tokens(again.text) == without_tokens(shown.text)
