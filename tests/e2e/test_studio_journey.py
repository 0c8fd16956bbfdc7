"""The facilitator's studio end to end (issue 12's acceptance test), in a real browser.

A facilitator, only with forms, creates a bilingual study from a blank start holding one
item of every kind, every text in English and Spanish, and gives each item a consensus
rule through the rule editor (the estimate's best guess and confidence a rule each);
gives the probability a rule that cannot be right, sees the warning beside the item,
fixes it and sees it go; previews the expert's page in both languages, round 1 and
round 2 with simulated feedback; adds two experts through the panel page; opens round 1
and finds the protocol stamp on the study page; the two experts answer through the
personal links shown when they were added; the facilitator closes round 1, amends one
rule with a reason, opens round 2 and finds the amendment in the report's methods.
The builder's pages are axe-clean; a few are screenshot at 1280 and 375 px.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.protocol import amendments, protocol_stamp
from surveys.studies import find_study
from tests.e2e.support import ARTIFACTS, axe_violations, describe_violations
from tests.e2e.test_rules_and_preview_browser import BLOCKING, checked, logged_in

pytestmark = pytest.mark.e2e

SLUG = "rivers-2040"
LINK = re.compile(r"https?://\S+?(/e/[A-Za-z0-9_-]{20,})")
AMENDMENT_REASON = "Round 1 showed a 70 % band is met by chance on this panel."

#: The items, in page order: key, kind, question (English, Spanish).
LIKERT = "trust"
PROBABILITY = "treaty"
SCENARIOS = "futures"
RANKING = "risks"
ESTIMATE = "dams"
OPEN = "missing"

LIKERT_LABELS = (
    ("Strongly disagree", "Muy en desacuerdo"),
    ("Disagree", "En desacuerdo"),
    ("Neither", "Ni uno ni otro"),
    ("Agree", "De acuerdo"),
    ("Strongly agree", "Muy de acuerdo"),
)


def test_facilitator_builds_previews_runs_and_amends_a_bilingual_study(
    live_server, new_page, make_user, artifacts
):
    make_user("lead@example.org")
    page = logged_in(new_page, live_server)
    problems: list[str] = []
    build = f"{live_server}/console/studies/{SLUG}/build"

    def axe_clean(name: str) -> None:
        """No serious or critical axe-core violation on the page shown now."""
        serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
        if serious:
            problems.append(describe_violations(name, serious))

    def shot(name: str) -> None:
        """Axe-clean, nothing beyond 375 px, screenshots at 1280 and 375 px."""
        checked(page, live_server, artifacts, f"studio-{name}", problems)

    # 1. A blank study in English and Spanish.
    page.goto(f"{live_server}/console/studies/new")
    axe_clean("new study")
    page.get_by_label("Blank study").check()
    page.locator("#new-slug").fill(SLUG)
    page.locator("#new-languages").fill("en, es")
    page.locator("#new-title").fill("Rivers in 2040")
    page.get_by_role("button", name="Create and open the builder").click()
    expect(page).to_have_url(build)
    page.get_by_role("link", name="[A statement to rate.]").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this item").click()
    expect(page.locator(".builder-item")).to_have_count(0)
    page.get_by_label("Title (Spanish)", exact=True).fill("Los ríos en 2040")
    page.get_by_label("Introduction (English, optional)").fill("Thank you for joining.")
    page.get_by_label("Introduction (Spanish, optional)").fill("Gracias por participar.")
    # The builder answers with the builder: wait for it, or the section's title is
    # typed into the page being left.
    with page.expect_navigation():
        page.get_by_role("button", name="Save the title and introduction").click()
    page.locator("#new-section-title_en").fill("Outlook")
    page.locator("#new-section-title_es").fill("Perspectivas")
    page.get_by_role("button", name="Add the section").click()
    expect(page.locator("#section-outlook")).to_be_visible()
    axe_clean("builder, empty")

    # 2. One item of every kind, every text in both languages.
    def new_item(kind: str, key: str, english: str, spanish: str) -> None:
        page.goto(build)
        page.locator("#kind-outlook").select_option(kind)
        page.locator("#section-outlook").get_by_role("button", name="Add the item").click()
        page.get_by_label("Question (English)").fill(english)
        page.get_by_label("Question (Spanish)").fill(spanish)
        page.get_by_label("Help text (English, optional)").fill(f"About {key}.")
        page.get_by_label("Help text (Spanish, optional)").fill(f"Sobre {key}.")
        page.locator("#key").fill(key)

    def save_item(key: str) -> None:
        page.get_by_role("button", name="Save the item").click()
        expect(page).to_have_url(f"{build}/items/{key}")
        expect(page.locator(".is-missing")).to_have_count(0)

    def choices(pairs: tuple[tuple[str, str], ...], add: str) -> None:
        for index, (english, spanish) in enumerate(pairs):
            if index >= 2:
                page.get_by_role("button", name=add).click()
            page.locator(f"#choice_{index}_text_en").fill(english)
            page.locator(f"#choice_{index}_text_es").fill(spanish)
            page.locator(f"#choice_{index}_key").fill(english.lower())

    new_item("likert", LIKERT, "Trust between the agencies is high.", "La confianza es alta.")
    for point, (english, spanish) in enumerate(LIKERT_LABELS, start=1):
        page.locator(f"#label_{point}_en").fill(english)
        page.locator(f"#label_{point}_es").fill(spanish)
    axe_clean("item likert, new")
    save_item(LIKERT)

    new_item("probability", PROBABILITY, "Will the treaty be signed?", "¿Se firmará el tratado?")
    save_item(PROBABILITY)

    new_item("scenario_set", SCENARIOS, "How likely is each future?", "¿Qué futuro?")
    choices(
        (("Drought", "Sequía"), ("Flood", "Inundación"), ("Steady", "Estable")), "Add a scenario"
    )
    save_item(SCENARIOS)
    shot("item-scenarios")

    new_item("ranking", RANKING, "Rank the risks.", "Ordene los riesgos.")
    choices((("Heat", "Calor"), ("Cost", "Costo"), ("Silt", "Limo")), "Add an option")
    save_item(RANKING)

    new_item("numeric_estimate", ESTIMATE, "How many dams will be built?", "¿Cuántas presas?")
    page.get_by_label("Unit (English, optional)").fill("dams")
    page.get_by_label("Unit (Spanish, optional)").fill("presas")
    page.get_by_label("Smallest possible value (optional)").fill("0")
    page.get_by_label("Largest possible value (optional)").fill("500")
    save_item(ESTIMATE)

    new_item("open_text", OPEN, "What are we missing?", "¿Qué nos falta?")
    page.get_by_label("Longest answer, in characters").fill("800")
    save_item(OPEN)
    expect(page.locator(f"#rule-{OPEN}")).to_contain_text("no consensus rule")

    page.goto(build)
    expect(page.locator(".missing-summary")).to_have_count(0)
    keys = page.locator(".builder-item").evaluate_all("items => items.map(i => i.id)")
    assert keys == [
        f"item-{key}" for key in (LIKERT, PROBABILITY, SCENARIOS, RANKING, ESTIMATE, OPEN)
    ]
    # A ranking and an estimate take no default rule: flagged beside them until written.
    for key in (RANKING, ESTIMATE):
        expect(page.locator(f"#item-{key} .rule-warning")).to_contain_text("No consensus rule")
    shot("builder-full")

    # 3. A rule per item through the rule editor, starting from each item's page.
    def rule_editor(key: str) -> None:
        page.goto(f"{build}/items/{key}")
        # The item's page names the key in its heading too: wait for the editor itself,
        # loaded, or the criteria counted next are the old page's (none).
        with page.expect_navigation():
            page.get_by_role("link", name=f"Change the consensus rule of {key}").click()
        expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}/rules/items/{key}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(key)

    def criteria(*wanted: tuple[str, dict[str, str]]) -> None:
        """Replace the form's criteria with ``wanted``: (kind, {label: value})."""
        shown = page.locator("fieldset.criterion")
        for left in range(shown.count(), 0, -1):
            remove = re.compile("^Remove this criterion")
            shown.first.get_by_role("button", name=remove).click()
            expect(shown).to_have_count(left - 1)
        for count, (kind, values) in enumerate(wanted, start=1):
            page.get_by_label("Criterion to add").select_option(kind)
            page.get_by_role("button", name="Add the criterion").click()
            expect(shown).to_have_count(count)
            added = shown.last
            for label, value in values.items():
                added.get_by_label(label, exact=True).fill(value)

    def save_rule(button: str = "Save the rule") -> None:
        page.get_by_role("button", name=button).click()
        expect(page.get_by_role("status")).to_contain_text("The rule")

    rule_editor(LIKERT)
    criteria(
        (
            "share",
            {
                "From (lowest answer counted)": "4",
                "To (highest answer counted)": "5",
                "At least this share of answers, in %": "70",
            },
        )
    )
    # Each end of the band is explained on this item's own scale.
    expect(page.locator("fieldset.criterion .help").nth(1)).to_contain_text(
        "Here the answers lie on this 1–5 scale."
    )
    axe_clean("rule editor, likert")
    save_rule()
    expect(page.locator(f"#item-{LIKERT}")).to_contain_text("From the item's own rule.")

    # The probability, deliberately: "IQR ≤ 1" written for 5-point ratings.
    rule_editor(PROBABILITY)
    criteria(("iqr", {"Largest IQR": "1"}))
    save_rule()
    page.goto(build)
    beside = page.locator(f"#item-{PROBABILITY} .rule-warning")
    expect(beside).to_have_count(1)
    expect(beside).to_contain_text("0–100")
    page.goto(f"{build}/items/{PROBABILITY}")
    warning = page.locator(f"#rule-{PROBABILITY} .rule-warning")
    expect(warning).to_have_count(1)
    expect(warning).to_contain_text("0–100")
    shot("item-probability-warning")
    warning.get_by_role("link", name=f"Fix the rule of {PROBABILITY}").click()
    page.get_by_label("Largest IQR").fill("20")
    save_rule()
    page.goto(f"{build}/items/{PROBABILITY}")
    expect(page.locator(f"#rule-{PROBABILITY}")).to_contain_text("IQR at most 20")
    expect(page.locator(f"#rule-{PROBABILITY} .rule-warning")).to_have_count(0)
    page.goto(build)
    expect(page.locator(f"#item-{PROBABILITY}")).to_be_visible()
    expect(beside).to_have_count(0)

    rule_editor(SCENARIOS)
    criteria(("iqr", {"Largest IQR": "15"}))
    save_rule()

    rule_editor(RANKING)
    criteria(("iqr", {"Largest IQR": "1"}))
    save_rule()

    # The estimate: a rule for the item, then its best guess and its confidence each
    # their own (the panel need not be equally sure for its best guesses to agree).
    rule_editor(ESTIMATE)
    criteria(("iqr", {"Largest IQR": "100"}))
    save_rule()
    for part, largest in (("best", "50"), ("confidence", "20")):
        page.goto(f"{live_server}/console/studies/{SLUG}/rules/items/{ESTIMATE}")
        with page.expect_navigation():
            page.locator(f"#part-{part}").get_by_role("link").click()
        expect(page).to_have_url(re.compile(rf"/rules/items/{ESTIMATE}/parts/{part}$"))
        criteria(("iqr", {"Largest IQR": largest}))
        axe_clean(f"rule editor, estimate {part}")
        save_rule()
    page.goto(build)
    expect(page.locator(".builder-item")).to_have_count(6)
    expect(page.locator(".rule-warning")).to_have_count(0)
    page.get_by_role("link", name="Consensus rules").click()
    expect(page.locator(".item-rule-entry")).to_have_count(6)
    expect(page.locator(".rule-warning")).to_have_count(0)
    shot("rules-overview")
    page.goto(f"{build}/items/{ESTIMATE}")
    parts = page.locator(f"#rule-{ESTIMATE} .part-rules")
    expect(parts).to_contain_text("50")
    expect(parts).to_contain_text("20")
    axe_clean("item estimate")

    # 4. The expert's page previewed in both languages, round 1 and round 2.
    page.goto(build)
    page.get_by_role("link", name="Preview as an expert").click()
    expect(page).to_have_url(re.compile(r"/preview/1\?lang=en$"))
    expect(page.locator(".preview-banner")).to_contain_text("Preview")
    expect(page.locator(f"#item-{LIKERT}")).to_contain_text("Strongly agree")
    axe_clean("preview round 1, English")
    page.locator("nav.languages a[lang=es]").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page).to_have_url(re.compile(r"/preview/1\?lang=es$"))
    expect(page.locator(f"#item-{LIKERT}")).to_contain_text("Muy de acuerdo")
    expect(page.locator(f"#item-{SCENARIOS}")).to_contain_text("Inundación")
    expect(page.locator(".preview-banner")).to_be_visible()
    page.locator(".preview-switch a").nth(1).click()
    expect(page).to_have_url(re.compile(r"/preview/2\?lang=es$"))
    expect(page.locator(".preview-banner")).to_be_visible()
    expect(page.locator(f"#item-{LIKERT} [data-feedback-item]")).to_have_count(1)
    expect(page.locator(f"#item-{ESTIMATE} [data-feedback-item]")).to_have_count(1)
    shot("preview-round-2-es")
    page.locator("nav.languages a[lang=en]").click()
    expect(page).to_have_url(re.compile(r"/preview/2\?lang=en$"))
    expect(page.locator(f"#item-{RANKING}")).to_contain_text("Silt")

    # 5. Two experts through the panel page's form; their links as the page shows them.
    links: list[str] = []
    for name, email, language in (
        ("Ana Ruiz", "ana@example.org", "en"),
        ("Bea Soto", "bea@example.org", "es"),
    ):
        page.goto(f"{live_server}/console/studies/{SLUG}/panel")
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Language", exact=True).select_option(language)
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.get_by_role("heading", name="New personal links")).to_be_visible()
        found = LINK.search(page.locator("#new-links code").inner_text())
        assert found, page.locator("#new-links").inner_text()
        links.append(found.group(1))
    page.get_by_role("link", name="Back to the panel").click()
    expect(page.locator("#panel-count")).to_contain_text("2 panelists, 2 with a valid link.")

    # 6. Round 1 opens; the protocol stamp is on the study page.
    page.goto(f"{live_server}/console/studies/{SLUG}")
    expect(page.locator("#protocol-unstamped")).to_be_visible()
    open_round(page, 1)
    db.session.expire_all()
    stamp = protocol_stamp(db.session, find_study(db.session, SLUG))
    assert stamp is not None
    expect(page.locator("#protocol-stamp")).to_contain_text(stamp.sha256[:12])
    expect(page.locator("#protocol-stamp")).to_contain_text("UTC")
    expect(page.locator("#no-amendments")).to_be_visible()

    # While the round is open no rule can change, and the editor says so.
    page.goto(f"{live_server}/console/studies/{SLUG}/rules/items/{LIKERT}")
    expect(page.locator("#rules-locked")).to_be_visible()
    locked = page.get_by_role("button", name="Save the rule as an amendment")
    expect(locked).to_be_disabled()
    assert float(locked.evaluate("button => getComputedStyle(button).opacity")) < 1

    # 7. The two experts answer through their personal links.
    for number, path in enumerate(links):
        answer(new_page(), live_server, path, number)
    page.goto(f"{live_server}/console/studies/{SLUG}")
    expect(page.locator("#response-rate")).to_contain_text("2 of 2")

    # 8. Round 1 closes after its preview.
    page.get_by_role("link", name="Preview and close round 1").click()
    page.get_by_role("button", name="Close the round", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Round 1 is closed")

    # 9. The likert rule amended, with its reason, through the rule editor.
    rule_editor(LIKERT)
    band = page.get_by_label("At least this share of answers, in %", exact=True)
    band.fill("80")
    page.get_by_role("button", name="Save the rule as an amendment").click()
    expect(page.locator("#error-summary")).to_be_visible()  # no reason: refused
    expect(band).to_have_value("80")
    page.get_by_label("Why the rule changes").fill(AMENDMENT_REASON)
    axe_clean("rule editor, amendment")
    page.get_by_role("button", name="Save the rule as an amendment").click()
    expect(page.get_by_role("status")).to_contain_text("recorded as an amendment")

    # 10. Round 2 opens; the report's methods list the amendment.
    page.goto(f"{live_server}/console/studies/{SLUG}")
    open_round(page, 2)
    page.get_by_role("link", name="Study report (print or download)").click()
    methods = page.locator("#methods")
    row = methods.locator("#amendments tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".reason")).to_have_text(AMENDMENT_REASON)
    expect(row.locator(".first-round")).to_have_text("2")
    expect(row).to_contain_text(LIKERT)
    # The rule before and after in words, with the scale's own numbers.
    expect(row.locator(".amended-old")).to_contain_text(re.compile(r"at least 70\s?%"))
    expect(row.locator(".amended-new")).to_contain_text(re.compile(r"at least 80\s?%"))
    expect(methods.locator("#protocol-sha256")).to_have_text(stamp.sha256)
    # On a phone the rules keep a readable width; the table scrolls in its own box.
    page.set_viewport_size({"width": 375, "height": 800})
    rule_width = row.locator(".amended-old").evaluate("cell => cell.offsetWidth")
    assert rule_width >= 200, f"the amended rule is {rule_width} px wide at 375 px"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#amendments").screenshot(path=str(ARTIFACTS / "studio-report-amendment-375.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    db.session.expire_all()
    recorded = amendments(db.session, find_study(db.session, SLUG))
    assert [(a.what, a.first_round, a.reason) for a in recorded] == [
        (row.get_attribute("data-what"), 2, AMENDMENT_REASON)
    ]
    assert problems == [], "\n\n".join(problems)


def open_round(page: Any, number: int) -> None:
    """Open round ``number`` from the study page, confirming on the page that says what
    opening will do, when the study page asks first."""
    page.get_by_role("button", name=re.compile(rf"^Open round {number}\b")).click()
    confirmation = page.get_by_role("heading", name=f"Open round {number}?")
    opened = page.get_by_role("status").filter(has_text=f"Round {number} is open.")
    expect(confirmation.or_(opened)).to_be_visible()
    if confirmation.count():
        page.get_by_role("button", name=f"Open round {number}", exact=True).click()
    expect(opened).to_be_visible()


def answer(expert: Any, live_server: str, path: str, number: int) -> None:
    """One expert opens their personal link and answers every item of round 1."""
    expert.goto(f"{live_server}{path}")
    expect(expert).to_have_url(re.compile(r"/e/$"))
    expert.locator(f'input[name="{LIKERT}"][value="{4 + number}"]').check()
    # Far apart on the treaty: it does not reach consensus, so the study goes on.
    expert.locator(f"#field-{PROBABILITY}").fill(str(20 + 60 * number))
    for field, share in zip(
        expert.locator(f"#field-{SCENARIOS} input[data-scenario]").all(),
        ([50, 30, 20], [40, 40, 20])[number],
        strict=True,
    ):
        field.fill(str(share))
    for field, place in zip(
        expert.locator(f"#field-{RANKING} select").all(),
        ([1, 2, 3], [2, 1, 3])[number],
        strict=True,
    ):
        field.select_option(str(place))
    for part, value in {"lowest": 10, "highest": 60, "best": 30 + number, "confidence": 80}.items():
        expert.locator(f'[name="{ESTIMATE}.{part}"]').fill(str(value))
    expert.locator(f"#field-{OPEN}").fill(f"Expert {number + 1}: sediment.")
    expert.locator("button[name=action][value=review]:not([aria-hidden])").click()
    submit = expert.locator("button[name=action][value=submit]")
    expect(submit).to_be_visible()  # the review page: every answer was accepted
    submit.click()
    expect(submit).to_have_count(0)
