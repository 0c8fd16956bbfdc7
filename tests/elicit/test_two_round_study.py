"""Acceptance: a complete two-round study through the domain functions and expert pages."""

from __future__ import annotations

import html
import random

import numpy as np
import pytest
from babel.numbers import format_decimal

from elicit.extensions import db
from surveys.models import RoundStatus
from surveys.rounds import close_round, open_round
from tests.feedback_parser import parse_feedback, withheld_items

PANEL_SIZE = 12


def random_answers(rng: random.Random, definition) -> dict[str, str]:
    """A full, valid set of answers for the demo study, as an expert would type them."""
    answers: dict[str, str] = {}
    for item in definition.items:
        if item.kind == "likert":
            answers[item.key] = str(rng.randint(item.scale.minimum, item.scale.maximum))
        elif item.kind == "probability":
            answers[item.key] = str(rng.randint(0, 100))
        elif item.kind == "scenario_set":
            first = rng.randint(0, 100)
            second = rng.randint(0, 100 - first)
            values = [first, second, 100 - first - second]
            for scenario, value in zip(item.scenarios, values, strict=True):
                answers[f"{item.key}.{scenario.key}"] = str(value)
        elif item.kind == "ranking":
            places = list(range(1, len(item.options) + 1))
            rng.shuffle(places)
            for option, place in zip(item.options, places, strict=True):
                answers[f"{item.key}.{option.key}"] = str(place)
        elif item.kind == "numeric_estimate":
            low = rng.randint(0, 40)
            best = low + rng.randint(0, 30)
            answers[f"{item.key}.lowest"] = str(low)
            answers[f"{item.key}.best"] = str(best)
            answers[f"{item.key}.highest"] = str(best + rng.randint(0, 50))
            answers[f"{item.key}.confidence"] = str(rng.choice([50, 70, 80, 90]))
        elif item.kind == "open_text":
            answers[item.key] = f"Something about {rng.choice(['tariffs', 'fentanyl'])}."
        if item.numeric and rng.random() < 0.3:
            answers[f"rationale.{item.key}"] = "Because of recent events."
    return answers


def plain(value: float) -> str:
    """A number as an English page prints it: at most two decimals, thousands grouped."""
    return format_decimal(round(value, 2), locale="en")


def expected_statistics(values: list[float]) -> dict[str, float]:
    """Median and quartiles by Hyndman & Fan type 7, computed here with numpy."""
    q1, median, q3 = np.percentile(values, [25, 50, 75], method="linear")
    return {"median": median, "q1": q1, "q3": q3, "iqr": q3 - q1, "n": len(values)}


def test_two_round_study(app, client, make_study, make_panel, post_answers, demo_definition):
    study = make_study()
    links = make_panel(study, PANEL_SIZE)
    round_one = open_round(db.session, study)
    rng = random.Random(20261127)
    given = {link.token: random_answers(rng, demo_definition) for link in links}

    for link in links:
        response = post_answers(link.token, given[link.token])
        assert response.status_code == 302, response.text
    summary = close_round(db.session, study)
    assert round_one.status == RoundStatus.CLOSED
    assert summary.respondents == PANEL_SIZE
    open_round(db.session, study)

    # The panel's round-1 distributions, computed from what the experts typed.
    distributions: dict[tuple[str, str], list[float]] = {}
    for answers in given.values():
        for field, value in answers.items():
            if field.startswith("rationale.") or field == "missing_factors":
                continue
            item, _, component = field.partition(".")
            distributions.setdefault((item, component), []).append(float(value))
    # drivers, ranking options, scenarios, triggers, estimate parts, signposts
    assert len(distributions) == 4 + 5 + 3 + 7 + 4 + 6

    for link in links:
        page = client.get(f"/e/{link.token}?lang=en", follow_redirects=True)
        assert page.status_code == 200
        assert "Round 2 of at most 3" in page.text
        shown = parse_feedback(page.text)
        assert set(shown) == set(distributions)
        for (item, component), values in distributions.items():
            expected = expected_statistics(values)
            line = shown[(item, component)]
            for name in ("median", "q1", "q3", "iqr"):
                assert float(line[name]) == pytest.approx(expected[name]), (item, name)
            assert int(line["n"]) == PANEL_SIZE
            field = f"{item}.{component}" if component else item
            assert float(line["own"]) == float(given[link.token][field])
            if not component:  # and the sentence the expert reads says the same
                unit = " %" if item.startswith("trigger_") else ""
                words = (
                    f"Panel median {plain(expected['median'])}{unit}; the middle half of the "
                    f"panel answered between {plain(expected['q1'])}{unit} and "
                    f"{plain(expected['q3'])}{unit} ({PANEL_SIZE} answers). "
                    f"Your answer: {plain(float(given[link.token][field]))}{unit}."
                )
                assert words in html.unescape(page.text), (item, words)


def test_round_two_feedback_in_spanish(app, client, make_study, make_panel, post_answers):
    study = make_study()
    links = make_panel(study, 3)
    open_round(db.session, study)
    for value, link in zip(("2", "3", "5"), links, strict=True):
        answers = {"trust_now": value}
        if value == "2":
            answers["trust_horizon"] = "4"  # the only answer to this item
        assert post_answers(link.token, answers).status_code == 302
    close_round(db.session, study)
    open_round(db.session, study)
    page = client.get(f"/e/{links[0].token}?lang=es", follow_redirects=True)
    assert "¿Cuánta confianza existe hoy" in page.text
    assert "Muy baja" in page.text
    shown = parse_feedback(page.text)
    assert float(shown[("trust_now", "")]["median"]) == 3.0
    assert float(shown[("trust_now", "")]["own"]) == 2.0
    # Items fewer than three panelists answered show no numbers at all...
    assert ("trust_horizon", "") not in shown
    assert "trust_horizon" in withheld_items(page.text)
    assert "trust_now" not in withheld_items(page.text)
    assert 'data-q1-value="4' not in page.text  # ...not even the quartiles behind them
    # An item nobody answered has no feedback block at all.
    assert 'data-feedback-item="agenda_now"' not in page.text
