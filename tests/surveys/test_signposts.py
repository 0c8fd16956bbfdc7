"""Signpost items through the study lifecycle (issue 16, point 2): definition, answers,
close."""

from __future__ import annotations

import json
import math

import pytest

import analysis
from elicit.extensions import db
from surveys.answers import parse_answers
from surveys.curation import reword_item
from surveys.definition import InvalidDefinition, parse_definition, parse_item
from surveys.definition_writer import definition_to_toml
from surveys.errors import AnswerError, InvalidAnswers
from surveys.rounds import close_round, open_round, responses_frame
from surveys.serialization import item_from_json, item_to_json, item_to_toml
from tests.surveys.signpost_support import ANSWERS, SCENARIOS, SIGNPOST_STUDY, form

DEFINITION = parse_definition(SIGNPOST_STUDY, name="signposts.toml")
TROOPS = DEFINITION.items[1]


def problems(source: str) -> list[str]:
    """The loader's problems with ``source``, as ``field: message``."""
    with pytest.raises(InvalidDefinition) as refused:
        parse_definition(source, name="s.toml")
    return [f"{error.field}: {error.message}" for error in refused.value.errors]


# -- definition --------------------------------------------------------------------------


def test_a_signpost_takes_the_scenarios_of_its_scenario_set():
    assert TROOPS.kind == "signpost"
    assert TROOPS.scenario_item == "scenarios"
    assert TROOPS.components == SCENARIOS
    assert TROOPS.bounds == (0.0, 100.0)
    assert TROOPS.scenarios == DEFINITION.items[0].scenarios


def test_the_writer_and_the_stored_spec_round_trip_a_signpost():
    text = definition_to_toml(DEFINITION)
    assert parse_definition(text, name="written.toml") == DEFINITION
    assert definition_to_toml(parse_definition(text)) == text
    # The text names the scenario set and does not repeat its scenarios.
    block = item_to_toml(TROOPS)
    assert 'scenario_item = "scenarios"' in block
    assert "[[items.scenarios]]" not in block
    assert item_from_json(TROOPS.key, TROOPS.kind, item_to_json(TROOPS)) == TROOPS
    scenario_sets = {"scenarios": DEFINITION.items[0].scenarios}
    assert parse_item(block, languages=("en", "es"), scenario_sets=scenario_sets) == TROOPS


NAMED = 'scenario_item = "scenarios"\ntext = { en = "Troops'


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        (
            'text = { en = "Troops',
            "items.signpost_troops.scenario_item: required field is missing",
        ),
        (
            'scenario_item = "nothing"\ntext = { en = "Troops',
            "items.signpost_troops.scenario_item: no item has the key 'nothing'; name a "
            "scenario_set item of the study (scenarios)",
        ),
        (
            'scenario_item = "signpost_talks"\ntext = { en = "Troops',
            "items.signpost_troops.scenario_item: item 'signpost_talks' is not a scenario "
            "set; name a scenario_set item of the study (scenarios)",
        ),
        (
            'scenario_item = "Bad Key"\ntext = { en = "Troops',
            "items.signpost_troops.scenario_item: 'Bad Key' is not an item key; name a "
            "scenario_set item of the study",
        ),
        (
            'scenario_item = 3\ntext = { en = "Troops',
            "items.signpost_troops.scenario_item: must be a string, not an integer",
        ),
    ],
)
def test_a_bad_scenario_item_is_refused_naming_the_field(replacement, expected):
    assert expected in problems(SIGNPOST_STUDY.replace(NAMED, replacement, 1))


def test_signposts_of_one_study_name_the_same_scenario_set():
    second_set = """
[[items]]
key = "other_set"
kind = "scenario_set"
text = { en = "Other", es = "Otro" }

[[items.scenarios]]
key = "a"
text = { en = "A", es = "A" }

[[items.scenarios]]
key = "b"
text = { en = "B", es = "B" }
"""
    source = SIGNPOST_STUDY.replace(
        'scenario_item = "scenarios"\ntext = { en = "Talks',
        'scenario_item = "other_set"\ntext = { en = "Talks',
    )
    assert problems(source + second_set) == [
        "items.signpost_talks.scenario_item: every signpost of a study names the same "
        "scenario set; 'signpost_troops' names 'scenarios'"
    ]


def test_a_signpost_does_not_take_scenarios_of_its_own():
    source = SIGNPOST_STUDY.replace(
        'text = { en = "It rains in May.", es = "Llueve en mayo." }',
        'text = { en = "It rains in May.", es = "Llueve en mayo." }\n\n'
        '[[items.scenarios]]\nkey = "x"\ntext = { en = "X", es = "X" }',
    )
    assert any(
        line.startswith("items.signpost_weather.scenarios: unknown field")
        for line in problems(source)
    )


# -- answers -----------------------------------------------------------------------------


def errors_of(fields: dict[str, str]) -> list[AnswerError]:
    """The problems a signpost answer is refused with."""
    with pytest.raises(InvalidAnswers) as refused:
        parse_answers([TROOPS], fields)
    return refused.value.errors


def troops(calm: str, storm: str, thaw: str) -> dict[str, str]:
    """The three fields of the troops signpost."""
    return {
        "signpost_troops.calm": calm,
        "signpost_troops.storm": storm,
        "signpost_troops.thaw": thaw,
    }


def test_likelihoods_need_not_sum_to_anything():
    parsed = parse_answers([TROOPS], troops("90", "95", "12.5"))
    assert parsed.answers == {
        "signpost_troops": {"components": {"calm": 90, "storm": 95, "thaw": 12.5}}
    }
    assert parse_answers([TROOPS], troops("", "", "")).answers == {}


@pytest.mark.parametrize(
    ("typed", "code", "params"),
    [
        ("101", "out_of_range", {"min": 0, "max": 100}),
        ("-1", "out_of_range", {"min": 0, "max": 100}),
        ("$50", "not_a_number", {}),
        ("=1+1", "not_a_number", {}),
        ("5\x00", "not_a_number", {}),
        ("\x1b[31m", "not_a_number", {}),
        ("1,000", "ambiguous_number", {}),
        ("", "likelihood_missing", {}),
    ],
)
def test_a_bad_likelihood_is_refused_on_its_own_field(typed, code, params):
    assert errors_of(troops("10", typed, "20")) == [
        AnswerError("signpost_troops.storm", code, params)
    ]


def test_every_bad_likelihood_is_reported_at_once():
    assert [error.field for error in errors_of(troops("120", "x", ""))] == [
        "signpost_troops.calm",
        "signpost_troops.storm",
        "signpost_troops.thaw",
    ]


# -- close -------------------------------------------------------------------------------


def answer_round(study, links, post_answers):
    """Open a round, submit :data:`ANSWERS`, close it."""
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        response = post_answers(link.token, form(answers))
        assert response.status_code == 302, response.text
    return close_round(db.session, study)


def test_close_stores_the_analysis_of_the_rounds_signposts(
    app, make_study, make_panel, post_answers
):
    study = make_study(SIGNPOST_STUDY)
    links = make_panel(study, 3)
    summary = answer_round(study, links, post_answers)
    stored = summary.statistics["signposts"]
    frame = responses_frame(db.session, study, round_numbers=[1])
    expected = analysis.signpost_diagnostics(
        frame,
        signpost_items=["signpost_troops", "signpost_talks", "signpost_weather"],
        scenario_item="scenarios",
        round_number=1,
    )
    assert stored["scenario_item"] == "scenarios"
    assert stored["scenarios"] == list(SCENARIOS)
    assert stored["signposts"] == ["signpost_troops", "signpost_talks", "signpost_weather"]
    for signpost, row in stored["matrix"].items():
        for scenario, value in row.items():
            assert value == pytest.approx(expected.matrix.at[signpost, scenario], abs=1e-12)
    for scenario, value in stored["prior"].items():
        assert value == pytest.approx(expected.prior[scenario], abs=1e-12)
    ranking = expected.ranking.reset_index()
    assert [row["signpost"] for row in stored["ranking"]] == list(ranking["signpost"])
    for row, (_, reference) in zip(stored["ranking"], ranking.iterrows(), strict=True):
        assert row["information_gain"] == pytest.approx(reference["information_gain"], abs=1e-12)
        assert row["log_lr_range"] == pytest.approx(reference["log_lr_range"], abs=1e-12)
    likelihoods = expected.likelihoods
    for row in stored["likelihoods"]:
        reference = likelihoods.loc[(row["signpost"], row["scenario"])]
        assert row["lr_vs_rest"] == pytest.approx(reference["lr_vs_rest"], abs=1e-12)
        assert row["n"] == 3
    assert len(stored["pairs"]) == 3 * 3 * 2

    # By hand: troops under storm is seen by the panel with (90 + 70 + 80) / 3 = 80 %,
    # under calm (10 + 20 + 0) / 3 = 10 %: seeing troops is 8 times likelier in a storm.
    assert stored["matrix"]["signpost_troops"]["storm"] == pytest.approx(0.8)
    assert stored["matrix"]["signpost_troops"]["calm"] == pytest.approx(0.1)
    (pair,) = [
        pair
        for pair in stored["pairs"]
        if (pair["signpost"], pair["scenario"], pair["versus"])
        == ("signpost_troops", "storm", "calm")
    ]
    assert pair["lr"] == pytest.approx(8.0)
    assert pair["lr_absent"] == pytest.approx((1 - 0.8) / (1 - 0.1))
    # The weather says nothing about the scenarios: ranked last.
    assert stored["ranking"][-1]["signpost"] == "signpost_weather"
    assert stored["settings"]["prior_source"] == "scenario_item"


def test_individual_likelihoods_carry_an_index_and_no_pseudonym(
    app, make_study, make_panel, post_answers
):
    study = make_study(SIGNPOST_STUDY)
    links = make_panel(study, 3)
    summary = answer_round(study, links, post_answers)
    stored = summary.statistics["signposts"]
    text = json.dumps(stored)
    for panelist in study.panelists:
        assert panelist.pseudonym not in text
    individual = stored["individual"]
    assert set(individual) == {"columns", "experts"}
    columns = [tuple(column) for column in individual["columns"]]
    assert len(columns) == 3 * 3 and len(individual["experts"]) == 3
    # Each expert's list holds one expert's answers, whole, in the order of the columns;
    # the experts are in the order of their answers, not of their pseudonyms.
    assert individual["experts"] == sorted(individual["experts"])
    by_expert = {
        expert: sorted(
            (signpost, scenario, value)
            for (signpost, scenario), value in zip(columns, values, strict=True)
        )
        for expert, values in enumerate(individual["experts"])
    }
    given = [
        sorted(
            (item, scenario, value / 100)
            for item, values in answers.items()
            if item != "scenarios"
            for scenario, value in zip(SCENARIOS, values, strict=True)
        )
        for answers in ANSWERS
    ]
    for rows in by_expert.values():
        assert any(
            all(
                math.isclose(a[2], b[2]) and a[:2] == b[:2]
                for a, b in zip(rows, expected, strict=True)
            )
            for expected in given
        )


def test_a_study_without_signposts_has_no_signposts_key(app, make_study, make_panel, post_answers):
    without = SIGNPOST_STUDY[: SIGNPOST_STUDY.index('[[items]]\nkey = "signpost_troops"')]
    study = make_study(without)
    links = make_panel(study, 1)
    open_round(db.session, study)
    post_answers(links[0].token, form({"scenarios": ANSWERS[0]["scenarios"]}))
    summary = close_round(db.session, study)
    assert summary.respondents == 1
    assert "signposts" not in summary.statistics


def test_rewording_the_scenario_set_rewords_its_signposts(
    app, make_study, make_panel, post_answers
):
    study = make_study(SIGNPOST_STUDY)
    links = make_panel(study, 3)
    answer_round(study, links, post_answers)
    scenarios = item_to_toml(DEFINITION.items[0]).replace('text.en = "Storm"', 'text.en = "Gale"')
    reword_item(db.session, study, "scenarios", scenarios, None, "a plainer word")
    troops = next(item for item in study.items if item.key == "signpost_troops")
    assert troops.version == 2
    assert troops.versions[-1].note == "the scenarios as worded in version 2 of scenarios"
    definition = item_from_json(troops.key, troops.kind, troops.spec)
    assert definition.scenarios[1].text.get("en") == "Gale"
    assert definition.components == SCENARIOS
