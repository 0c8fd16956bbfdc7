"""The report page and its download: every promised plot is there (one distribution and
one convergence plot per summarised item, one pooled plot per scenario set) as a
``data:`` SVG image with alt text, the download needs no other file, and neither names
any panelist."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest

from elicit.extensions import db
from elicit.facilitate.report_plots import (
    convergence_plot,
    distribution_plot,
    pooled_plot,
    report_plots,
)
from surveys.report import study_report
from surveys.rounds import open_round
from tests.conftest import log_in
from tests.report_support import CAPTIONS, RETIRED, expected_plots, secrets_of, two_round_study

SVG_PREFIX = "data:image/svg+xml;base64,"


class ImageParser(HTMLParser):
    """Collect every ``<img>``'s attributes and every figure caption's text."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.captions: list[str] = []
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append({key: value or "" for key, value in attrs})
        elif tag == "figcaption":
            self._caption = []

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption" and self._caption is not None:
            self.captions.append(" ".join("".join(self._caption).split()))
            self._caption = None


def images_of(html: str) -> ImageParser:
    parser = ImageParser()
    parser.feed(html)
    return parser


@pytest.fixture
def finished(app, client, make_study, make_user, built_once):
    """Two closed rounds of the demo; a researcher member logged in on ``client``."""
    run = two_round_study(make_study, built_once=built_once)
    make_user("analyst@example.org", role="researcher", studies=[run.study])
    assert log_in(client, "analyst@example.org").status_code == 302
    return run


def check_plots(html: str, study, *, english: bool = True) -> ImageParser:
    """Every promised plot is an SVG image with alt text and a caption naming its item
    (worded as below when the page is in ``english``)."""
    parsed = images_of(html)
    plots = {(image["data-plot"], image["data-item"]): image for image in parsed.images}
    assert len(plots) == len(parsed.images), "one image per plot"
    assert set(plots) == expected_plots(study)
    for (kind, key), image in plots.items():
        assert image["src"].startswith(SVG_PREFIX), (kind, key)
        svg = base64.b64decode(image["src"].removeprefix(SVG_PREFIX))
        root = ElementTree.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert not re.search(rb'href="(?!#)', svg), "an SVG refers to another resource"
        assert key in image["alt"] and len(image["alt"]) > 60, image["alt"]
        assert int(image["width"]) > 0 and int(image["height"]) > 0
    assert len(parsed.captions) == len(plots)
    for kind, key in plots:
        assert any(caption.endswith(key) for caption in parsed.captions), key
        if not english:
            continue
        wording = CAPTIONS[kind].format(item=key)
        assert any(caption.endswith(wording) for caption in parsed.captions), wording
    return parsed


def test_the_report_page_shows_every_plot_and_no_panelist(app, client, finished):
    run = finished
    slug = run.study.slug
    response = client.get(f"/console/studies/{slug}/report")
    assert response.status_code == 200
    html = response.text
    parsed = check_plots(html, run.study)
    assert len(parsed.images) == 2 * 29 + 1  # 29 numeric items of the demo, 1 scenario set
    for secret in secrets_of(run):
        assert secret not in html, secret
    # The served page obeys the Content-Security-Policy: no inline style or SVG.
    assert "<svg" not in html and "<style" not in html and " style=" not in html
    assert 'rel="stylesheet"' in html
    for section in ("methods", "consensus", "stability", "pooled", "items", "methods-table"):
        assert f'id="{section}"' in html
    assert f'id="item-{RETIRED}"' in html and "Agreed enough after round 1" in html
    assert "Hyndman and Fan (1996) type 7" in html
    assert "fewer than 15%" in html
    assert f'href="/console/studies/{slug}/report/download"' in html


def test_plots_are_reproducible_byte_for_byte(app, finished):
    report = study_report(db.session, finished.study, "en")
    scenarios = report.scenario_sets[0]
    rows = report.pooled[report.pooled["item"] == scenarios.key].to_dict("records")
    with app.test_request_context():
        for draw in (distribution_plot, convergence_plot):
            assert draw(scenarios).svg == draw(scenarios).svg
        assert pooled_plot(scenarios, rows).svg == pooled_plot(scenarios, rows).svg
        # Plots of the same data in the same language are drawn once, then reused.
        one_item = replace(report, items=[scenarios])
        first, second = report_plots(one_item), report_plots(one_item)
        assert set(first[scenarios.key]) == {"distribution", "convergence", "pooled"}
        plots, again = first[scenarios.key], second[scenarios.key]
        assert all(plots[kind] is again[kind] for kind in plots)
        spanish = report_plots(replace(one_item, language="es"))
        assert spanish[scenarios.key]["pooled"] is not first[scenarios.key]["pooled"]


def test_the_download_is_one_self_contained_file_in_the_chosen_language(app, client, finished):
    run = finished
    slug = run.study.slug
    response = client.get(f"/console/studies/{slug}/report/download?lang=es")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{slug}-report.html"'
    html = response.text
    check_plots(html, run.study, english=False)
    assert "<style>" in html and ".report-plot" in html  # the stylesheet, inline
    assert not re.search(r'(?:src|href)="(?!#|data:)', html), "the file refers to another file"
    assert "Log out" not in html and "analyst@example.org" not in html  # no console chrome
    for secret in secrets_of(run):
        assert secret not in html, secret
    assert '<html lang="es">' in html
    assert "Muy baja" in html  # the scale's labels, in the plots' alt text


def test_study_and_results_pages_link_to_the_report(app, client, finished):
    slug = finished.study.slug
    for page in (f"/console/studies/{slug}", f"/console/studies/{slug}/results"):
        assert f'href="/console/studies/{slug}/report"' in client.get(page).text


def test_a_report_before_any_round_closed(app, client, make_study, make_panel, make_user):
    study = make_study()
    make_panel(study, 3)
    open_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    response = client.get(f"/console/studies/{study.slug}/report")
    assert response.status_code == 200
    assert "No round has closed yet" in response.text
    assert "Round 1 is still open" in response.text
    assert "<img" not in response.text
    assert client.get("/console/studies/nope/report").status_code == 404


def test_a_round_of_many_answers_is_read_and_drawn_from_its_statistics(
    app, client, finished, monkeypatch
):
    """Past ``ANSWERS_SHOWN`` answers to a question in a round, the report reads none of
    the round's answers and draws each distribution from its stored statistics: a line
    for the range, the IQR and the median, said in words, not a dot and a number per
    answer (at 10,000 panelists the strips made a 23 MB page).  Here the limit is
    lowered to fewer answers than the study has."""
    import elicit.facilitate.report_plots as plots
    import surveys.report as report_module

    run = finished
    full = study_report(db.session, run.study, "en")
    estimate = next(item for item in full.items if item.kind == "numeric_estimate")
    answers = {len(entry.values) for history in estimate.components.values() for entry in history}
    assert answers and min(answers) > 3  # below the limit, every answer is read
    monkeypatch.setattr(report_module, "ANSWERS_SHOWN", 3)
    monkeypatch.setattr(plots, "ANSWERS_SHOWN", 3)
    summarised = study_report(db.session, run.study, "en")
    assert all(
        entry.values == ()
        for item in summarised.items
        for history in item.components.values()
        for entry in history
    )
    # The statistics are the same, read from the same stored summaries.
    assert [
        [[entry.statistics for entry in history] for history in item.components.values()]
        for item in summarised.items
    ] == [
        [[entry.statistics for entry in history] for history in item.components.values()]
        for item in full.items
    ]
    html = client.get(f"/console/studies/{run.study.slug}/report").text
    parsed = check_plots(html, run.study)
    (image,) = [
        image
        for image in parsed.images
        if image["data-plot"] == "distribution" and image["data-item"] == estimate.key
    ]
    alt = image["alt"]
    assert "Range, IQR and median of the answers in each round" in alt
    assert "at most 3 answers per question" in alt
    first = next(iter(estimate.components.values()))[0]
    n = first.statistics["n"]
    assert f"Round 1, {n} answers: median " in alt and ", from " in alt
    svg = base64.b64decode(image["src"].removeprefix(SVG_PREFIX)).decode()
    assert "range of the answers" in svg and ">answer<" not in svg
