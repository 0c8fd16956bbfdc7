"""The shipped study templates and their catalogue."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from analysis import ConsensusRule, Criterion
from surveys.definition import parse_definition
from surveys.definition_writer import definition_to_toml
from surveys.errors import NotFound
from surveys.templates import TEMPLATES, template, template_definition, template_source

REPOSITORY = Path(__file__).resolve().parents[2]
KEYS = [entry.key for entry in TEMPLATES]


def test_the_catalogue_offers_blank_the_three_kinds_and_the_demo() -> None:
    assert KEYS == ["blank", "scenario_study", "appropriateness_panel", "consensus_delphi", "demo"]


@pytest.mark.parametrize("key", KEYS)
def test_each_template_is_a_valid_bilingual_study(key: str) -> None:
    """Loads, in English and Spanish, and its canonical text reads back identical."""
    definition = template_definition(key)
    assert definition.languages == ("en", "es")
    assert parse_definition(definition_to_toml(definition)) == definition


@pytest.mark.parametrize("entry", TEMPLATES, ids=KEYS)
def test_each_entry_has_a_title_and_one_line_description_per_language(entry) -> None:
    for text in (entry.title, entry.description):
        assert [language for language, _ in text.values] == ["en", "es"]
        assert all(value.strip() and "\n" not in value for _, value in text.values)


@pytest.mark.parametrize("entry", TEMPLATES, ids=KEYS)
def test_each_template_file_is_package_data(entry) -> None:
    """pyproject.toml ships every template file with the package."""
    pyproject = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["surveys"]
    assert any(fnmatch(f"definitions/{entry.path}", pattern) for pattern in patterns)


def test_blank_is_one_likert_statement_with_rules_for_percentages() -> None:
    blank = template_definition("blank")
    assert [(item.kind, item.scale.options) for item in blank.items] == [("likert", 5)]  # type: ignore[union-attr]
    assert dict(blank.consensus.by_kind) == {
        "probability": ConsensusRule((Criterion("iqr", {"max": 20}),)),
        "scenario_set": ConsensusRule((Criterion("iqr", {"max": 20}),)),
    }


def test_scenario_study_has_scenarios_triggers_signposts_an_estimate_and_a_question() -> None:
    kinds = {item.kind for item in template_definition("scenario_study").items}
    assert kinds == {"likert", "scenario_set", "probability", "numeric_estimate", "open_text"}


def test_appropriateness_panel_rates_one_to_nine_with_the_rand_ucla_rule() -> None:
    panel = template_definition("appropriateness_panel")
    rated = [item for item in panel.items if item.kind == "likert"]
    assert rated and all((i.scale.minimum, i.scale.maximum) == (1, 9) for i in rated)  # type: ignore[union-attr]
    assert [c.kind for c in panel.consensus.default.criteria] == ["rand_ucla", "split"]
    assert all(panel.consensus.rule_for(item) == panel.consensus.default for item in rated)


def test_consensus_delphi_asks_seventy_percent_agreement_and_an_iqr_of_one() -> None:
    delphi = template_definition("consensus_delphi")
    assert delphi.consensus.default == ConsensusRule(
        (Criterion("share", {"low": 4, "high": 5, "min": 0.7}), Criterion("iqr", {"max": 1}))
    )
    assert all(
        (item.scale.minimum, item.scale.maximum) == (1, 5)  # type: ignore[union-attr]
        for item in delphi.items
        if item.kind == "likert"
    )


def test_a_template_in_other_languages() -> None:
    """Languages it lacks get the default language's texts to translate; others go."""
    spanish = template_definition("consensus_delphi", ["es"])
    assert spanish.languages == ("es",)
    assert spanish.title.as_dict() == {"es": "[Tema]: un estudio de consenso"}
    french = template_definition("consensus_delphi", ["fr", "en"])
    assert french.languages == ("fr", "en")
    assert french.items[0].scale.labels_in("fr")[0] == "Strongly disagree"  # type: ignore[union-attr]
    assert parse_definition(definition_to_toml(french)) == french


def test_unknown_template() -> None:
    with pytest.raises(NotFound):
        template_source("nonexistent")
    assert template_source("demo").startswith("# Demo study")
    assert template("blank").path == "templates/blank.toml"
