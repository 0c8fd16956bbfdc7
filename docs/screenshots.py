"""Regenerate the screenshots of README.md's "Create your first study".

    .venv/bin/python docs/screenshots.py

Serves the app from a thread on a fresh, temporary SQLite database (migrated as
``elicit db upgrade`` does), creates a facilitator account with the function behind
``elicit user create``, and walks Debian's chromium (Playwright, installed with
``.[test]``) through the facilitator's studio as the README describes it: a study
started from a template, its texts in two languages, items, a rule with a warning, the
expert-page preview, the panel, round 1 and its protocol stamp, an amendment.  Every
picture goes to ``docs/screenshots/`` under a fixed name, clipped to the part of the
page the README talks about, from the same data and viewport on every run, so that a
rerun changes a picture only where a page changed (or where it shows a time or hash).

Simulated experts answer round 1 through the domain function the expert page calls
(:func:`surveys.answers.submit_responses`), with a fixed random seed.
"""

from __future__ import annotations

import hashlib
import logging
import random
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from elicit import MIGRATIONS_DIRECTORY, create_app  # noqa: E402
from elicit.extensions import db  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--font-render-hinting=none",
]
MARGIN = 16
WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}

EMAIL = "lead@example.org"
PASSWORD = "a long example passphrase"  # noqa: S105 - a throwaway database's account
SLUG = "remote-teams"
TITLE_EN = "Remote work in research teams"
TITLE_ES = "El trabajo a distancia en equipos de investigación"
INTRO_EN = "Thank you for joining this panel. Each round takes about ten minutes."
INTRO_ES = "Gracias por participar en este panel. Cada ronda lleva unos diez minutos."
SECTIONS = {
    "first_theme": ("Collaboration", "Colaboración"),
    "second_theme": ("Careers", "Carreras"),
}
STATEMENTS = {
    "statement_one": (
        "Fully remote teams write papers as well as teams that share an office.",
        "Los equipos totalmente a distancia escriben artículos tan bien como los que "
        "comparten oficina.",
    ),
    "statement_two": (
        "A weekly video meeting is enough to keep a project on track.",
        "Una videollamada semanal basta para que un proyecto avance según lo previsto.",
    ),
    "statement_three": (
        "Early-career researchers are disadvantaged in remote teams.",
        "Los investigadores noveles están en desventaja en los equipos a distancia.",
    ),
    "statement_four": (
        "Funders should pay for teams to meet in person at least once a year.",
        "Los financiadores deberían pagar para que los equipos se reúnan en persona al "
        "menos una vez al año.",
    ),
}
PROBABILITY = (
    "Most research teams in your field will work fully remotely by 2030.",
    "La mayoría de los equipos de investigación de su campo trabajarán totalmente a "
    "distancia en 2030.",
)
PROBABILITY_KEY = "fully_remote_2030"
PANEL = [
    ("Ana Ruiz", "ana.ruiz@example.org", "academia", "es"),
    ("Bo Li", "bo.li@example.org", "industry", "en"),
    ("Cy Moreno", "cy.moreno@example.org", "academia", "es"),
    ("Dee Okafor", "dee.okafor@example.org", "industry", "en"),
    ("Eli Park", "eli.park@example.org", "funder", "en"),
]
ENDING = "The steering group ends the study after round 2: the panel has converged."
AMENDMENT = (
    "The pilot study counted consensus on probabilities with an IQR of at most 25 "
    "points; the steering group asked to keep that bound."
)


def fixed_pseudonyms() -> None:
    """Draw pseudonyms from a seeded generator instead of the system's: the panel page
    lists people in pseudonym order, which must be the same on every run.  (Only here:
    a real panel's pseudonyms are random, so that their order says nothing.)"""
    import surveys.panel
    from surveys.panel import PSEUDONYM_ALPHABET, PSEUDONYM_LENGTH

    rng = random.Random(7)  # noqa: S311 - fixed on purpose: the same pictures every run

    def seeded(taken: set[str]) -> str:
        while True:
            letters = (rng.choice(PSEUDONYM_ALPHABET) for _ in range(PSEUDONYM_LENGTH))
            pseudonym = "P-" + "".join(letters)
            if pseudonym not in taken:
                taken.add(pseudonym)
                return pseudonym

    surveys.panel._new_pseudonym = seeded  # type: ignore[assignment]


@contextmanager
def served_app() -> Iterator[tuple[Flask, str]]:
    """A migrated temporary database and the app serving it; yield (app, base URL)."""
    with tempfile.TemporaryDirectory(prefix="elicit-screenshots-") as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/elicit.sqlite3",
                "SECRET_KEY": "screenshots-only-not-a-secret",
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            from flask_migrate import upgrade

            logging.disable(logging.INFO)  # the migrations' progress says nothing here
            try:
                upgrade(directory=MIGRATIONS_DIRECTORY)
            finally:
                logging.disable(logging.NOTSET)
            from surveys.accounts import create_user

            create_user(db.session, EMAIL, PASSWORD, "facilitator")
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield app, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def shot(page: Page, name: str, region: tuple[str, str] | None = None) -> None:
    """Save ``docs/screenshots/NAME.png``, as wide as the viewport: the band of the page
    from the top of the first element of ``region`` to the bottom of the second (with
    a margin), or else the viewport.  Nothing has the focus, so no focus ring shows."""
    path = OUT / f"{name}.png"
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("document.fonts.ready")
    options: dict[str, Any] = {"path": str(path), "animations": "disabled", "caret": "hide"}
    if region is not None:
        top = page.locator(region[0]).first.evaluate(
            "e => e.getBoundingClientRect().top + window.scrollY"
        )
        bottom = page.locator(region[1]).first.evaluate(
            "e => e.getBoundingClientRect().bottom + window.scrollY"
        )
        width = page.viewport_size["width"] if page.viewport_size else 1280
        top = max(0, top - MARGIN)
        options["clip"] = {"x": 0, "y": top, "width": width, "height": bottom + MARGIN - top}
        options["full_page"] = True
    page.screenshot(**options)
    print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} KB")


def panel_csv() -> bytes:
    """The panel as a CSV file, as a facilitator would upload it."""
    rows = ["name,email,group,language", *(",".join(person) for person in PANEL)]
    return ("\n".join(rows) + "\n").encode("utf-8")


def answer_round(app: Flask) -> None:
    """Every panelist answers the open round, as simulated experts with a fixed seed,
    through the function the expert's page calls."""
    from sqlalchemy import select

    from surveys.answers import submit_responses
    from surveys.models import Panelist
    from surveys.simulation import simulated_answers
    from surveys.studies import get_study, study_definition

    rng = random.Random(12)  # noqa: S311 - fixed on purpose: the same answers every run
    with app.app_context():
        study = get_study(db.session, SLUG)
        definition = study_definition(study)
        panel = db.session.scalars(
            select(Panelist).where(Panelist.study_id == study.id).order_by(Panelist.id)
        ).all()
        for panelist in panel:
            submit_responses(db.session, panelist, simulated_answers(rng, definition))
        db.session.remove()


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/console/")


def walk(app: Flask, base: str, browser: Any) -> None:
    """The facilitator's walk through the studio, a picture at each step."""
    context = browser.new_context(viewport=WIDE, device_scale_factor=1)
    context.set_default_timeout(15_000)
    page = context.new_page()
    study = f"{base}/console/studies/{SLUG}"
    log_in(page, base)

    # 1. The start page: a template, the languages, the title.
    page.goto(f"{base}/console/studies/new")
    page.get_by_label("Consensus Delphi").check()
    page.locator("#new-slug").fill(SLUG)
    page.locator("#new-languages").fill("en, es")
    page.locator("#new-title").fill(TITLE_EN)
    shot(page, "01-start", ("h1", "form.builder-start"))
    page.get_by_role("button", name="Create and open the builder").click()
    expect(page).to_have_url(f"{study}/build")

    # 2. The template's sections and statements, reworded in both languages; the
    # Spanish title is still missing, and flagged.
    for key, (english, spanish) in SECTIONS.items():
        section = page.locator(f"#section-{key}")
        section.locator("summary").click()
        section.get_by_label("Section title (English)").fill(english)
        section.get_by_label("Section title (Spanish)").fill(spanish)
        section.get_by_role("button", name="Save the title").click()
        expect(page.locator(f"#section-{key}-title")).to_have_text(english)
    for key, (english, spanish) in STATEMENTS.items():
        page.goto(f"{study}/build/items/{key}")
        page.get_by_label("Question (English)").fill(english)
        page.get_by_label("Question (Spanish)").fill(spanish)
        page.get_by_role("button", name="Save the item").click()
        expect(page.get_by_label("Question (English)")).to_have_value(english)
    page.goto(f"{study}/build")
    expect(page.locator("#title_es-missing")).to_have_text("Spanish missing")
    shot(page, "02-builder-translations", ("h1", "#texts"))
    page.set_viewport_size(PHONE)
    shot(page, "03-builder-phone", ("h1", "#title_es-missing"))
    page.set_viewport_size(WIDE)
    page.get_by_label("Title (Spanish)", exact=True).fill(TITLE_ES)
    page.get_by_label("Introduction (English, optional)").fill(INTRO_EN)
    page.get_by_label("Introduction (Spanish, optional)").fill(INTRO_ES)
    page.get_by_role("button", name="Save the title and introduction").click()
    expect(page.locator(".missing-summary")).to_have_count(0)
    page.goto(f"{study}/build/items/statement_one")
    shot(page, "04-item-likert", ("h1", ".kind-fields"))

    # 3. A probability item: the template's rule, written for 1-5, is flagged on it;
    # the rule editor gives it a rule of its own for 0-100.
    page.goto(f"{study}/build")
    page.locator("#kind-second_theme").select_option("probability")
    page.locator("#section-second_theme").get_by_role("button", name="Add the item").click()
    page.get_by_label("Question (English)").fill(PROBABILITY[0])
    page.get_by_label("Question (Spanish)").fill(PROBABILITY[1])
    page.get_by_label("Short name").fill(PROBABILITY_KEY)
    page.get_by_role("button", name="Save the item").click()
    expect(page).to_have_url(f"{study}/build/items/{PROBABILITY_KEY}")
    expect(page.locator(".item-rule-section .rule-warning")).to_have_count(2)
    shot(page, "05-rule-warning", (".item-rule-section", ".item-rule-section"))
    page.get_by_role("link", name=f"Change the consensus rule of {PROBABILITY_KEY}").click()
    page.get_by_label("From (lowest answer counted)").fill("70")
    page.get_by_label("To (highest answer counted)").fill("100")
    page.get_by_label("Largest IQR").fill("20")
    shot(page, "06-rule-editor", ("#criteria", "#criteria"))
    page.get_by_role("button", name="Save the rule").click()
    expect(page.get_by_role("status")).to_contain_text("The rule is saved.")
    entry = page.locator(f"#item-{PROBABILITY_KEY}")
    expect(entry.locator(".rule-warning")).to_have_count(0)
    shot(page, "07-rule-fixed", (f"#item-{PROBABILITY_KEY}", f"#item-{PROBABILITY_KEY}"))

    # 4. The preview: round 1, then round 2 with simulated feedback (also on a phone).
    page.goto(f"{study}/build")
    page.get_by_role("link", name="Preview as an expert").click()
    expect(page.locator(".preview-banner")).to_be_visible()
    shot(page, "08-preview-round-1")
    page.get_by_role("link", name="Round 2, with simulated feedback").click()
    expect(page.locator("#item-statement_one [data-feedback-item]")).to_be_visible()
    shot(page, "09-preview-round-2", (".preview-banner", "#item-statement_one"))
    page.set_viewport_size(PHONE)
    shot(page, "10-preview-round-2-phone", ("#item-statement_one", "#item-statement_one"))
    page.set_viewport_size(WIDE)

    # 5. The panel, from a CSV file.
    page.goto(f"{study}/panel")
    page.get_by_label("Panel file (CSV: name, email, group, language)").set_input_files(
        {"name": "panel.csv", "mimeType": "text/csv", "buffer": panel_csv()}
    )
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="New personal links")).to_be_visible()
    page.get_by_role("link", name="Back to the panel").click()
    expect(page.locator("#panel-count")).to_contain_text("5 panelists, 5 with a valid link.")
    shot(page, "11-panel", ("h1", "#panel-count + *"))

    # 6. Round 1 opens: the protocol is stamped.
    page.goto(study)
    page.get_by_role("button", name="Open round 1").click()
    if page.locator("#protocol-stamp").count() == 0:
        # The page that says what opening round 1 does, before it is done.
        shot(page, "12-open-round-1", ("h1", "form:has(button:text-is('Open round 1'))"))
        page.get_by_role("button", name="Open round 1").click()
    expect(page.locator("#protocol-stamp")).to_be_visible()
    shot(page, "13-protocol-stamp", ("#protocol", "#protocol"))
    # What the README says of the stamp: the downloaded file's SHA-256 is the one shown.
    stamped = page.request.get(f"{study}/protocol.toml")
    shown = page.locator("#protocol-sha256").text_content() or ""
    if hashlib.sha256(stamped.body()).hexdigest() != shown.strip():
        raise SystemExit("the stamped definition's SHA-256 is not the one the page shows")

    # 7. The experts answer (simulated); the round closes after its preview.
    answer_round(app)
    page.reload()
    page.get_by_role("link", name="Preview and close round 1").click()
    expect(page.get_by_text("5 panelists have submitted.")).to_be_visible()
    shot(page, "14-close-round", ("h1", "form:has(button:text-is('Close the round'))"))
    page.get_by_role("button", name="Close the round", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Round 1 is closed")

    # 8. Between rounds: an amendment to a rule, with its reason.
    page.goto(f"{study}/rules/items/{PROBABILITY_KEY}")
    page.get_by_label("Largest IQR").fill("25")
    page.get_by_label("Why the rule changes").fill(AMENDMENT)
    shot(
        page,
        "15-amendment-reason",
        (".field:has(textarea[name=reason])", ".actions:has(button[value=save])"),
    )
    page.get_by_role("button", name="Save the rule as an amendment").click()
    expect(page.get_by_role("status").first).to_contain_text("recorded as an amendment")
    page.goto(study)
    expect(page.locator("#amendments .reason")).to_have_text(AMENDMENT)
    shot(page, "16-amendment", ("#protocol", "#protocol"))

    # 9. The last round: the study ends after round 2 (an amendment), the experts answer,
    # the round closes; the results open with every item's state by round.
    page.goto(f"{study}/settings")
    page.get_by_label("Maximum number of rounds").fill("2")
    page.get_by_label("Reason for the change").fill(ENDING)
    page.get_by_role("button", name="Save the settings").click()
    page.goto(study)
    page.get_by_role("button", name="Open round 2…").click()
    acknowledge = page.get_by_label("I have read why", exact=False)
    if acknowledge.count():
        acknowledge.check()
    page.get_by_role("button", name="Open round 2").click()
    expect(page.get_by_role("link", name="Preview and close round 2")).to_be_visible()
    answer_round(app)
    page.get_by_role("link", name="Preview and close round 2").click()
    page.get_by_role("button", name="Close the round", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Round 2 is closed")
    page.goto(f"{study}/results")
    shot(page, "17-results-overview", ("h1", "#overview"))

    # 10. What each expert's link shows once the study is over, on a phone, in Spanish.
    phone = browser.new_context(viewport=PHONE, device_scale_factor=1)
    expert = phone.new_page()
    expert.goto(f"{base}/e/{first_link(app)}")
    expect(expert.locator("#thanks")).to_be_visible()
    shot(expert, "18-outcome-phone", ("#thanks", ".outcome-item"))
    phone.close()
    context.close()


def first_link(app: Flask) -> str:
    """The personal link of the first panelist (Ana Ruiz, who reads Spanish), read back
    from its seal as every message does."""
    from sqlalchemy import select

    from elicit.extensions import current_link_keys
    from surveys.models import Panelist
    from surveys.panel import stored_link

    with app.app_context():
        panelist = db.session.scalars(select(Panelist).order_by(Panelist.id)).first()
        assert panelist is not None
        token = stored_link(panelist, current_link_keys()).token
        db.session.remove()
    return token


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    fixed_pseudonyms()
    with served_app() as (app, base), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            walk(app, base, browser)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
