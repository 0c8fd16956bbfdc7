"""Helpers for the browser tests: watching pages for errors, simulated panelists,
keyboard navigation, the axe-core scan, the overflow check and screenshots."""

from __future__ import annotations

import gettext
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from surveys.definition import ItemDefinition, parse_definition
from surveys.demo import demo_source
from surveys.fields import component_field
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: Where the page loads axe-core from: a same-origin address answered by Playwright.
AXE_PATH = "/__e2e__/axe.min.js"
SPANISH_CATALOGUE = ROOT / "elicit" / "translations" / "es" / "LC_MESSAGES" / "messages.mo"
DOCUMENT_STATUS = "Failed to load resource: the server responded with a status of"


# -- errors in the browser ----------------------------------------------------------------


@dataclass
class BrowserErrors:
    """JavaScript errors, uncaught exceptions and CSP refusals of the watched pages.

    A page answered with an error status (a 404 link, a 409 deadline page) makes
    chromium log "Failed to load resource" for the document itself; the tests check
    those statuses themselves, so only that message for the document is ignored.
    """

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: uncaught {error}"))

        def console(message: Any) -> None:
            if message.type != "error":
                return
            location = (message.location or {}).get("url", "")
            if message.text.startswith(DOCUMENT_STATUS) and location == page.url:
                return
            self.errors.append(f"{page.url}: console error from {location}: {message.text}")

        page.on("console", console)

    def check(self) -> None:
        assert not self.errors, "JavaScript errors in the browser:\n" + "\n".join(self.errors)


# -- the demo study and a simulated panel -----------------------------------------------------

DEMO = parse_definition(demo_source(), name="demo")
ITEMS: dict[str, ItemDefinition] = {item.key: item for item in DEMO.items}


def items_of(kind: str) -> list[ItemDefinition]:
    """The demo's items of one kind, in page order."""
    return [item for item in DEMO.items if item.kind == kind]


def panel_answers(seed: int) -> dict[str, str]:
    """A full, valid set of round-1 answers for simulated expert number ``seed``."""
    answers: dict[str, str] = {}
    for position, item in enumerate(DEMO.items):
        key = item.key
        if item.kind == "likert":
            answers[key] = str((seed + position) % 5 + 1)
        elif item.kind == "probability":
            answers[key] = str(10 + 15 * seed + position)
        elif item.kind == "scenario_set":
            shares = [[60, 30, 10], [50, 20, 30], [70, 15, 15], [40, 40, 20]][seed % 4]
            for scenario, share in zip(item.scenarios, shares, strict=True):
                answers[component_field(key, scenario.key)] = str(share)
        elif item.kind == "signpost":
            likelihoods = [[80, 10, 40], [70, 20, 35], [90, 5, 50], [60, 30, 45]][seed % 4]
            for scenario, likelihood in zip(item.scenarios, likelihoods, strict=True):
                answers[component_field(key, scenario.key)] = str(likelihood + position % 7)
        elif item.kind == "cross_impact":
            for row, trigger in enumerate(item.triggers):
                shares = [[30, 50, 20], [20, 60, 20], [50, 20, 30], [40, 40, 20]][(seed + row) % 4]
                for scenario, share in zip(item.scenarios, shares, strict=True):
                    cell = f"{trigger.key}:{scenario.key}"
                    answers[component_field(key, cell)] = str(share)
        elif item.kind == "numeric_estimate":
            parts = {"lowest": 5 + seed, "highest": 40 + 5 * seed, "best": 15 + seed}
            for part, value in {**parts, "confidence": 70 + 5 * seed}.items():
                answers[component_field(key, part)] = str(value)
        elif item.kind == "ranking":
            count = len(item.options)
            for index, option in enumerate(item.options):
                answers[component_field(key, option.key)] = str((index + seed) % count + 1)
        elif item.kind == "seed":
            for part, value in zip(
                ("q05", "q50", "q95"), (10 + seed, 30 + 5 * seed, 90 + 20 * seed), strict=True
            ):
                answers[component_field(key, part)] = str(value)
        elif item.kind == "open_text":
            answers[key] = f"Simulated expert {seed}: watch the border budget."
    return answers


def others_answer(post_answers: Callable[..., Any], links: list[Any], lang: str = "en") -> None:
    """Simulated experts submit full answers through the app, as the page would."""
    for seed, link in enumerate(links):
        response = post_answers(link.token, panel_answers(seed), lang=lang)
        assert response.status_code == 302, response.text


def enter(page: Any, live_server: str, token: str, lang: str | None = None) -> None:
    """Open a personal link, as an expert does from an invitation."""
    page.goto(f"{live_server}/e/{token}" + (f"?lang={lang}" if lang else ""))
    assert "/e/" in page.url and token not in page.url, "the token must leave the address"


def console_login(page: Any, live_server: str, email: str) -> None:
    """Log in to the console through its form, as a facilitator does; back at the list
    of studies (the login's cookie stored) before anything else is opened."""
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")


def spanish(msgid: str) -> str | None:
    """The Spanish interface text for ``msgid`` if a compiled catalogue exists yet."""
    if not SPANISH_CATALOGUE.exists():
        return None
    with SPANISH_CATALOGUE.open("rb") as catalogue:
        return gettext.GNUTranslations(catalogue).gettext(msgid)


# -- keyboard ---------------------------------------------------------------------------

FOCUS_STATE = """(selector) => {
  const el = document.activeElement;
  if (!el || el === document.body) { return {matches: false, body: true}; }
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  let name = el.tagName.toLowerCase();
  if (el.id) { name += "#" + el.id; }
  if (el.getAttribute("name")) { name += `[name="${el.getAttribute("name")}"]`; }
  if (el.type === "radio") { name += `[value="${el.value}"]`; }
  const label = el.getAttribute("aria-label") || (el.textContent || "").trim().slice(0, 40);
  if (label) { name += ` "${label}"`; }
  return {matches: el.matches(selector), body: false, visible: outline || !!shadow,
          outline: `${style.outlineStyle} ${style.outlineWidth}`, name: name};
}"""


@dataclass
class Keyboard:
    """Moves focus with Tab only, and notes every focused element without a visible
    focus indicator (no outline and no box shadow)."""

    page: Any
    invisible_focus: dict[str, str] = field(default_factory=dict)
    focused: set[str] = field(default_factory=set)

    def tab_to(self, selector: str, *, backwards: bool = False, limit: int = 300) -> None:
        """Press Tab (or Shift+Tab) until the focused element matches ``selector``."""
        key = "Shift+Tab" if backwards else "Tab"
        for _ in range(limit):
            self.page.keyboard.press(key)
            state = self.page.evaluate(FOCUS_STATE, selector)
            if state["body"]:
                continue
            self.focused.add(state["name"])
            if not state["visible"]:
                self.invisible_focus[state["name"]] = state["outline"]
            if state["matches"]:
                return
        raise AssertionError(f"{selector} never received focus after {limit} presses of {key}")

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def press(self, key: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.keyboard.press(key)


# -- axe-core ----------------------------------------------------------------------------


def serve_axe(page: Any, live_server: str) -> None:
    """Let the page load axe-core from its own origin.

    ``add_script_tag(path=...)`` would inline the file, and the app's
    Content-Security-Policy (``script-src 'self'``) rightly refuses inline scripts.
    Rather than switch the policy off (``bypass_csp``), the scan runs under the real
    policy: Playwright answers a same-origin address with the npm package's file.
    """
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` in the project root (CI does)")
    page.route(
        f"{live_server}{AXE_PATH}",
        lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"),
    )


def axe_violations(page: Any, live_server: str) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.x A and AA rules and best practices) on the current page,
    once it has loaded (colour contrast is judged on the styled page: see
    :func:`horizontal_overflow`)."""
    page.wait_for_load_state("load")
    page.add_script_tag(url=f"{live_server}{AXE_PATH}")
    return page.evaluate(
        """async () => {
          const results = await axe.run(document, {resultTypes: ["violations"]});
          return results.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html.slice(0, 200),
                                      summary: n.failureSummary}))
          }));
        }"""
    )


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    """A readable report of axe-core violations."""
    lines = [f"axe-core on {where}:"]
    for violation in violations:
        lines.append(
            f"- [{violation['impact']}] {violation['id']}: {violation['help']}"
            f" ({violation['helpUrl']})"
        )
        for node in violation["nodes"][:8]:
            summary = " / ".join(str(node["summary"]).splitlines())
            lines.append(f"    {node['target']}  {node['html']}\n      {summary}")
    return "\n".join(lines)


# -- layout at small widths ------------------------------------------------------------

OVERFLOW = """(limit) => {
  const offenders = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) { continue; }
    const right = box.right + window.scrollX;
    if (right > limit + 0.5) {
      let name = el.tagName.toLowerCase();
      if (el.id) { name += "#" + el.id; }
      const cls = el.getAttribute("class");
      if (cls) { name += "." + cls.trim().split(/\\s+/).join("."); }
      const text = (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 50);
      offenders.push(`${name} right=${Math.round(right)}px width=${Math.round(box.width)}px`
                     + (text ? ` "${text}"` : ""));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, offenders: offenders};
}"""


def horizontal_overflow(page: Any, width: int) -> tuple[int, list[str]]:
    """The page's scroll width and the elements whose box ends right of ``width``.

    Measured once the page has loaded: a page reached by a click (a form's POST and its
    redirect) may already hold the element a test waited for while its stylesheet is
    still on its way, and a page without its stylesheet is wider than any screen (seen
    under CI's load: a 375 px tracker measured 674 px wide)."""
    page.wait_for_load_state("load")
    result = page.evaluate(OVERFLOW, width)
    return result["scrollWidth"], result["offenders"]


def save_screenshot(page: Any, directory: Path, name: str) -> Path:
    """A full-page screenshot in ``directory``, copied under ``test-artifacts/e2e``."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)
    return path


def pretty(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


# -- what the database holds ----------------------------------------------------------


def stored_answers(link: Any, round_number: int) -> dict[str, tuple[dict[str, Any], str | None]]:
    """``{item key: (answer, rationale)}`` submitted by ``link``'s panelist in a round,
    read afresh from the database (the browser wrote it through the live server)."""
    from sqlalchemy import select

    from elicit.extensions import db
    from surveys.models import Item, Panelist, Response, ResponseStatus, Round

    db.session.expire_all()
    rows = db.session.execute(
        select(Item.key, Response.answer, Response.rationale)
        .join(Response, Response.item_id == Item.id)
        .join(Panelist, Response.panelist_id == Panelist.id)
        .join(Round, Response.round_id == Round.id)
        .where(
            Panelist.pseudonym == link.pseudonym,
            Round.number == round_number,
            Response.status == ResponseStatus.SUBMITTED,
        )
    ).all()
    return {key: (answer, rationale) for key, answer, rationale in rows}


def stored_draft(link: Any) -> dict[str, str] | None:
    """The fields of ``link``'s panelist's draft in the latest round, read afresh."""
    from sqlalchemy import select

    from elicit.extensions import db
    from surveys.models import Draft, Panelist, Round

    db.session.expire_all()
    values = db.session.execute(
        select(Draft.values)
        .join(Panelist, Draft.panelist_id == Panelist.id)
        .join(Round, Draft.round_id == Round.id)
        .where(Panelist.pseudonym == link.pseudonym)
        .order_by(Round.number.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if values is None else values["fields"]


def round_two_with_feedback(
    make_study: Callable[..., Any],
    make_panel: Callable[..., Any],
    post_answers: Callable[..., Any],
    *,
    languages: tuple[str, ...] = ("en",),
) -> tuple[Any, list[Any]]:
    """A demo study whose round 1 four panelists answered in full, closed; round 2 open.

    Returns the study and the panel's links; every item then shows feedback.
    """
    from elicit.extensions import db
    from surveys.rounds import close_round, open_round

    study = make_study()
    links = make_panel(study, 4, languages=languages)
    open_round(db.session, study)
    others_answer(post_answers, links)
    close_round(db.session, study)
    open_round(db.session, study)
    return study, links


BROKEN_WORDS = """() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const words = /[^\\s\\-\u2010\u2013\u2014\\/]+/g;  // a hyphen or slash may end a line
    let match;
    while ((match = words.exec(node.data))) {
      if (match[0].length > 24) { continue; }  // a long address may have to wrap
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set(Array.from(range.getClientRects())
        .filter(box => box.width > 0).map(box => Math.round(box.top)));
      if (lines.size > 1) {
        const parent = node.parentElement;
        broken.push(`"${match[0]}" in ${parent.tagName.toLowerCase()}`
                    + (parent.className ? "." + parent.className : "")
                    + ` (${lines.size} lines)`);
      }
    }
  }
  return broken;
}"""

SMALL_CHART_TEXT = """(minimum) => Array.from(document.querySelectorAll("svg text"))
  .map(text => [(text.closest("[data-feedback-item]") || {dataset: {}}).dataset.feedbackItem,
                text.textContent.trim(), text.getBoundingClientRect().height])
  .filter(([, content, height]) => content && height > 0 && height < minimum)
  .map(([item, content, height]) => `chart of ${item}: "${content}" ${height.toFixed(1)}px tall`)"""


def broken_words(page: Any) -> list[str]:
    """Ordinary words the layout splits across lines (e.g. "Optio / n")."""
    return page.evaluate(BROKEN_WORDS)


def small_chart_text(page: Any, minimum: float) -> list[str]:
    """Texts inside charts rendered less than ``minimum`` pixels tall: a few examples
    and how many there are in all."""
    small = page.evaluate(SMALL_CHART_TEXT, minimum)
    if len(small) > 6:
        return [*small[:6], f"... {len(small)} chart texts in all under {minimum}px"]
    return small
