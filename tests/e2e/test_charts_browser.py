"""In Chromium: the results page and the report of a study holding one item of every
kind (issue 13, point 6) open with the overview of every item's state by round, pass
axe at 1280 and 375 px without a sideways scroll of the page (the overview's table
scrolls in its own focusable region), and, printed on A4, no report table breaks a
number or a word across lines."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
)
from tests.elicit.test_chart_scales import every_kind  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e

BLOCKING = {"serious", "critical"}
#: A4 less the report's print margins (12 mm each side), in CSS pixels.
A4_TEXT_WIDTH = 703
REPORT_TIMEOUT = 90_000

#: Every whitespace-separated run of characters (a number such as "18.2–20.5" counts as
#: one) in the cells of the report's tables that the layout spreads over two lines.
BROKEN_IN_TABLES = """() => {
  const broken = [];
  const cells = ".report-table td, .report-table th, .overview-table td, .overview-table th";
  for (const cell of document.querySelectorAll(cells)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const runs = /\\S+/g;
      let match;
      while ((match = runs.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set(Array.from(range.getClientRects())
          .filter(box => box.width > 0).map(box => Math.round(box.top)));
        if (lines.size > 1) { broken.push(`"${match[0]}" (${lines.size} lines)`); }
      }
    }
  }
  return broken;
}"""

#: Every text of an inline SVG chart that reaches beyond the chart's viewBox (a label cut
#: at the edge: "148,025" shown as "8,025").
CLIPPED_CHART_TEXT = """() => Array.from(document.querySelectorAll("svg text")).flatMap(text => {
  const box = text.getBBox();
  const view = text.ownerSVGElement.viewBox.baseVal;
  const outside = box.x < view.x - 0.5 || box.x + box.width > view.x + view.width + 0.5;
  return outside ? [`${text.ownerSVGElement.querySelector("title").id}: ${text.textContent}`] : [];
})"""


def log_in(page, live_server: str) -> None:
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/console/")


@pytest.mark.parametrize("width", [1280, 375])
def test_results_and_report_open_with_the_overview(
    live_server,
    new_page,
    artifacts,
    every_kind,  # noqa: F811
    width,
):
    page = new_page(viewport={"width": width, "height": 900})
    log_in(page, live_server)
    serve_axe(page, live_server)
    for name in ("results", "report"):
        page.goto(
            f"{live_server}/console/studies/every-kind/{name}",
            timeout=REPORT_TIMEOUT,
        )
        overview = page.locator("#overview")
        heading = overview.get_by_role("heading", name="Overview: every item's state by round")
        assert heading.is_visible()
        region = page.get_by_role("region", name="Overview: every item's state by round")
        assert region.get_attribute("tabindex") == "0"
        rows = region.locator("tbody tr")
        assert rows.count() == 5
        tonnes = region.locator('tr[data-item="tonnes"]')
        assert "How many tonnes?" in tonnes.inner_text()
        save_screenshot(page, artifacts, f"{name}-overview-{width}px")
        assert not page.evaluate(CLIPPED_CHART_TEXT), name
        if name == "results":
            assert page.locator("svg.convergence-chart").count() == 11
        scroll_width, offenders = horizontal_overflow(page, width)
        assert scroll_width <= width, (name, scroll_width, offenders)
        # Two rounds of five items fit a phone without scrolling the table either.
        assert region.evaluate("el => el.scrollWidth <= el.clientWidth"), (name, width)
        serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
        assert not serious, describe_violations(f"the {name} page at {width}px", serious)


def test_printed_report_tables_break_no_number_or_word(
    live_server,
    new_page,
    artifacts,
    every_kind,  # noqa: F811
):
    page = new_page(viewport={"width": A4_TEXT_WIDTH, "height": 1000})
    log_in(page, live_server)
    page.goto(f"{live_server}/console/studies/every-kind/report", timeout=REPORT_TIMEOUT)
    page.emulate_media(media="print")
    broken = page.evaluate(BROKEN_IN_TABLES)
    save_screenshot(page, artifacts, "report-print-a4")
    assert not broken, broken
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
