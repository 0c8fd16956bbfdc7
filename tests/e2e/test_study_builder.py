"""A facilitator builds a bilingual study in the browser, only with forms: one item of
every kind, a missing translation flagged then written, items and a section moved in
place, an item duplicated and deleted; a reload finds everything, and the study's
definition file reads back as the same study.  Every builder page is axe-clean and
fits 375 px; screenshots of each at 1280 and 375 px."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.definition import parse_definition
from surveys.studies import find_study, study_definition
from tests.conftest import PASSWORD
from tests.e2e.support import (
    Keyboard,
    axe_violations,
    describe_violations,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

SLUG = "water-2040"
BLOCKING = {"serious", "critical"}
#: Where screenshots of every builder page are kept for people to look at.
SHOTS = (
    Path(os.environ.get("ELICIT_BUILDER_SHOTS", ""))
    if os.environ.get("ELICIT_BUILDER_SHOTS")
    else None
)


def test_a_bilingual_study_built_only_with_forms(live_server, new_page, artifacts, make_user):
    make_user("lead@example.org")
    page = new_page(viewport={"width": 1280, "height": 900})
    serve_axe(page, live_server)
    problems: list[str] = []

    def check(name: str) -> None:
        """axe-clean, fits 375 px, and a screenshot at both widths."""
        violations = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
        if violations:
            problems.append(describe_violations(name, violations))
        save_screenshot(page, SHOTS or artifacts, f"builder-{name}-1280px")
        page.set_viewport_size({"width": 375, "height": 800})
        width, offenders = horizontal_overflow(page, 375)
        if width > 375 or offenders:
            problems.append(f"{name} at 375 px: scrollWidth {width}\n  " + "\n  ".join(offenders))
        save_screenshot(page, SHOTS or artifacts, f"builder-{name}-375px")
        page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")

    # 1. Start: a blank study in English and Spanish.
    page.goto(f"{live_server}/console/studies/new")
    check("start")
    page.get_by_label("Blank study").check()
    page.locator("#new-slug").fill(SLUG)
    page.locator("#new-languages").fill("en, es")
    page.locator("#new-title").fill("Water in 2040")
    page.get_by_role("button", name="Create and open the builder").click()
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}/build")

    # The blank template's example statement goes: deleting asks first.
    page.get_by_role("link", name="[A statement to rate.]").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this item").click()
    expect(page.locator(".notice")).to_contain_text("The item statement is deleted.")
    expect(page.locator(".builder-item")).to_have_count(0)

    # 2. The Spanish title is flagged, in words; writing it removes the flag.
    expect(page.locator("#title_es-missing")).to_have_text("Spanish missing")
    expect(page.locator(".missing-summary")).to_contain_text("Title: Spanish missing")
    check("overview-new")
    page.get_by_label("Title (Spanish)", exact=True).fill("El agua en 2040")
    # The flag follows the typing, before anything is saved.
    expect(page.locator("#title_es-missing")).to_be_hidden()
    page.get_by_label("Introduction (English, optional)").fill("Thank you for joining.")
    page.get_by_label("Introduction (Spanish, optional)").fill("Gracias por participar.")
    page.get_by_role("button", name="Save the title and introduction").click()
    expect(page.locator("#title_es-missing")).to_be_hidden()
    expect(page.locator(".missing-summary")).to_have_count(0)

    # 3. Two sections.
    for english, spanish in (("Drivers", "Factores"), ("Outlook", "Perspectivas")):
        page.locator("#new-section-title_en").fill(english)
        page.locator("#new-section-title_es").fill(spanish)
        page.get_by_role("button", name="Add the section").click()
        expect(page.locator(f"#section-{english.lower()}")).to_be_visible()

    def add(kind: str, section: str) -> None:
        page.locator(f"#kind-{section}").select_option(kind)
        page.locator(f"#section-{section}").get_by_role("button", name="Add the item").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("New item")

    def save(key: str) -> None:
        page.get_by_role("button", name="Save the item").click()
        expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}/build/items/{key}")
        # The builder itself, loaded: order() reads it at once.
        with page.expect_navigation():
            page.get_by_role("link", name="Back to the builder").click()

    # 4. One item of every kind.  The likert item: its question only in English first.
    add("likert", "drivers")
    page.get_by_label("Question (English)").fill("Trust between the agencies is high.")
    check("item-likert-new")
    # The new item's form flags the missing Spanish too (builder.js): wait for the saved
    # item's page, or check() scans the old one and "Back" leaves before the save.
    with page.expect_navigation():
        page.get_by_role("button", name="Save the item").click()
    expect(page.locator("#text_es-missing")).to_have_text("Spanish missing")
    check("item-likert")
    page.get_by_role("link", name="Back to the builder").click()
    expect(page.locator(".missing-summary")).to_contain_text(
        "Item trust_between_the_agencies_is (question): Spanish missing"
    )
    page.get_by_role("link", name="Trust between the agencies is high.").click()
    page.get_by_label("Question (Spanish)").fill("La confianza entre las agencias es alta.")
    save("trust_between_the_agencies_is")
    expect(page.locator(".missing-summary")).to_have_count(0)

    add("probability", "drivers")
    page.get_by_label("Question (English)").fill("Will the treaty be signed?")
    page.get_by_label("Question (Spanish)").fill("¿Se firmará el tratado?")
    page.get_by_label("Help text (English, optional)").fill("By the end of 2030.")
    page.get_by_label("Help text (Spanish, optional)").fill("Antes de finales de 2030.")
    check("item-probability-new")
    save("will_the_treaty_be_signed")

    add("scenario_set", "outlook")
    page.get_by_label("Question (English)").fill("How likely is each future?")
    page.get_by_label("Question (Spanish)").fill("¿Qué tan probable es cada futuro?")
    page.get_by_role("button", name="Add a scenario").click()
    expect(page.locator("#unsaved")).to_be_visible()
    futures = (("Drought", "Sequía"), ("Flood", "Inundación"), ("Steady", "Estable"))
    for index, (english, spanish) in enumerate(futures):
        page.locator(f"#choice_{index}_text_en").fill(english)
        page.locator(f"#choice_{index}_text_es").fill(spanish)
    expect(page.locator(".kind-fields .help").first).to_contain_text("must sum to 100 %")
    check("item-scenario-set")
    save("how_likely_is_each_future")

    add("ranking", "outlook")
    page.get_by_label("Question (English)").fill("Rank the risks.")
    page.get_by_label("Question (Spanish)").fill("Ordene los riesgos.")
    for index, (english, spanish) in enumerate((("Heat", "Calor"), ("Cost", "Costo"))):
        page.locator(f"#choice_{index}_text_en").fill(english)
        page.locator(f"#choice_{index}_text_es").fill(spanish)
    check("item-ranking")
    save("rank_the_risks")

    add("numeric_estimate", "outlook")
    page.get_by_label("Question (English)").fill("How many dams will be built?")
    page.get_by_label("Question (Spanish)").fill("¿Cuántas presas se construirán?")
    page.get_by_label("Unit (English, optional)").fill("dams")
    page.get_by_label("Unit (Spanish, optional)").fill("presas")
    page.get_by_label("Smallest possible value (optional)").fill("0")
    page.get_by_label("Standardise intervals to (%)").fill("90")
    # A largest value below the smallest: the loader's message, on its field.
    page.get_by_label("Largest possible value (optional)").fill("-5")
    page.get_by_role("button", name="Save the item").click()
    expect(page.locator("#bounds_max-error")).to_contain_text("must be greater than min")
    expect(page.get_by_label("Unit (Spanish, optional)")).to_have_value("presas")
    expect(page.get_by_label("Standardise intervals to (%)")).to_have_value("90")
    check("item-estimate-error")
    page.get_by_label("Largest possible value (optional)").fill("500")
    save("how_many_dams_will_be_built")

    add("open_text", "outlook")
    page.get_by_label("Question (English)").fill("What are we missing?")
    page.get_by_label("Question (Spanish)").fill("¿Qué nos falta?")
    page.get_by_label("Longest answer, in characters").fill("1500")
    check("item-open-text")
    save("what_are_we_missing")

    def order() -> list[str]:
        return page.locator(".builder-item").evaluate_all("items => items.map(i => i.id)")

    assert order() == [
        "item-trust_between_the_agencies_is",
        "item-will_the_treaty_be_signed",
        "item-how_likely_is_each_future",
        "item-rank_the_risks",
        "item-how_many_dams_will_be_built",
        "item-what_are_we_missing",
    ]
    check("overview-full")

    # 5. Moves in place, with JavaScript: the keyboard reaches the button; no page load.
    page.evaluate("window.__samePage = true")
    keyboard = Keyboard(page)
    keyboard.tab_to('[data-focus-key="item-will_the_treaty_be_signed-up"]')
    keyboard.press("Enter")
    expect(page.locator(".builder-item").first).to_have_id("item-will_the_treaty_be_signed")
    # The button pressed is gone (the item is first now): focus is on its opposite.
    expect(page.locator('[data-focus-key="item-will_the_treaty_be_signed-down"]')).to_be_focused()
    page.locator('[data-focus-key="section-outlook-up"]').click()
    expect(page.locator(".builder-section").first).to_have_id("section-outlook")
    assert page.evaluate("window.__samePage") is True, "the moves reloaded the page"
    assert not keyboard.invisible_focus, keyboard.invisible_focus

    # 6. Duplicate an item, then delete the copy (after confirming).
    page.locator("#item-rank_the_risks").get_by_role("button", name="Duplicate").click()
    expect(page).to_have_url(
        f"{live_server}/console/studies/{SLUG}/build/items/rank_the_risks_copy"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this item").click()
    expect(page.locator(".notice")).to_contain_text("The item rank_the_risks_copy is deleted.")
    page.locator("#item-what_are_we_missing").get_by_role("button", name="Duplicate").click()
    with page.expect_navigation():  # or the reload below reloads the item's page
        page.get_by_role("link", name="Back to the builder").click()

    # 7. A reload finds everything where it was left.
    page.reload()
    assert order() == [
        "item-how_likely_is_each_future",
        "item-rank_the_risks",
        "item-how_many_dams_will_be_built",
        "item-what_are_we_missing",
        "item-what_are_we_missing_copy",
        "item-will_the_treaty_be_signed",
        "item-trust_between_the_agencies_is",
    ]
    page.goto(f"{live_server}/console/studies/{SLUG}/build/import")
    check("import")
    page.goto(f"{live_server}/console/studies/{SLUG}/build/items/new")
    check("item-kind")
    assert not problems, "\n\n".join(problems)

    # 8. The study's definition file reads back as the same study.
    download = page.request.get(f"{live_server}/console/studies/{SLUG}/build/definition.toml")
    assert download.status == 200
    db.session.expire_all()
    study = find_study(db.session, SLUG)
    built = study_definition(study)
    assert parse_definition(download.text(), name="downloaded") == built
    kinds = [item.kind for item in built.items]
    assert sorted(set(kinds)) == sorted(
        ["likert", "probability", "scenario_set", "ranking", "numeric_estimate", "open_text"]
    )
    assert built.languages == ("en", "es")
    assert re.search(r"\bDrought\b", download.text())
