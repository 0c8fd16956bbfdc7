"""Cross-impact items through the study lifecycle: the definition and its writer, the
answers an expert may give, what a close stores (public and private)."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

import analysis
from elicit.extensions import db
from surveys.answers import parse_answers, submit_responses
from surveys.cross_impact import POOLING
from surveys.curation import reword_item
from surveys.definition import InvalidDefinition, parse_definition, parse_item
from surveys.definition_writer import definition_to_toml
from surveys.errors import InvalidAnswers
from surveys.models import CoherenceGap, Panelist
from surveys.panel import panelist_for_token
from surveys.rounds import close_round, open_round, responses_frame
from surveys.serialization import item_from_json, item_to_json, item_to_toml

SOURCE = """\
[study]
slug = "cross-study"
languages = ["en", "es"]
max_rounds = 2
title = { en = "Cross", es = "Cruce" }

[consensus]
criteria = [{ kind = "iqr", max = 20 }]

[[items]]
key = "futures"
kind = "scenario_set"
text = { en = "Which future?", es = "¿Qué futuro?" }

[[items.scenarios]]
key = "good"
text = { en = "Good", es = "Bueno" }

[[items.scenarios]]
key = "bad"
text = { en = "Bad", es = "Malo" }

[[items]]
key = "war"
kind = "probability"
text = { en = "A war breaks out.", es = "Estalla una guerra." }

[[items]]
key = "boom"
kind = "probability"
text = { en = "A boom.", es = "Un auge." }

[[items]]
key = "impact"
kind = "cross_impact"
text = { en = "If each happens, which future?", es = "Si ocurre, ¿qué futuro?" }
scenario_item = "futures"
triggers = ["war", "boom"]
"""


def test_a_cross_impact_item_takes_its_scenarios_and_trigger_texts() -> None:
    """Parts are trigger:scenario in trigger then scenario order; texts are copied."""
    definition = parse_definition(SOURCE)
    item = definition.items[-1]
    assert item.kind == "cross_impact"
    assert item.scenario_item == "futures"
    assert [scenario.key for scenario in item.scenarios] == ["good", "bad"]
    assert [trigger.key for trigger in item.triggers] == ["war", "boom"]
    assert item.triggers[0].text.get("es") == "Estalla una guerra."
    assert item.components == ("war:good", "war:bad", "boom:good", "boom:bad")
    assert item.bounds == (0.0, 100.0)


def test_the_writer_round_trips_a_cross_impact_item() -> None:
    """The canonical text reads back as the identical definition, and names the
    scenario item and the triggers rather than copying the scenarios."""
    definition = parse_definition(SOURCE)
    text = definition_to_toml(definition)
    assert parse_definition(text) == definition
    assert 'scenario_item = "futures"' in text
    assert 'triggers = ["war", "boom"]' in text
    assert text.count("[[items.scenarios]]") == 2  # only the scenario set's own


def test_the_stored_item_knows_its_parts_without_its_study() -> None:
    """JSON round trip keeps the copied scenarios and triggers."""
    item = parse_definition(SOURCE).items[-1]
    assert item_from_json(item.key, item.kind, item_to_json(item)) == item


def test_parse_item_looks_references_up_among_the_study_items() -> None:
    """An item added to a running study finds its scenario set and triggers."""
    definition = parse_definition(SOURCE)
    source = SOURCE.split("[[items]]")[-1]
    item = parse_item(
        "[[items]]" + source.replace('key = "impact"', 'key = "impact_two"'),
        languages=("en", "es"),
        taken_keys={item.key for item in definition.items},
        study_items=definition.items,
    )
    assert item.components[0] == "war:good"
    with pytest.raises(InvalidDefinition, match="scenario_item"):
        parse_item("[[items]]" + source, languages=("en", "es"))


SCENARIO_LINE = 'scenario_item = "futures"'
TRIGGER_LINE = 'triggers = ["war", "boom"]'


@pytest.mark.parametrize(
    ("line", "written", "field", "message"),
    [
        (SCENARIO_LINE, "", "scenario_item", "required field is missing"),
        (SCENARIO_LINE, 'scenario_item = "nowhere"', "scenario_item", "no item has the key"),
        (SCENARIO_LINE, 'scenario_item = "war"', "scenario_item", "'war' is a probability item"),
        (TRIGGER_LINE, "", "triggers", "required field is missing"),
        (TRIGGER_LINE, 'triggers = ["war", "futures"]', "triggers", "is a scenario_set item"),
        (TRIGGER_LINE, 'triggers = ["war", "nothing"]', "triggers", "no item has the key"),
        (TRIGGER_LINE, 'triggers = ["war", "war"]', "triggers", "'war' is listed twice"),
        (TRIGGER_LINE, "triggers = []", "triggers", "at least one trigger"),
        (TRIGGER_LINE, 'triggers = ["war", 3]', "triggers", "the key of a probability item"),
        (TRIGGER_LINE, 'triggers = "war"', "triggers", "must be a list"),
    ],
)
def test_bad_references_are_named(line: str, written: str, field: str, message: str) -> None:
    """Every problem names the item and the field."""
    with pytest.raises(InvalidDefinition) as raised:
        parse_definition(SOURCE.replace(line, written))
    problems = [str(error) for error in raised.value.errors]
    assert any(f"items.impact.{field}" in p and message in p for p in problems), problems


def test_too_many_triggers_are_refused() -> None:
    """At most ten triggers, each a probability item."""
    extra = "".join(
        f'\n[[items]]\nkey = "t{n}"\nkind = "probability"\ntext = {{ en = "T", es = "T" }}\n'
        for n in range(11)
    )
    listed = ", ".join(f'"t{n}"' for n in range(11))
    source = SOURCE.replace('triggers = ["war", "boom"]', f"triggers = [{listed}]") + extra
    with pytest.raises(InvalidDefinition, match="at most 10 triggers"):
        parse_definition(source)


ITEM = parse_definition(SOURCE).items[-1]


def errors_of(form: dict[str, str]) -> dict[str, str]:
    """Field → error code of parsing ``form`` for the cross-impact item."""
    with pytest.raises(InvalidAnswers) as raised:
        parse_answers([ITEM], form)
    return {error.field: error.code for error in raised.value.errors}


def test_each_trigger_row_is_a_scenario_set() -> None:
    """Rows summing to 100 are stored as trigger:scenario parts; a blank row is not
    answered; a blank item is no answer."""
    parsed = parse_answers(
        [ITEM], {"impact.war:good": "20", "impact.war:bad": "80,0 %", "impact.boom:good": ""}
    )
    assert parsed.answers["impact"] == {"components": {"war:good": 20.0, "war:bad": 80.0}}
    assert parse_answers([ITEM], {}).answers == {}


def test_a_wrong_total_is_reported_on_its_trigger() -> None:
    """The sum of each trigger's row is checked and named by the trigger."""
    assert errors_of(
        {
            "impact.war:good": "20",
            "impact.war:bad": "70",
            "impact.boom:good": "50",
            "impact.boom:bad": "50",
        }
    ) == {"impact.war": "scenario_sum"}


@pytest.mark.parametrize("raw", ["$", "=1+1", "1,000", "abc\x00", "-5", "101", "1e2"])
def test_bad_numbers_are_refused_in_a_row(raw: str) -> None:
    """Whatever is typed in one cell, that cell carries the problem."""
    problems = errors_of({"impact.war:good": raw, "impact.war:bad": "50"})
    assert "impact.war:good" in problems
    assert problems["impact.war:good"] in ("not_a_number", "ambiguous_number", "out_of_range")


def test_a_partly_filled_row_asks_for_the_rest() -> None:
    """A scenario left blank in a started row is missing, as in a scenario set."""
    assert errors_of({"impact.boom:bad": "100"}) == {"impact.boom:good": "scenario_missing"}


# -- closing ------------------------------------------------------------------------------

ANSWERS = [
    # P(good), P(war), P(boom), P(good | war), P(good | boom)
    (60, 50, 20, 20, 90),
    (50, 10, 40, 40, 80),
    (90, 30, 50, 10, 70),  # incoherent: P(good) ≤ 0.3·0.1 + 0.7 = 0.73
]


def _form(good: float, war: float, boom: float, good_war: float, good_boom: float) -> dict:
    return {
        "futures.good": str(good),
        "futures.bad": str(100 - good),
        "war": str(war),
        "boom": str(boom),
        "impact.war:good": str(good_war),
        "impact.war:bad": str(100 - good_war),
        "impact.boom:good": str(good_boom),
        "impact.boom:bad": str(100 - good_boom),
    }


def test_close_stores_the_impacts_and_each_experts_coherence(make_study, make_panel):
    """The summary's record equals analysis.cross_impact on the same frame; the third
    expert's gap is the hand-computed one; coherence is stored per panelist only."""
    study = make_study(SOURCE)
    links = make_panel(study, 3)
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        submit_responses(db.session, panelist_for_token(db.session, link.token), _form(*answers))
    frame = responses_frame(db.session, study, round_numbers=[1])

    summary = close_round(db.session, study)

    record = summary.statistics["cross_impact"]["impact"]
    expected = analysis.cross_impact(
        frame,
        scenario_item="futures",
        conditional_item="impact",
        trigger_items=["war", "boom"],
        round_number=1,
        quantile_method=study.quantile_method,
        **POOLING,
    )
    assert record["scenarios"] == ["good", "bad"]
    assert record["triggers"] == ["war", "boom"]
    assert record["unconditional"]["good"] == pytest.approx(expected.unconditional["good"])
    assert record["unconditional"]["good"] == pytest.approx((0.6 + 0.5 + 0.9) / 3)
    assert record["conditional"]["war"]["good"] == pytest.approx((0.2 + 0.4 + 0.1) / 3)
    rows = {(row["trigger"], row["scenario"]): row for row in record["impacts"]}
    table = expected.impacts
    for key, row in rows.items():
        for column in ("impact", "shift_sd", "shift_median", "n_paired"):
            assert row[column] == pytest.approx(table.loc[key, column]), (key, column)
    assert rows[("war", "good")]["impact"] == pytest.approx(0.7 / 3 - 2.0 / 3)
    assert record["coherence"]["experts"] == 3
    assert record["coherence"]["coherent"] == 2
    assert "panelist" not in str(record) and links[0].pseudonym not in str(summary.statistics)

    stored = {
        pseudonym: gap.record
        for gap, pseudonym in db.session.execute(
            select(CoherenceGap, Panelist.pseudonym).join(
                Panelist, Panelist.id == CoherenceGap.panelist_id
            )
        )
    }
    third = stored[links[2].pseudonym]
    # By hand: war bounds P(good) to [0.3·0.1, 0.3·0.1 + 0.7] = [0.03, 0.73], boom to
    # [0.5·0.7, 0.5·0.7 + 0.5] = [0.35, 0.85]; together [0.35, 0.73], and 0.9 lies
    # 0.17 above.  P(bad) in [max(0.27, 0.15), min(0.97, 0.65)] = [0.27, 0.65]: 0.1 lies
    # 0.17 below.  The nearest coherent set is (0.73, 0.27), 0.17 away.
    good, bad = third["scenarios"]["good"], third["scenarios"]["bad"]
    assert good["given"] == pytest.approx(0.9)
    assert (good["low"], good["high"], good["gap"]) == pytest.approx((0.35, 0.73, 0.17))
    assert (bad["low"], bad["high"], bad["gap"]) == pytest.approx((0.27, 0.65, -0.17))
    assert (good["implied"], bad["implied"]) == pytest.approx((0.73, 0.27))
    assert third["distance"] == pytest.approx(0.17)
    assert third["coherent"] is False and third["feasible"] is True
    coherence = expected.coherence
    for pseudonym, entry in stored.items():
        for scenario, values in entry["scenarios"].items():
            for column in ("given", "low", "high", "gap"):
                assert values[column] == pytest.approx(
                    coherence.loc[(pseudonym, scenario), column], nan_ok=True
                )
    first = stored[links[0].pseudonym]
    # P(good) = 0.6: war bounds [0.1, 0.6], boom [0.18, 0.98]: inside, gap 0.
    assert first["scenarios"]["good"]["low"] == pytest.approx(0.18)
    assert first["scenarios"]["good"]["high"] == pytest.approx(0.6)
    assert first["scenarios"]["good"]["gap"] == pytest.approx(0.0)
    assert first["coherent"] is True


def test_summaries_without_cross_impact_items_have_no_such_key(make_study, make_panel):
    """A study without the kind closes into the summary it always did."""
    source = SOURCE.split('[[items]]\nkey = "impact"')[0]
    study = make_study(source)
    links = make_panel(study, 1)
    open_round(db.session, study)
    submit_responses(db.session, panelist_for_token(db.session, links[0].token), {"war": "5"})
    summary = close_round(db.session, study)
    assert "cross_impact" not in summary.statistics
    assert db.session.execute(select(CoherenceGap)).first() is None


def test_an_unanswered_item_closes_into_an_empty_record(make_study, make_panel):
    """No answer to the conditional sets: empty tables, no coherence rows."""
    study = make_study(SOURCE)
    links = make_panel(study, 1)
    open_round(db.session, study)
    submit_responses(
        db.session,
        panelist_for_token(db.session, links[0].token),
        {"futures.good": "50", "futures.bad": "50"},
    )
    record = close_round(db.session, study).statistics["cross_impact"]["impact"]
    assert record["impacts"] == [] and record["unconditional"] == {}
    assert isinstance(pd.DataFrame(record["impacts"]), pd.DataFrame)


def test_rewording_its_scenario_set_or_a_trigger_rewords_the_cross_impact_item(
    make_study, make_panel
):
    """Between rounds a reworded scenario set or trigger gives the cross-impact item a
    new version with the new texts: experts read it as the items it comes from."""
    study = make_study(SOURCE)
    links = make_panel(study, 3)
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        submit_responses(db.session, panelist_for_token(db.session, link.token), _form(*answers))
    close_round(db.session, study)
    definition = parse_definition(SOURCE)
    futures, war = definition.items[0], definition.items[1]

    reword_item(
        db.session,
        study,
        "futures",
        item_to_toml(futures).replace('text.en = "Bad"', 'text.en = "Grim"'),
        None,
        "a plainer word",
    )
    impact = next(item for item in study.items if item.key == "impact")
    assert impact.version == 2
    assert impact.versions[-1].note == "the scenarios as worded in version 2 of futures"
    reworded = item_from_json(impact.key, impact.kind, impact.spec)
    assert [s.text.get("en") for s in reworded.scenarios] == ["Good", "Grim"]

    reword_item(
        db.session,
        study,
        "war",
        item_to_toml(war).replace("A war breaks out.", "An armed conflict breaks out."),
        None,
        "more precise",
    )
    assert impact.version == 3
    assert impact.versions[-1].note == "the trigger as worded in version 2 of war"
    reworded = item_from_json(impact.key, impact.kind, impact.spec)
    texts = {trigger.key: trigger.text.get("en") for trigger in reworded.triggers}
    assert texts == {"war": "An armed conflict breaks out.", "boom": "A boom."}
    assert reworded.components == ("war:good", "war:bad", "boom:good", "boom:bad")
