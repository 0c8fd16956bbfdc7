"""In Chromium: the report of the demo study after two simulated rounds is rendered to
PDF with every plot present, has no serious accessibility violation, and its download
opens on its own, without the server or the internet."""

from __future__ import annotations

import io
import unicodedata

import pypdf
import pytest

from tests.conftest import PASSWORD
from tests.e2e.support import axe_violations, describe_violations, serve_axe
from tests.report_support import CAPTIONS, expected_plots, secrets_of, two_round_study

pytestmark = pytest.mark.e2e

RESEARCHER = "analyst@example.org"
BLOCKING = {"serious", "critical"}
#: Drawing some forty plots takes seconds on a busy machine: more than the pages'
#: default 10 s may pass before the report has arrived.
REPORT_TIMEOUT = 90_000

PLOTS = """() => Array.from(document.querySelectorAll("img.report-plot")).map(image =>
  [image.dataset.plot, image.dataset.item, image.complete && image.naturalWidth > 0])"""
ALL_LOADED = "() => Array.from(document.images).every(image => image.complete)"


def words(text: str) -> str:
    """PDF text with ligatures undone (ﬁ → fi) and all whitespace as single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def loaded_plots(page) -> set[tuple[str, str]]:
    """(kind, item) of every plot image on the page, all of them loaded and drawn."""
    page.wait_for_load_state("load")
    # Polled from here: wait_for_function may evaluate its predicate with eval, which
    # the page's Content-Security-Policy refuses.
    for _ in range(100):
        if page.evaluate(ALL_LOADED):
            break
        page.wait_for_timeout(100)
    plots = page.evaluate(PLOTS)
    broken = [(kind, item) for kind, item, ok in plots if not ok]
    assert not broken, f"plots that did not load: {broken}"
    return {(kind, item) for kind, item, _ in plots}


def test_report_prints_to_pdf_with_every_plot(live_server, page, new_page, make_study, make_user):
    run = two_round_study(make_study)
    make_user(RESEARCHER, role="researcher", studies=[run.study])
    expected = expected_plots(run.study)
    # Two plots per numeric item (distribution and convergence), one pooled plot for the
    # scenario set: counted from the definition, so that a new demo item needs no edit.
    # (every item ever asked, those retired at consensus included: the report keeps them).
    numeric = [item for item in run.study.items if item.kind != "open_text"]
    assert len(expected) == 2 * len(numeric) + 1

    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill(RESEARCHER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/console/")
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/studies/{run.study.slug}")
    with page.expect_navigation(timeout=REPORT_TIMEOUT):
        page.get_by_role("link", name="Study report (print or download)").click(
            timeout=REPORT_TIMEOUT
        )
    page.wait_for_load_state("load", timeout=REPORT_TIMEOUT)
    assert page.url == f"{live_server}/console/studies/{run.study.slug}/report"
    assert loaded_plots(page) == expected

    violations = axe_violations(page, live_server)
    serious = [violation for violation in violations if violation["impact"] in BLOCKING]
    assert not serious, describe_violations("the study report", serious)

    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = [words(sheet.extract_text()) for sheet in reader.pages]
    text = " ".join(pages)
    for kind, item in sorted(expected):
        assert CAPTIONS[kind].format(item=item) in text, (kind, item)
    # Each item starts a page of its own: its distribution's caption is on a page of
    # its own among the items' captions.
    first_pages = {
        item: next(
            index
            for index, sheet in enumerate(pages)
            if CAPTIONS["distribution"].format(item=item) in sheet
        )
        for kind, item in expected
        if kind == "distribution"
    }
    assert len(set(first_pages.values())) == len(first_pages)
    assert len(reader.pages) > len(first_pages)
    # Printing leaves out the console's navigation and the page's own links.
    assert "Log out" not in text and RESEARCHER not in text
    assert "Download this report" not in text
    for secret in secrets_of(run):
        assert secret not in text, secret


def test_the_downloaded_report_opens_on_its_own(
    live_server, page, new_page, make_study, make_user, tmp_path
):
    run = two_round_study(make_study)
    make_user(RESEARCHER, role="researcher", studies=[run.study])
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill(RESEARCHER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/console/")
    page.goto(f"{live_server}/console/studies/{run.study.slug}/report", timeout=REPORT_TIMEOUT)
    with page.expect_download(timeout=REPORT_TIMEOUT) as download:
        page.get_by_role("link", name="Download this report as one HTML file").click(
            timeout=REPORT_TIMEOUT
        )
    assert download.value.suggested_filename == f"{run.study.slug}-report.html"
    saved = tmp_path / "report.html"
    download.value.save_as(saved)

    offline = new_page()
    requested: list[str] = []
    offline.on("request", lambda request: requested.append(request.url))
    offline.goto(saved.as_uri())
    assert loaded_plots(offline) == expected_plots(run.study)
    elsewhere = [url for url in requested if not url.startswith(("file:", "data:"))]
    assert elsewhere == [], "the downloaded report loads resources from elsewhere"
    # The inlined stylesheet applies (tables collapse their borders, figures are blocks).
    styled = offline.evaluate(
        """() => [getComputedStyle(document.querySelector("table.data")).borderCollapse,
                  getComputedStyle(document.querySelector("img.report-plot")).display]"""
    )
    assert styled == ["collapse", "block"]
    pdf = offline.pdf(format="A4")
    text = words(" ".join(sheet.extract_text() for sheet in pypdf.PdfReader(io.BytesIO(pdf)).pages))
    assert CAPTIONS["pooled"].format(item="scenarios") in text
