"""In a real browser: an expert answers every item kind of the demo in round 1, reviews
and submits, then sees the panel beside their own answer in round 2 and revises —
once in English and once in Spanish, while simulated panelists answer alongside."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.rounds import close_round, open_round
from tests.e2e.support import (
    ITEMS,
    enter,
    items_of,
    others_answer,
    spanish,
    stored_answers,
)

pytestmark = pytest.mark.e2e

THANKS = (
    "Thank you: your answers to round %(number)s are submitted. You can change them "
    "until the round closes."
)
#: Left blank on purpose, so that the review step has something to list.
SKIPPED = ("trigger_foreign_agents_law", "signpost_precursors")


def interface(lang: str, english: str) -> str | None:
    """The interface text expected in ``lang``; None when the Spanish catalogue is not
    compiled yet (then only item texts, which come from the study, are checked)."""
    return english if lang == "en" else spanish(english)


def text_of(key: str, lang: str) -> str:
    return ITEMS[key].text.get(lang)


def answer_round_one(page, lang: str) -> None:
    """Fill every item kind through the page's own controls."""
    # Likert: labelled radios, including "I can't judge this".
    for position, item in enumerate(items_of("likert")):
        if item.key in SKIPPED:
            continue
        value = {"trust_now": "5", "trust_horizon": "cannot_judge"}.get(
            item.key, str(position % 5 + 1)
        )
        page.locator(f'input[name="{item.key}"][value="{value}"]').check()

    # Probability, typed: the linked slider follows.
    typed = page.locator("#field-trigger_officials_implicated")
    typed.press_sequentially("12,5" if lang == "es" else "35")
    slider = page.locator('[data-slider-for="field-trigger_officials_implicated"]')
    assert slider.is_visible()
    # 12,5 (a Spanish decimal comma) lands between two steps of the slider.
    assert slider.input_value() in (("12", "13") if lang == "es" else ("35",))
    # Probability, by the slider: the number input follows.
    page.locator('[data-slider-for="field-trigger_tariffs"]').fill("62")
    assert page.locator("#field-trigger_tariffs").input_value() == "62"
    for position, item in enumerate(items_of("probability")):
        if item.key in (*SKIPPED, "trigger_officials_implicated", "trigger_tariffs"):
            continue
        page.locator(f'[id="field-{item.key}"]').fill(str(20 + position))

    # Scenarios: 30 + 30 + 30 shows a wrong total and an offer to rescale.
    scenario_set = page.locator('[data-scenario-set][id="field-scenarios"]')
    for scenario in ("status_quo", "rift", "renewal"):
        page.locator(f'[id="field-scenarios.{scenario}"]').fill("30")
    assert scenario_set.locator("[data-total]").inner_text() == "90"
    total_line = scenario_set.locator(".scenario-total")
    assert "total-wrong" in (total_line.get_attribute("class") or "")
    rescale = scenario_set.locator("[data-rescale]")
    assert rescale.is_visible()
    rescale.click()
    values = [
        page.locator(f'[id="field-scenarios.{key}"]').input_value()
        for key in ("status_quo", "rift", "renewal")
    ]
    assert values == ["33.3", "33.3", "33.4"]
    assert scenario_set.locator("[data-total]").inner_text() == "100"
    assert "✓" in total_line.inner_text()
    assert not rescale.is_visible()

    # Cross-impact: a scenario set per trigger, each with its own total and rescaling.
    (cross,) = items_of("cross_impact")
    for trigger in cross.triggers:
        row = page.locator(f'[data-scenario-set][id="field-{cross.key}.{trigger.key}"]')
        for scenario in cross.scenarios:
            page.locator(f'[id="field-{cross.key}.{trigger.key}:{scenario.key}"]').fill("20")
        assert row.locator("[data-total]").inner_text() == "60"
        row.locator("[data-rescale]").click()
        assert row.locator("[data-total]").inner_text() == "100"

    # Seed questions: three increasing percentiles each.
    for item in items_of("seed"):
        for part, value in zip(("q05", "q50", "q95"), ("1", "2", "3"), strict=True):
            page.locator(f'[id="field-{item.key}.{part}"]').fill(value)

    # Signposts: one percentage per scenario, which need not sum to 100.
    for position, item in enumerate(items_of("signpost")):
        for scenario, value in zip(item.scenarios, (90, 10 + position, 50), strict=True):
            page.locator(f'[id="field-{item.key}.{scenario.key}"]').fill(str(value))

    # Numeric estimate (IDEA): asked lowest, highest, best guess, confidence — in order.
    estimate = page.locator('[id="field-transfers_next_year"]')
    names = estimate.locator("input").evaluate_all("inputs => inputs.map(i => i.name)")
    assert names == [
        f"transfers_next_year.{part}" for part in ("lowest", "highest", "best", "confidence")
    ]
    for part, value in zip(names, ("10", "60", "25", "80"), strict=True):
        page.locator(f'[id="field-{part}"]').fill(value)

    # Ranking with the move buttons: trust down once, violence up twice.
    ranking = page.locator('[id="field-driver_ranking"] ol.ranking')
    down_trust = ranking.locator('li[data-option="trust"] .move button').nth(1)
    down_trust.click()
    assert down_trust.evaluate("button => document.activeElement === button")
    up_violence = ranking.locator('li[data-option="violence"] .move button').nth(0)
    up_violence.click()
    up_violence.click()
    order = ranking.locator("li").evaluate_all("items => items.map(li => li.dataset.option)")
    assert order == ["agendas", "trust", "violence", "trade", "us_politics"]
    for place, option in enumerate(order, start=1):
        assert page.locator(f'[id="field-driver_ranking.{option}"]').input_value() == str(place)

    # Open text, with its live character count.
    text = "Water-sharing disputes on the Rio Grande."
    page.locator("#field-missing_factors").fill(text)
    counter = page.locator('[data-counter-for="field-missing_factors"]')
    assert f"{len(text)} " in counter.inner_text() and "2000" in counter.inner_text()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_expert_completes_two_rounds(live_server, page, make_study, make_panel, post_answers, lang):
    study = make_study()
    me, *others = make_panel(study, 4, languages=(lang,))
    open_round(db.session, study)
    others_answer(post_answers, others, lang=lang)

    enter(page, live_server, me.token, lang=lang if lang != "en" else None)
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").inner_text() == study.title[lang]
    assert text_of("trust_now", lang) in page.locator('[id="field-trust_now"] legend').inner_text()
    assert (
        text_of("missing_factors", lang)
        in page.locator("label[for=field-missing_factors]").inner_text()
    )
    review_button = page.locator('button[name="action"][value="review"]:not([aria-hidden])')
    if (expected := interface(lang, "Review and submit")) is not None:
        assert review_button.inner_text() == expected
        assert page.locator('button[name="action"][value="save"]').inner_text() == interface(
            lang, "Save draft"
        )

    answer_round_one(page, lang)
    assert "28" in page.locator("#progress").inner_text()
    assert "30" in page.locator("#progress").inner_text()

    # A click waits only for the next page to start loading: wait for it to load,
    # or the count below may read a half-parsed page (seen in CI under load).
    with page.expect_navigation():
        review_button.click()
    unanswered = page.locator("#unanswered .review-question-text")
    expect(unanswered).to_have_count(len(SKIPPED))
    listed = unanswered.all_inner_texts()
    for key in SKIPPED:
        assert text_of(key, lang) in listed
    if lang == "en":
        assert "You answered 28 of 30 questions" in page.locator("main").inner_text()
    submit = page.locator('button[name="action"][value="submit"]')
    if (expected := interface(lang, "Submit my answers")) is not None:
        assert submit.inner_text() == expected
    with page.expect_navigation():
        submit.click()
    thanks = interface(lang, THANKS)
    notice = page.locator(".notice").inner_text()
    if thanks is not None:
        assert notice == thanks % {"number": 1}
    else:
        assert "1" in notice

    answers = stored_answers(me, 1)
    assert len(answers) == 30 - len(SKIPPED)
    assert answers["signpost_mass_transfers"][0] == {
        "components": {"status_quo": 90, "rift": 10, "renewal": 50}
    }
    assert answers["trust_now"][0] == {"value": 5}
    assert answers["trust_horizon"][0] == {"cannot_judge": True}
    assert answers["trigger_officials_implicated"][0] == {"value": 12.5 if lang == "es" else 35}
    assert answers["trigger_tariffs"][0] == {"value": 62}
    assert answers["scenarios"][0] == {
        "components": {"status_quo": 33.3, "rift": 33.3, "renewal": 33.4}
    }
    assert answers["transfers_next_year"][0] == {
        "components": {"lowest": 10, "highest": 60, "best": 25, "confidence": 80}
    }
    assert answers["driver_ranking"][0] == {
        "components": {"agendas": 1, "trust": 2, "violence": 3, "trade": 4, "us_politics": 5}
    }
    assert answers["missing_factors"][0] == {"text": "Water-sharing disputes on the Rio Grande."}

    # Round 2: the panel's distribution beside the expert's own round-1 answer.
    close_round(db.session, study)
    open_round(db.session, study)
    page.goto(f"{live_server}/e/")
    assert page.locator("html").get_attribute("lang") == lang
    feedback = page.locator('[data-feedback-item="trust_now"]')
    chart = feedback.locator("svg.distribution-chart")
    assert chart.count() == 1 and chart.is_visible()
    # Round-1 ratings of trust_now: 1, 2, 3 (simulated) and 5 (this expert).
    assert feedback.locator('[data-stat="median"]').get_attribute("data-value") == "2.5"
    assert feedback.locator("[data-own]").get_attribute("data-own") in ("5", "5.0")
    summary = feedback.locator(".feedback-summary").inner_text()
    assert "5" in summary
    if lang == "en":
        assert "Your answer: 5." in summary
        assert "Panel median 2.5" in summary
    # The page starts from the expert's previous answers, to keep or revise.
    assert page.locator('input[name="trust_now"][value="5"]').is_checked()
    assert page.locator("#field-trigger_tariffs").input_value() == "62"
    tariffs = page.locator('[data-feedback-item="trigger_tariffs"]')
    assert tariffs.locator("svg.distribution-chart").is_visible()

    page.locator('input[name="trust_now"][value="3"]').check()
    page.locator("#field-trigger_tariffs").fill("40")
    page.locator('[id="field-rationale.trigger_tariffs"]').fill("Tariff talks resumed.")
    with page.expect_navigation():  # as in round 1: all_inner_texts() reads at once
        page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    # The open question is asked afresh each round: it does not carry over.
    page.locator("#unanswered .review-question-text").first.wait_for()  # the review page
    listed = page.locator("#unanswered .review-question-text").all_inner_texts()
    assert sorted(listed) == sorted(text_of(key, lang) for key in (*SKIPPED, "missing_factors"))
    with page.expect_navigation():
        page.locator('button[name="action"][value="submit"]').click()
    if thanks is not None:
        assert page.locator(".notice").inner_text() == thanks % {"number": 2}

    second = stored_answers(me, 2)
    assert second["trust_now"][0] == {"value": 3}
    assert second["trigger_tariffs"] == ({"value": 40}, "Tariff talks resumed.")
    assert second["scenarios"][0] == answers["scenarios"][0]
    assert set(second) == set(answers) - {"missing_factors"}
