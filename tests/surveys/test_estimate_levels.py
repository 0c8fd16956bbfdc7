"""The confidence level each numeric estimate's intervals are standardised to (issue
12): definition, storage, writer, the builder's form, closing and reproduction."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from werkzeug.datastructures import MultiDict

import analysis
from elicit.extensions import db
from elicit.facilitate.item_forms import form_definition, item_form, place_errors
from surveys.curation import reword_changes
from surveys.definition import InvalidDefinition, parse_definition
from surveys.definition_writer import definition_to_toml
from surveys.demo import demo_source
from surveys.exports import export_tables, write_csv
from surveys.rounds import close_round, open_round
from surveys.serialization import item_from_json, item_to_json, item_to_toml
from surveys.studies import study_definition
from tests.conftest import log_in, run_reproduce
from tests.surveys.close_identity import close_all
from tests.surveys.part_rules_support import read_fixture, same_summary

ESTIMATE = """\
[study]
slug = "levels"
languages = ["en"]
max_rounds = 2
title.en = "Levels"

[consensus]
criteria = [{ kind = "iqr", max = 1 }]

[[items]]
key = "estimate"
kind = "numeric_estimate"
text.en = "How many?"
LEVEL

[[items]]
key = "chance"
kind = "probability"
text.en = "How likely?"
CHANCE
"""


def source(level: str = "", chance: str = "") -> str:
    return ESTIMATE.replace("LEVEL", level).replace("CHANCE", chance)


def problems(level: str = "", chance: str = "") -> list[str]:
    with pytest.raises(InvalidDefinition) as raised:
        parse_definition(source(level, chance), name="levels.toml")
    return [str(error) for error in raised.value.errors]


# -- the definition ------------------------------------------------------------------------


def test_a_level_is_read_and_defaults_to_80() -> None:
    assert parse_definition(source("level = 90")).items[0].estimate_level == 90.0
    assert parse_definition(source("level = 67.5")).items[0].confidence_level == 67.5
    unset = parse_definition(source()).items[0]
    assert unset.estimate_level is None
    assert unset.confidence_level == 80.0


@pytest.mark.parametrize(
    ("level", "message"),
    [
        ("level = 40", "must be a confidence between 50 and 100 percent, not 40"),
        ("level = 100.5", "must be a confidence between 50 and 100 percent, not 100.5"),
        ("level = 0", "must be a confidence between 50 and 100 percent, not 0"),
        ('level = "90"', "must be a number, not a string"),
        ("level = true", "must be a number, not a boolean"),
    ],
)
def test_a_wrong_level_is_refused_naming_the_field_and_line(level: str, message: str) -> None:
    line = source(level).splitlines().index(level) + 1
    assert problems(level) == [f"levels.toml:{line}: items.estimate.level: {message}"]


def test_only_numeric_estimates_take_a_level() -> None:
    (problem,) = problems(chance="level = 90")
    assert ": items.chance.level: unknown field; expected one of: " in problem


def test_a_level_survives_json_and_old_specs_read_as_before() -> None:
    item = parse_definition(source("level = 90")).items[0]
    spec = json.loads(json.dumps(item_to_json(item)))
    assert spec["estimate_level"] == 90.0
    assert item_from_json("estimate", "numeric_estimate", spec) == item
    # Items without a level store none: every spec stored before levels reads the same.
    plain = parse_definition(demo_source())
    for each in plain.items:
        assert "estimate_level" not in item_to_json(each)
        assert item_from_json(each.key, each.kind, item_to_json(each)) == each


def test_a_level_is_written_only_when_set_and_reads_back() -> None:
    definition = parse_definition(source("level = 90"))
    text = definition_to_toml(definition)
    assert "\nlevel = 90\n" in text
    assert parse_definition(text) == definition
    assert "level" not in item_to_toml(parse_definition(source()).items[0])
    demo = parse_definition(demo_source())
    assert "\nlevel =" not in definition_to_toml(demo)


# -- the builder's form --------------------------------------------------------------------


def estimate_form(level: str | None):
    posted = MultiDict({"key": "estimate", "text_en": "How many?", "choice_count": "0"})
    if level is not None:
        posted["estimate_level"] = level
    return item_form("numeric_estimate", ("en",), sections=[], formdata=posted)


def test_the_form_reads_a_level_and_blank_is_80(app) -> None:
    with app.test_request_context():
        form = estimate_form("90")
        form.validate()  # the posted data carry no CSRF token: only that may be refused
        assert set(form.errors) <= {"csrf_token"}
        assert form_definition(form).estimate_level == 90.0
        blank = estimate_form("")
        blank.validate()
        assert set(blank.errors) <= {"csrf_token"}
        assert form_definition(blank).estimate_level is None
        assert form_definition(blank).confidence_level == 80.0
        assert "Standardise intervals to (%)" in str(form.estimate_level.label)
        assert "80 %" in str(form.estimate_level.description)


@pytest.mark.parametrize("level", ["40", "101", "ninety"])
def test_the_form_refuses_a_wrong_level_on_its_field(app, level: str) -> None:
    with app.test_request_context():
        form = estimate_form(level)
        assert not form.validate()
        assert form.estimate_level.errors
        assert set(form.errors) - {"csrf_token"} == {"estimate_level"}


def test_the_domain_s_problem_with_a_level_lands_on_its_field(app) -> None:
    with app.test_request_context():
        form = estimate_form("90")
        assert place_errors(form, {"level": ["must be a confidence"]}) == []
        assert form.estimate_level.errors == ["must be a confidence"]


# -- closing and reproduction --------------------------------------------------------------

FROZEN = read_fixture()
ESTIMATE_COLUMNS = ("estimate_lowest", "estimate_highest")


def test_a_level_of_90_changes_that_estimate_s_intervals_only(app) -> None:
    """The frozen study closed again with the estimate at 90 %: its intervals widen,
    the settings name the level, and every other number is the one frozen at 80 %."""
    marker = 'key = "transfers_next_year"\n'
    assert FROZEN["source"].count(marker) == 1
    changed = {**FROZEN, "source": FROZEN["source"].replace(marker, marker + "level = 90\n")}
    stored = close_all(db.session, changed)
    for expected_text, actual_text in zip(FROZEN["summaries"], stored, strict=True):
        expected, actual = json.loads(expected_text), json.loads(actual_text)
        assert actual["settings"].pop("estimate_levels") == {"transfers_next_year": 90.0}
        assert "estimate_levels" not in expected["settings"]
        for table in ("rows", "groups"):
            widened = 0
            for old, new in zip(expected.pop(table), actual.pop(table), strict=True):
                if old["item"] == "transfers_next_year" and old["estimate_best"] is not None:
                    assert new["estimate_best"] == old["estimate_best"]
                    assert new["estimate_lowest"] < old["estimate_lowest"]
                    assert new["estimate_highest"] > old["estimate_highest"]
                    widened += 1
                    for column in ESTIMATE_COLUMNS:
                        old.pop(column), new.pop(column)
                assert same_summary(new, old), (new, old)
            assert widened
        assert same_summary(actual, expected)


def test_a_round_closes_with_a_level_and_its_export_reproduces(
    app, client, make_study, make_panel, make_user, post_answers, tmp_path
) -> None:
    marker = 'key = "transfers_next_year"\n'
    study = make_study(demo_source().replace(marker, marker + "level = 90\n"))
    levels = {item.key: item.estimate_level for item in study_definition(study).items}
    assert levels["transfers_next_year"] == 90.0
    links = make_panel(study, 4)
    answers = [("10", "30", "20", "80"), ("12", "40", "25", "50"), ("11", "20", "18", "90")]
    open_round(db.session, study)
    for link, (lowest, highest, best, confidence) in zip(links, answers, strict=False):
        form = {
            "transfers_next_year.lowest": lowest,
            "transfers_next_year.highest": highest,
            "transfers_next_year.best": best,
            "transfers_next_year.confidence": confidence,
        }
        assert post_answers(link.token, form).status_code == 302
    summary = close_round(db.session, study)
    assert summary.statistics["settings"]["estimate_levels"] == {"transfers_next_year": 90.0}
    rows = [row for row in summary.statistics["rows"] if row["item"] == "transfers_next_year"]
    # (B − L)·90/C averaged: 10·90/80, 13·90/50, 7·90/90 → best − mean.
    lowest = sum(b - (b - low) * 90 / c for low, b, c in ((10, 20, 80), (12, 25, 50), (11, 18, 90)))
    assert rows[0]["estimate_lowest"] == pytest.approx(lowest / 3)

    tables = export_tables(db.session, study)
    folder = tmp_path / "csv"
    write_csv(tables, folder)
    exported = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    assert exported["rounds"][0]["estimate_levels"] == {"transfers_next_year": 90.0}
    assert exported["parameters"]["estimate_level"] == analysis.DEFAULT_ESTIMATE_LEVEL
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout
    # The report's methods name the item's own level, and its table says 90 %.
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302
    html = client.get(f"/console/studies/{study.slug}/report").text
    methods = html.split('id="estimate-levels">', 1)[1].split("</span>", 1)[0]
    assert "(90%)" in methods.replace("\xa0", "").replace(" ", "")
    assert "intervals standardised to 90" in html
    # The level is what reproduces the stored intervals: at 80 % they differ.
    exported["rounds"][0]["estimate_levels"] = {"transfers_next_year": 80.0}
    (folder / "settings.json").write_text(json.dumps(exported), encoding="utf-8")
    result = run_reproduce(folder)
    assert result.returncode == 1 and "FAIL" in result.stdout


def test_a_rewording_may_not_change_the_level() -> None:
    """The level decides the published intervals, like the rule: not a text to reword."""
    item = parse_definition(source("level = 90")).items[0]
    assert reword_changes(item, replace(item, estimate_level=None)) == [
        "the confidence level the estimate's intervals are standardised to"
    ]
    assert reword_changes(item, replace(item, unit=item.text)) == []
