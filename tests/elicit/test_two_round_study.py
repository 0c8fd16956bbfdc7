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
from surveys.simulation import simulated_answers
from tests.feedback_parser import parse_feedback, withheld_items

PANEL_SIZE = 12


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
    given = {link.token: simulated_answers(rng, demo_definition) for link in links}

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
    # drivers, ranking options, scenarios, triggers, cross-impact cells (2 triggers × 3
    # scenarios), estimate parts, signposts rated on a likert scale, signposts rated per
    # scenario, seed questions' three percentiles
    assert len(distributions) == 4 + 5 + 3 + 7 + 2 * 3 + 4 + 6 + 3 * 3 + 5 * 3
    # Seed questions measure each expert's calibration: the panel's answers to them are
    # never fed back.
    seeds = {key for key in distributions if key[0].startswith("seed_")}
    assert len(seeds) == 5 * 3
    distributions = {key: values for key, values in distributions.items() if key not in seeds}

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
