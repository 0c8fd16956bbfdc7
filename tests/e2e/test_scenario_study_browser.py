"""Issue 16's whole lifecycle in a real browser: a study with scenarios, two triggers
and their cross-impact, three diagnostic signposts, four seed questions and a numeric
estimate; three experts answer two rounds through their own pages; the facilitator
closes both rounds from the console, records two observations in the scenario tracker
and resolves the two triggers; the tracker, the scores and the classical model's
weights then appear on the study page and in the report, in English and in Spanish."""

from __future__ import annotations

import random
import re

import pytest
from playwright.sync_api import expect

from elicit.extensions import db
from surveys.definition import parse_definition
from surveys.models import RoundSummary
from surveys.simulation import simulated_answers
from tests.conftest import PASSWORD
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    enter,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

SLUG = "scenario-watch"

SOURCE = """
[study]
slug = "scenario-watch"
languages = ["en", "es"]
max_rounds = 2
feedback_min_n = 3

[study.title]
en = "Scenario watch"
es = "Vigilancia de escenarios"

[consensus]
criteria = [{ kind = "iqr", max = 20 }]

[[sections]]
key = "scenarios"
title = { en = "Scenarios", es = "Escenarios" }

[[sections]]
key = "triggers"
title = { en = "Triggers", es = "Detonantes" }

[[sections]]
key = "signposts"
title = { en = "Signposts", es = "Señales" }

[[sections]]
key = "calibration"
title = { en = "Calibration", es = "Calibración" }

[[items]]
key = "scenarios"
section = "scenarios"
kind = "scenario_set"
text = { en = "How likely is each scenario?", es = "¿Qué probabilidad tiene cada escenario?" }

[[items.scenarios]]
key = "steady"
text = { en = "Steady cooperation", es = "Cooperación estable" }

[[items.scenarios]]
key = "rift"
text = { en = "A rift", es = "Una ruptura" }

[[items.scenarios]]
key = "renewal"
text = { en = "Renewal", es = "Renovación" }

[[items]]
key = "trigger_tariffs"
section = "triggers"
kind = "probability"
text = { en = "Tariffs and retaliation", es = "Aranceles y represalias" }

[[items]]
key = "trigger_raid"
section = "triggers"
kind = "probability"
text = { en = "A unilateral raid", es = "Una incursión unilateral" }

[[items]]
key = "impact"
section = "triggers"
kind = "cross_impact"
text.en = "If each trigger happened, how likely would each scenario be?"
text.es = "Si ocurriera cada detonante, ¿qué probabilidad tendría cada escenario?"
scenario_item = "scenarios"
triggers = ["trigger_tariffs", "trigger_raid"]

[[items]]
key = "signpost_troops"
section = "signposts"
kind = "signpost"
text = { en = "Troops massed at the border", es = "Tropas concentradas en la frontera" }
scenario_item = "scenarios"

[[items]]
key = "signpost_liaison"
section = "signposts"
kind = "signpost"
text = { en = "Liaison offices reopen", es = "Reabren las oficinas de enlace" }
scenario_item = "scenarios"

[[items]]
key = "signpost_summit"
section = "signposts"
kind = "signpost"
text = { en = "A security summit is held", es = "Se celebra una cumbre de seguridad" }
scenario_item = "scenarios"

[[items]]
key = "transfers"
section = "triggers"
kind = "numeric_estimate"
unit = { en = "people", es = "personas" }
text = { en = "How many transfers next year?", es = "¿Cuántos traslados el próximo año?" }

[[items]]
key = "seed_one"
section = "calibration"
kind = "seed"
answer = 58
text.en = "Fictional case file: extraditions in 2019?"
text.es = "Expediente ficticio: ¿extradiciones en 2019?"

[[items]]
key = "seed_two"
section = "calibration"
kind = "seed"
answer = 143
text.en = "Fictional case file: joint operations in 2020?"
text.es = "Expediente ficticio: ¿operaciones conjuntas en 2020?"

[[items]]
key = "seed_three"
section = "calibration"
kind = "seed"
answer = 37
text.en = "Fictional case file: liaison officers in 2022?"
text.es = "Expediente ficticio: ¿oficiales de enlace en 2022?"

[[items]]
key = "seed_four"
section = "calibration"
kind = "seed"
answer = 12
text.en = "Fictional case file: vetted units in 2023?"
text.es = "Expediente ficticio: ¿unidades certificadas en 2023?"
"""


def _log_in(page, live_server: str) -> None:
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/console/")


def _study_page(page, live_server: str, lang: str | None = None) -> None:
    suffix = f"?lang={lang}" if lang else ""
    page.goto(f"{live_server}/console/studies/{SLUG}{suffix}")


def _answer(new_page, live_server: str, token: str, seed: int, round_number: int) -> None:
    """One expert answers every item through their own page and submits."""
    definition = parse_definition(SOURCE, name="test")
    answers = simulated_answers(random.Random(seed * 10 + round_number), definition)
    page = new_page(viewport={"width": 1280, "height": 900})
    enter(page, live_server, token)
    for name, value in answers.items():
        if name.startswith("rationale."):
            continue
        page.locator(f'[id="field-{name}"]').fill(value)
    page.locator('button[name="action"][value="review"]:not([aria-hidden])').click()
    page.locator('button[name="action"][value="submit"]').click()
    expect(page.locator(".notice")).to_contain_text(str(round_number))
    page.context.close()


def _open_round(page, live_server: str, number: int) -> None:
    _study_page(page, live_server)
    page.get_by_role("button", name=f"Open round {number}").click()
    page.get_by_role("button", name=f"Open round {number}", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Round {number} is open.")


def _close_round(page, live_server: str, number: int) -> None:
    _study_page(page, live_server)
    page.get_by_role("link", name=f"Preview and close round {number}").click()
    page.get_by_role("button", name="Close the round", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Round {number} is closed")


def test_scenarios_signposts_seeds_tracker_and_scores_from_start_to_end(
    live_server, new_page, make_study, make_panel, make_user, artifacts
):
    study = make_study(SOURCE)
    links = make_panel(study, 3)
    make_user("lead@example.org", studies=[study])
    page = new_page(viewport={"width": 1280, "height": 900})
    serve_axe(page, live_server)
    _log_in(page, live_server)

    for number in (1, 2):
        _open_round(page, live_server, number)
        for seed, link in enumerate(links):
            _answer(new_page, live_server, link.token, seed, number)
        _close_round(page, live_server, number)

    # Both closes stored the new analyses.
    summary = db.session.query(RoundSummary).order_by(RoundSummary.id.desc()).first()
    db.session.refresh(summary)
    assert {"cross_impact", "signposts", "classical_model"} <= set(summary.statistics)

    # Two observations in the tracker: a signpost seen, then a trigger that occurred.
    _study_page(page, live_server)
    page.get_by_role("link", name="Scenario tracker").first.click()
    for item, what, when in (
        ("signpost_troops", "The signpost was seen", "2026-03-01"),
        ("trigger_tariffs", "The trigger occurred", "2026-04-02"),
    ):
        page.get_by_label("Signpost or trigger").select_option(item)
        page.get_by_label("What was observed").select_option(label=what)
        page.get_by_label("Date observed").fill(when)
        page.get_by_label("Source or note").fill(f"Newspaper of {when}")
        # The second save says what the first did: wait for its own page.
        with page.expect_navigation():
            page.get_by_role("button", name="Record the observation").click()
        expect(page.get_by_role("status")).to_contain_text("The observation is recorded.")

    # The two triggers resolve: tariffs happened, the raid did not.
    _study_page(page, live_server)
    page.get_by_role("link", name="Outcomes and scores").first.click()
    for key, outcome in (("trigger_tariffs", "It happened"), ("trigger_raid", "It did not happen")):
        form = page.locator(f"#item-{key}")
        form.get_by_label("What happened").select_option(label=outcome)
        form.get_by_label("Known on").fill("2026-06-30")
        form.get_by_label("Source").fill("Official gazette")
        with page.expect_navigation():  # as above: the same status after each save
            form.get_by_role("button", name="Record the outcome").click()
        expect(page.get_by_role("status")).to_contain_text("The outcome is recorded.")

    for lang, words in (("en", ENGLISH), ("es", SPANISH)):
        _study_page(page, live_server, lang)
        study_text = page.locator("main").inner_text()
        for heading in words["study"]:
            assert heading in study_text, (lang, heading)
        # The tracker moved the probabilities: "now" differs from the prior.
        rows = page.locator("#tracker-now tbody tr")
        expect(rows).to_have_count(3)
        moved = [row.locator("td").all_inner_texts() for row in rows.all()]
        assert any(prior != now for prior, now in moved), moved
        violations = axe_violations(page, live_server)
        assert not violations, describe_violations(f"study page ({lang})", violations)
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 900})
            wide, culprits = horizontal_overflow(page, width)
            assert wide <= width, culprits
            save_screenshot(page, artifacts, f"scenario-study-{lang}-{width}")
        page.set_viewport_size({"width": 1280, "height": 900})

        page.goto(f"{live_server}/console/studies/{SLUG}/report?lang={lang}")
        report = page.locator("main").inner_text()
        for heading in words["report"]:
            assert heading in report, (lang, heading)
        for section in ("#tracker", "#classical-model", "#signposts", "#impact-impact", "#scores"):
            expect(page.locator(section)).to_be_visible()
        weights = page.locator("#classical-model table").first
        assert re.search(r"\d", weights.inner_text())
        save_screenshot(page, artifacts, f"scenario-report-{lang}")


ENGLISH = {
    "study": ["Scenario tracker", "Expert weights", "Scores"],
    "report": [
        "After the study: scenario tracker",
        "Seed questions and expert weights (Cooke's classical model)",
        "Diagnostic signposts",
        "Outcomes and scores",
    ],
}
SPANISH = {
    "study": ["Seguimiento de los escenarios", "Pesos de los expertos", "Puntuaciones"],
    "report": [
        "Después del estudio: seguimiento de los escenarios",
        "Preguntas de calibración y pesos de los expertos (modelo clásico de Cooke)",
        "Señales diagnósticas",
        "Desenlaces y puntuaciones",
    ],
}
