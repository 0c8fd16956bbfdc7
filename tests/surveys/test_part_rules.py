"""Consensus rules per part of a multi-part answer (issue 12): definition, storage,
writer, analysis, the summary's settings and the export's reproduction."""

from __future__ import annotations

import json

import pytest

from analysis import ConsensusRule, Criterion
from elicit.extensions import db
from surveys.definition import InvalidDefinition, StudyDefinition, parse_definition
from surveys.definition_writer import definition_to_toml
from surveys.demo import demo_source
from surveys.exports import export_tables, write_csv
from surveys.rounds import close_round, open_round, stopping_recommendation
from surveys.serialization import item_from_json, item_to_json
from surveys.studies import study_definition
from tests.conftest import run_reproduce
from tests.surveys.close_identity import close_all
from tests.surveys.part_rules_support import read_fixture, same_summary

FROZEN = read_fixture()


def test_summaries_of_a_study_without_part_rules_are_byte_identical(app) -> None:
    """The demo with a rule on every kind, closed by the code before part rules: the
    same answers closed now store the same JSON text, round by round."""
    stored = close_all(db.session, FROZEN)
    assert len(stored) == 2
    for number, (expected, actual) in enumerate(zip(FROZEN["summaries"], stored, strict=True), 1):
        assert same_summary(json.loads(actual), json.loads(expected)), f"round {number}"
        assert list(json.loads(actual)) == list(json.loads(expected))  # the same parts, in order
    rows = json.loads(stored[1])["rows"]
    ruled = {row["item"] for row in rows if row["rule"]}
    assert {"driver_ranking", "transfers_next_year", "scenarios"} <= ruled


# -- the definition: syntax, errors, precedence -----------------------------------------

ESTIMATE = """\
[study]
slug = "parts"
languages = ["en"]
max_rounds = 2
title.en = "Parts"

[consensus]
criteria = [{ kind = "iqr", max = 1 }]

[consensus.by_kind.numeric_estimate]
criteria = [{ kind = "iqr", max = 50 }]

[[items]]
key = "estimate"
kind = "numeric_estimate"
text.en = "How many?"
CONSENSUS

[[items]]
key = "scenarios"
kind = "scenario_set"
text.en = "Which?"
SCENARIO_CONSENSUS
[[items.scenarios]]
key = "calm"
text.en = "Calm"
[[items.scenarios]]
key = "storm"
text.en = "Storm"
"""

CV = ConsensusRule((Criterion("cv", {"max": 0.5}),))
IQR_20 = ConsensusRule((Criterion("iqr", {"max": 20}),))


def parsed(consensus: str, scenario_consensus: str = "") -> StudyDefinition:
    return parse_definition(
        ESTIMATE.replace("SCENARIO_CONSENSUS", scenario_consensus).replace("CONSENSUS", consensus)
    )


def problems(consensus: str, scenario_consensus: str = "") -> list[tuple[str, str]]:
    with pytest.raises(InvalidDefinition) as raised:
        parsed(consensus, scenario_consensus)
    return [(error.field, error.message) for error in raised.value.errors]


def test_part_rules_are_read_in_the_order_of_the_parts() -> None:
    definition = parsed(
        'consensus.parts.confidence = "none"\n'
        'consensus.parts.best = { criteria = [{ kind = "cv", max = 0.5 }] }',
        'consensus.parts.storm = { criteria = [{ kind = "iqr", max = 20 }] }',
    )
    estimate, scenarios = definition.items
    assert estimate.consensus is None
    assert estimate.part_rules == (("best", CV), ("confidence", None))
    assert scenarios.part_rules == (("storm", IQR_20),)
    settings = definition.consensus
    by_kind = ConsensusRule((Criterion("iqr", {"max": 50}),))
    assert [settings.rule_for_part(estimate, part) for part in estimate.components] == [
        by_kind,
        by_kind,
        CV,
        None,
    ]
    assert [settings.source_of(estimate, part) for part in estimate.components] == [
        "kind",
        "kind",
        "part",
        "none",
    ]
    assert settings.rule_for_part(scenarios, "calm") == settings.default
    assert settings.source_of(scenarios, "calm") == "default"


def test_an_item_rule_and_part_rules_together() -> None:
    definition = parsed(
        'consensus.combine = "any"\n'
        'consensus.criteria = [{ kind = "iqr", max = 10 }]\n'
        'consensus.parts.confidence = "none"'
    )
    estimate = definition.items[0]
    assert estimate.consensus == ConsensusRule((Criterion("iqr", {"max": 10}),), "any")
    assert definition.consensus.source_of(estimate, "best") == "item"
    assert definition.consensus.rule_for_part(estimate, "confidence") is None


@pytest.mark.parametrize(
    ("consensus", "scenario_consensus", "field", "gist"),
    [
        (
            'consensus.parts.guess = "none"',
            "",
            "items.estimate.consensus.parts.guess",
            "not a part",
        ),
        (
            "",
            'consensus.parts.rain = "none"',
            "items.scenarios.consensus.parts.rain",
            "its parts are calm, storm",
        ),
        (
            'consensus.parts.best = "never"',
            "",
            "items.estimate.consensus.parts.best",
            'must be "none" or a rule',
        ),
        ("consensus.parts.best = 3", "", "items.estimate.consensus.parts.best", "must be a table"),
        ("consensus.parts = []", "", "items.estimate.consensus.parts", "must be a table of parts"),
        ("consensus.parts = {}", "", "items.estimate.consensus.parts", "at least one part"),
        (
            'consensus.parts.best = { criteria = [{ kind = "iqr" }] }',
            "",
            "items.estimate.consensus.parts.best.criteria[1].max",
            "required field is missing",
        ),
        (
            'consensus.combine = "any"\nconsensus.parts.best = "none"',
            "",
            "items.estimate.consensus.criteria",
            "required field is missing",
        ),
        (
            'consensus.parts.best = { criteria = [], colour = "red" }',
            "",
            "items.estimate.consensus.parts.best.colour",
            "unknown field",
        ),
    ],
)
def test_wrong_part_rules_are_refused_naming_the_field(
    consensus: str, scenario_consensus: str, field: str, gist: str
) -> None:
    found = problems(consensus, scenario_consensus)
    assert any(name == field and gist in message for name, message in found), found


def test_only_multi_part_items_take_part_rules() -> None:
    text = demo_source().replace(
        'key = "trust_now"\nsection = "drivers"\nkind = "likert"\n',
        'key = "trust_now"\nsection = "drivers"\nkind = "likert"\nconsensus.parts.x = "none"\n',
    )
    with pytest.raises(InvalidDefinition) as raised:
        parse_definition(text)
    (error,) = raised.value.errors
    assert error.field == "items.trust_now.consensus.parts"
    assert "only the parts of a scenario set, a ranking or a numeric estimate" in error.message


# -- storage and the written file ----------------------------------------------------------


def test_part_rules_survive_json_and_old_specs_read_as_before() -> None:
    definition = parsed(
        'consensus.parts.confidence = "none"\n'
        'consensus.parts.best = { criteria = [{ kind = "cv", max = 0.5 }] }'
    )
    estimate = definition.items[0]
    spec = json.loads(json.dumps(item_to_json(estimate)))
    assert spec["parts"] == {
        "best": {"combine": "all", "criteria": [{"kind": "cv", "max": 0.5}]},
        "confidence": None,
    }
    assert item_from_json("estimate", "numeric_estimate", spec) == estimate
    # A spec stored before part rules has no "parts"; an item without them writes none.
    plain = parse_definition(demo_source()).items[0]
    assert "parts" not in item_to_json(plain)
    assert item_from_json(plain.key, plain.kind, item_to_json(plain)).part_rules == ()


def test_part_rules_are_written_as_dotted_lines_and_read_back() -> None:
    definition = parsed(
        'consensus.criteria = [{ kind = "iqr", max = 10 }]\n'
        'consensus.parts.confidence = "none"\n'
        'consensus.parts.best = { criteria = [{ kind = "cv", max = 0.5 }] }'
    )
    text = definition_to_toml(definition)
    assert (
        'consensus.combine = "all"\n'
        'consensus.criteria = [{ kind = "iqr", max = 10 }]\n'
        'consensus.parts.best = { combine = "all", criteria = [{ kind = "cv", max = 0.5 }] }\n'
        'consensus.parts.confidence = "none"\n'
    ) in text
    assert parse_definition(text) == definition


def test_a_study_with_part_rules_round_trips_through_the_database(make_study) -> None:
    source = ESTIMATE.replace("SCENARIO_CONSENSUS", "").replace(
        "CONSENSUS", 'consensus.parts.best = { criteria = [{ kind = "cv", max = 0.5 }] }'
    )
    study = make_study(source)
    assert study_definition(study) == parse_definition(source)


# -- closing, the stored settings, the export and its reproduction -------------------------


def test_a_round_closes_under_part_rules_and_its_export_reproduces(
    app, make_study, make_panel, post_answers, tmp_path
) -> None:
    """The demo decided on the estimate's best guess alone and on one scenario by a rule
    of its own: the stored rows, the stored settings and settings.json say so, the
    stopping rule counts the estimate by its best guess, and reproduce.py recomputes
    every statistic."""
    source = demo_source().replace(
        '[[items.scenarios]]\nkey = "status_quo"',
        "consensus.parts.rift = "
        '{ criteria = [{ kind = "share", low = 0, high = 10, min = 0.6 }] }\n'
        '\n[[items.scenarios]]\nkey = "status_quo"',
        1,
    )
    definition = parse_definition(source)
    scenarios = next(item for item in definition.items if item.key == "scenarios")
    assert scenarios.part_rules  # the rule landed on the scenario set
    study = make_study(source)
    links = make_panel(study, 4)
    answers = [
        ("10", "30", "20", "80"),
        ("12", "40", "25", "50"),
        ("11", "20", "18", "90"),
        ("9", "50", "30", "70"),
    ]
    open_round(db.session, study)
    for link, (lowest, highest, best, confidence) in zip(links, answers, strict=True):
        form = {
            "transfers_next_year.lowest": lowest,
            "transfers_next_year.highest": highest,
            "transfers_next_year.best": best,
            "transfers_next_year.confidence": confidence,
            "scenarios.status_quo": "70",
            "scenarios.rift": "5",
            "scenarios.renewal": "25",
        }
        assert post_answers(link.token, form).status_code == 302
    summary = close_round(db.session, study)
    rows = {(row["item"], row["component"]): row for row in summary.statistics["rows"]}
    assert rows[("transfers_next_year", "best")]["rule"] == "all of: cv <= 0.5"
    assert rows[("transfers_next_year", "best")]["state"] == "consensus"
    for part in ("lowest", "highest", "confidence"):
        assert rows[("transfers_next_year", part)]["state"] is None
    assert rows[("scenarios", "rift")]["rule"] == "all of: share in [0, 10] >= 0.6"
    assert rows[("scenarios", "rift")]["state"] == "consensus"
    assert rows[("scenarios", "status_quo")]["rule"] == "all of: iqr <= 20"
    assert summary.statistics["settings"]["part_rules"] == {
        "transfers_next_year": {
            "best": {"combine": "all", "criteria": [{"kind": "cv", "max": 0.5}]}
        },
        "scenarios": {
            "rift": {
                "combine": "all",
                "criteria": [{"kind": "share", "low": 0.0, "high": 10.0, "min": 0.6}],
            }
        },
    }
    decision = stopping_recommendation(db.session, study)
    assert decision is not None
    assert decision.items.loc["transfers_next_year", "status"] == "consensus"

    tables = export_tables(db.session, study)
    methods = dict(zip(tables.methods["key"], tables.methods["value"], strict=True))
    assert methods["consensus_rule.item.transfers_next_year.best"] == "all of: cv <= 0.5"
    assert methods["consensus_rule.item.scenarios.rift"] == "all of: share in [0, 10] >= 0.6"
    folder = tmp_path / "csv"
    write_csv(tables, folder)
    exported = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    assert exported["rounds"][0]["part_rules"] == summary.statistics["settings"]["part_rules"]
    assert "part_rules" not in exported["parameters"]
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout
    # A changed part rule in settings.json no longer reproduces the stored states.
    exported["rounds"][0]["part_rules"]["transfers_next_year"]["best"] = None
    (folder / "settings.json").write_text(json.dumps(exported), encoding="utf-8")
    result = run_reproduce(folder)
    assert result.returncode == 1 and "FAIL" in result.stdout
