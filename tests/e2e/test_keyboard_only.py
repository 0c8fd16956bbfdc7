"""An expert answers a whole round with the keyboard alone: Tab, Shift+Tab, Space,
Enter, arrow keys and typing — no mouse, no programmatic filling — and can always
see where the focus is."""

from __future__ import annotations

import pytest

from elicit.extensions import db
from surveys.rounds import open_round
from tests.e2e.support import Keyboard, enter, items_of, pretty, stored_answers

pytestmark = pytest.mark.e2e

OUTLINE = "() => getComputedStyle(document.activeElement).outlineStyle"


def by_id(element_id: str) -> str:
    """A selector for an id containing dots (``field-scenarios.rift``)."""
    return f'[id="{element_id}"]'


def test_expert_completes_a_round_with_the_keyboard_only(live_server, page, make_study, make_panel):
    study = make_study()
    (me,) = make_panel(study, 1, languages=("en",))
    open_round(db.session, study)
    enter(page, live_server, me.token)
    keys = Keyboard(page)
    outlines: dict[str, str] = {}

    likert_choices = {"trust_now": 4, "trust_horizon": 6}  # the 6th is "I can't judge this"

    def rate(key: str, position: int) -> None:
        """Tab into the radio group, select its first option, arrow to ``position``."""
        keys.tab_to(f'input[type="radio"][name="{key}"]')
        outlines.setdefault("radio", page.evaluate(OUTLINE))
        keys.press("Space")
        keys.press("ArrowRight", position - 1)

    def type_into(element_id: str, text: str) -> None:
        keys.tab_to(by_id(element_id))
        keys.type(text)

    likert = items_of("likert")
    drivers = [item for item in likert if item.section == "drivers"]
    signposts = [item for item in likert if item.section != "drivers"]
    for position, item in enumerate(drivers):
        rate(item.key, likert_choices.get(item.key, position % 5 + 1))

    # Ranking, with the move buttons: Enter on "down" for trust, Space twice on "up"
    # for violence.  Focus stays on the pressed button as its option moves.
    keys.tab_to('li[data-option="trust"] .move button:nth-child(2)')
    outlines.setdefault("button", page.evaluate(OUTLINE))
    keys.press("Enter")
    keys.tab_to('li[data-option="violence"] .move button:nth-child(1)')
    keys.press("Space", 2)
    order = page.locator("ol.ranking li").evaluate_all(
        "items => items.map(li => li.dataset.option)"
    )
    assert order == ["agendas", "trust", "violence", "trade", "us_politics"]

    # Scenarios: 30 each, then the rescale button, pressed with Enter.
    for scenario in ("status_quo", "rift", "renewal"):
        type_into(f"field-scenarios.{scenario}", "30")
    keys.tab_to("[data-rescale]")
    keys.press("Enter")
    assert page.locator(by_id("field-scenarios.renewal")).input_value() == "33.4"
    # Back to the first scenario with Shift+Tab: nothing is lost on the way.
    keys.tab_to(by_id("field-scenarios.status_quo"), backwards=True)
    assert page.locator(by_id("field-scenarios.status_quo")).input_value() == "33.3"

    # Probabilities: typed, except one set with the slider's keys.
    for position, item in enumerate(items_of("probability")):
        if item.key == "trigger_tariffs":
            keys.tab_to(f'[data-slider-for="field-{item.key}"]')
            keys.press("End")
            keys.press("ArrowLeft", 30)
            assert page.locator(by_id(f"field-{item.key}")).input_value() == "70"
        else:
            type_into(f"field-{item.key}", str(10 + position))
            outlines.setdefault("text input", page.evaluate(OUTLINE))

    # The cross-impact item: one scenario set per trigger, typed.
    (cross,) = items_of("cross_impact")
    for trigger in cross.triggers:
        for scenario, share in zip(cross.scenarios, ("50", "30", "20"), strict=True):
            type_into(f"field-{cross.key}.{trigger.key}:{scenario.key}", share)

    for seed in items_of("seed"):
        for part, value in (("q05", "1"), ("q50", "2"), ("q95", "3")):
            type_into(f"field-{seed.key}.{part}", value)

    for part, value in (("lowest", "8"), ("highest", "45"), ("best", "20"), ("confidence", "75")):
        type_into(f"field-transfers_next_year.{part}", value)

    for position, item in enumerate(signposts):
        rate(item.key, position % 5 + 1)

    # Signposts: one percentage per scenario, typed.
    for item in items_of("signpost"):
        for scenario in item.scenarios:
            type_into(f"field-{item.key}.{scenario.key}", "40")

    type_into("field-missing_factors", "Remittance flows.")

    keys.tab_to('button[name="action"][value="review"]:not([aria-hidden])')
    with page.expect_navigation():
        keys.press("Enter")
    assert page.locator("h1").inner_text() == "Review your answers"
    assert page.locator("#unanswered").count() == 0
    keys.tab_to('button[name="action"][value="submit"]')
    with page.expect_navigation():
        keys.press("Enter")
    assert "your answers to round 1 are submitted" in page.locator(".notice").inner_text()

    answers = stored_answers(me, 1)
    assert len(answers) == 30, pretty(sorted(answers))
    assert answers["trust_now"][0] == {"value": 4}
    assert answers["trust_horizon"][0] == {"cannot_judge": True}
    assert answers["trigger_tariffs"][0] == {"value": 70}
    assert answers["scenarios"][0] == {
        "components": {"status_quo": 33.3, "rift": 33.3, "renewal": 33.4}
    }
    assert answers["driver_ranking"][0] == {
        "components": {"agendas": 1, "trust": 2, "violence": 3, "trade": 4, "us_politics": 5}
    }
    assert answers["transfers_next_year"][0] == {
        "components": {"lowest": 8, "highest": 45, "best": 20, "confidence": 75}
    }
    assert answers["missing_factors"][0] == {"text": "Remittance flows."}
    assert answers[cross.key][0] == {
        "components": {
            f"{trigger.key}:{scenario.key}": share
            for trigger in cross.triggers
            for scenario, share in zip(cross.scenarios, (50, 30, 20), strict=True)
        }
    }

    # Focus is visible on a radio, a text input and a button, and on every other
    # element the Tab key reached on the way.
    assert set(outlines) == {"radio", "text input", "button"}
    assert "none" not in outlines.values(), outlines
    assert not keys.invisible_focus, "focus not visible on:\n" + pretty(keys.invisible_focus)
