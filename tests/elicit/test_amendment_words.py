"""Amendments in words: what changed named as a facilitator reads it (the item's
question, not its path) and a rule before and after with the item's own numbers."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from elicit.facilitate.amendment_words import amendments_in_words

IQR_25 = '{ combine = "all", criteria = [{ kind = "iqr", max = 25 }] }'


@pytest.fixture
def words(app, make_study):
    study = make_study()

    def describe(what: str, old: str, new: str, language: str = "en"):
        with app.test_request_context(), force_locale(language):
            return amendments_in_words(study, [(what, old, new)], language)[0]

    return describe


def test_an_items_rule_names_its_question_and_reads_in_points(words):
    said = words("items.trigger_tariffs.consensus", "", IQR_25)
    assert said.what.startswith("Consensus rule of item “")
    assert "(trigger_tariffs)" in said.what
    assert "items.trigger_tariffs" not in said.what
    assert said.old is not None and "No rule of its own" in said.old
    assert said.new is not None and "IQR" in said.new and "25" in said.new


def test_a_part_given_no_rule_says_it_never_reaches_consensus(words):
    said = words("items.transfers_next_year.consensus.parts.confidence", IQR_25, '"none"')
    assert "Confidence" in said.what and "(transfers_next_year)" in said.what
    assert said.new == "No rule: this part never reaches consensus."


def test_kind_and_study_rules_and_settings_are_named(words):
    assert "Probability" in words("consensus.by_kind.probability", "", IQR_25).what
    assert words("consensus.default", IQR_25, IQR_25).what == ("The study's default consensus rule")
    setting = words("settings.feedback_min_n", "3", "5")
    assert setting.what == "Setting: Minimum number of answers for feedback"
    assert setting.old is None and setting.new is None  # shown as stored


def test_items_added_and_retired(words):
    assert words("items.trust_now", "", 'key = "trust_now"').what.endswith("added")
    assert words("items.trust_now", 'key = "trust_now"', "").what.endswith("retired")
    # An item that is no longer in the study is named by its key.
    assert words("items.gone", "", "x").what == "Item gone added"


def test_spanish_reader_gets_the_spanish_question(words):
    said = words("items.trigger_tariffs.consensus", "", IQR_25, language="es")
    assert "(trigger_tariffs)" in said.what
    english = words("items.trigger_tariffs.consensus", "", IQR_25).what
    assert said.what != english


@pytest.mark.parametrize("stored", ["{ not toml", '{ criteria = [{ kind = "nope" }] }', "[1, 2]"])
def test_text_that_is_not_a_rule_is_shown_as_stored(words, stored):
    assert words("consensus.default", stored, IQR_25).old == stored
