"""Consensus rules in plain words, with the item's own scale, in English and Spanish:
every criterion, and every number written as the page's language writes it."""

from __future__ import annotations

import pytest
from flask_babel import get_locale, refresh

from analysis import CRITERIA, ConsensusRule, Criterion
from elicit.facilitate.rule_words import (
    CRITERION_EXPLANATIONS,
    CRITERION_NAMES,
    WARNING_WORDS,
    criterion_sentence,
    default_parameters,
    level_words,
    parameter_help,
    parameter_label,
    percent,
    rule_words,
    scale_of,
    warning_sentence,
)
from surveys.definition import parse_item
from surveys.rule_checks import CODES

LANGUAGES = ("en", "es")


def item(source: str):
    """An item definition from its TOML, in English and Spanish."""
    return parse_item("[[items]]\n" + source, languages=LANGUAGES)


LIKERT_5 = item(
    'key = "a"\nkind = "likert"\ntext = { en = "A", es = "A" }\nscale = { min = 1, max = 5 }\n'
    'labels.en = ["1", "2", "3", "4", "5"]\nlabels.es = ["1", "2", "3", "4", "5"]'
)


def nine_point():
    """A 1–9 rating item."""
    labels = ", ".join(f'"{i}"' for i in range(1, 10))
    return item(
        'key = "b"\nkind = "likert"\ntext = { en = "B", es = "B" }\n'
        f"scale = {{ min = 1, max = 9 }}\nlabels.en = [{labels}]\nlabels.es = [{labels}]"
    )


SCENARIOS = item(
    'key = "s"\nkind = "scenario_set"\ntext = { en = "S", es = "S" }\n'
    '[[items.scenarios]]\nkey = "x"\ntext = { en = "X", es = "X" }\n'
    '[[items.scenarios]]\nkey = "y"\ntext = { en = "Y", es = "Y" }'
)
PROBABILITY = item('key = "p"\nkind = "probability"\ntext = { en = "P", es = "P" }')
ESTIMATE = item(
    'key = "e"\nkind = "numeric_estimate"\ntext = { en = "E", es = "E" }\n'
    'unit = { en = "tonnes", es = "toneladas" }\nbounds = { min = 0, max = 1000000 }'
)
RANKING = item(
    'key = "r"\nkind = "ranking"\ntext = { en = "R", es = "R" }\n'
    + "\n".join(
        f'[[items.options]]\nkey = "o{i}"\ntext = {{ en = "O", es = "O" }}' for i in range(4)
    )
)


@pytest.fixture
def words_in(app):
    """Run a function inside a request whose page language is ``language``."""

    def run(page_language, function, *args, **kwargs):
        with app.test_request_context(f"/?lang={page_language}"):
            refresh()  # the locale is cached per application context, which tests share
            return function(*args, **kwargs)

    return run


def sentence(kind, params, definition, part=None):
    """The sentence of one criterion on ``definition``'s scale, in the page's language."""
    scale = scale_of(definition, part=part, language=str(get_locale()))
    return criterion_sentence(Criterion(kind, params), scale)


def test_iqr_is_worded_in_points_of_the_items_own_scale(words_in):
    assert words_in("en", sentence, "iqr", {"max": 1}, LIKERT_5) == (
        "IQR at most 1 point on this 1–5 scale: the middle half of the answers lies within 1 point."
    )
    assert "1.5 points on this 1–5 scale" in words_in("en", sentence, "iqr", {"max": 1.5}, LIKERT_5)
    assert "1,5 puntos" in words_in("es", sentence, "iqr", {"max": 1.5}, LIKERT_5)


def test_iqr_on_a_percentage_scale_is_in_percentage_points(words_in):
    text = words_in("en", sentence, "iqr", {"max": 20}, SCENARIOS)
    assert text.startswith("IQR at most 20 percentage points on this 0–100 % scale")
    ranking = words_in("en", sentence, "iqr", {"max": 1}, RANKING)
    assert "1 place on this ranking of places 1 to 4" in ranking


def test_large_numbers_are_grouped_in_the_pages_language_never_in_exponent_form(words_in):
    english = words_in("en", sentence, "iqr", {"max": 10000}, ESTIMATE)
    spanish = words_in("es", sentence, "iqr", {"max": 10000}, ESTIMATE)
    assert "IQR at most 10,000 tonnes" in english
    assert "10.000 toneladas" in spanish
    assert "e+" not in english + spanish and "1e4" not in english + spanish


def test_share_names_the_band_and_the_share_as_a_percentage(words_in):
    params = {"low": 7, "high": 9, "min": 0.7}
    assert words_in("en", sentence, "share", params, nine_point()) == (
        "Share of answers between 7 and 9 is at least 70%."
    )
    assert "al menos el 70\xa0%" in words_in("es", sentence, "share", params, nine_point())
    on_percent = words_in("en", sentence, "share", {"low": 0, "high": 10, "min": 0.8}, PROBABILITY)
    assert "between 0% and 10% is at least 80%" in on_percent


def test_cv_and_rwg_give_their_thresholds_in_the_pages_decimals(words_in):
    assert "at most 0.5" in words_in("en", sentence, "cv", {"max": 0.5}, LIKERT_5)
    assert "de 0,5 como máximo" in words_in("es", sentence, "cv", {"max": 0.5}, LIKERT_5)
    rwg = words_in("en", sentence, "rwg", {"min": 0.7}, LIKERT_5)
    assert "rwg at least 0.7" in rwg and "Never met" not in rwg
    assert "rwg de al menos 0,7" in words_in("es", sentence, "rwg", {"min": 0.7}, LIKERT_5)
    # rwg needs A options: a percentage has none, and the words say it never holds there.
    assert "Never met here" in words_in("en", sentence, "rwg", {"min": 0.7}, PROBABILITY)


def test_the_ad_index_works_out_its_cut_off_on_the_items_scale(words_in):
    # A = 5 options one point apart: A / 6 = 0.833 points.
    english = words_in("en", sentence, "ad_mean", {"divisor": 6}, LIKERT_5)
    assert "from the mean at most A ÷ 6 = 0.833 points with A = 5 options" in english
    spanish = words_in("es", sentence, "ad_median", {"divisor": 6}, LIKERT_5)
    assert "A ÷ 6 = 0,833 puntos" in spanish
    assert "never met" in words_in("en", sentence, "ad_median", {"divisor": 6}, PROBABILITY)


def test_numbers_grouping_cannot_write_take_an_exponent_instead_of_failing(words_in):
    """A valid divisor as small as 1e-300 gives a cut-off of about 10^300 points, which
    babel cannot group (it failed the builder's page); such a number, and one too small
    for three decimals, is written with an exponent, never as 0."""
    english = words_in("en", sentence, "ad_median", {"divisor": 1e-300}, LIKERT_5)
    assert "at most A ÷ 1E-300 = 5E300 points with A = 5 options" in english
    assert "at most 5E-324" in words_in("en", sentence, "cv", {"max": 5e-324}, LIKERT_5)
    assert "5E-324" in words_in("es", sentence, "cv", {"max": 5e-324}, LIKERT_5)
    overflowed = words_in("en", sentence, "ad_mean", {"divisor": 5e-324}, LIKERT_5)
    assert "at most A ÷ 5E-324 = ∞ points" in overflowed
    largest = words_in("en", sentence, "iqr", {"max": 10**15}, ESTIMATE)
    assert "IQR at most 1,000,000,000,000,000 tonnes" in largest


def test_split_names_the_outer_thirds_of_the_scale(words_in):
    english = words_in("en", sentence, "split", {"min_share": 1 / 3}, nine_point())
    assert english == (
        "Dissensus when at least 33.3% of the answers lie in the lowest third of the scale "
        "(1–3) and at least 33.3% in the highest third (7–9)."
    )
    spanish = words_in("es", sentence, "split", {"min_share": 1 / 3}, LIKERT_5)
    assert "33,3\xa0%" in spanish and "(1–2)" in spanish and "(4–5)" in spanish


def test_rand_ucla_is_worded(words_in):
    assert words_in("en", sentence, "rand_ucla", {}, nine_point()).startswith("RAND/UCLA agreement")


def test_every_criterion_has_a_name_an_explanation_and_words_for_each_parameter(words_in):
    for kind, names in CRITERIA.items():
        assert words_in("en", str, CRITERION_NAMES[kind])
        assert words_in("en", str, CRITERION_EXPLANATIONS[kind])
        params = words_in("en", default_parameters, kind, scale_of(LIKERT_5))
        assert set(params) == set(names)
        assert words_in("en", sentence, kind, params, LIKERT_5)
        for name in names:
            scale = scale_of(LIKERT_5)
            assert words_in("en", parameter_label, kind, name, scale)
            assert words_in("en", parameter_help, kind, name, scale)


def test_defaults_fit_the_scale(words_in):
    assert words_in("en", default_parameters, "share", scale_of(nine_point())) == {
        "low": 7.0,
        "high": 9.0,
        "min": 0.75,
    }
    assert words_in("en", default_parameters, "share", scale_of(LIKERT_5))["low"] == 4.0
    assert words_in("en", default_parameters, "iqr", scale_of(SCENARIOS)) == {"max": 20.0}
    assert words_in("en", default_parameters, "iqr", scale_of(nine_point())) == {"max": 2.0}


def test_a_rule_says_how_its_criteria_combine_and_keeps_dissensus_apart(words_in):
    iqr = Criterion("iqr", {"max": 1})
    share = Criterion("share", {"low": 4, "high": 5, "min": 0.75})
    split = Criterion("split", {"min_share": 0.3})
    scale = scale_of(LIKERT_5)
    every = words_in("en", rule_words, ConsensusRule((iqr, share, split), "all"), scale)
    assert every.lead == "Consensus when all of these hold:"
    assert len(every.consensus) == 2 and len(every.dissensus) == 1
    assert every.dissensus[0].startswith("Dissensus when at least 30%")
    some = words_in("en", rule_words, ConsensusRule((iqr, share), "any"), scale)
    assert some.lead == "Consensus when at least one of these holds:"
    one = words_in("en", rule_words, ConsensusRule((iqr,)), scale)
    assert one.lead == "Consensus when:"
    assert one.sentence.startswith("Consensus when: IQR at most 1 point")


def test_the_study_default_is_worded_in_each_items_own_units(words_in):
    default = words_in("en", sentence, "iqr", {"max": 1}, None)
    assert default.startswith("IQR at most 1 in each item's own units (points on a rating")
    assert "RIC de 1,5 como máximo en las unidades propias de cada" in words_in(
        "es", sentence, "iqr", {"max": 1.5}, None
    )


def test_an_estimates_confidence_is_a_percentage(words_in):
    text = words_in("en", sentence, "iqr", {"max": 10}, ESTIMATE, part="confidence")
    assert "10 percentage points on this 50–100 % scale" in text


def test_levels_say_where_a_rule_comes_from(words_in):
    assert words_in("en", level_words, "item") == "the item's own rule"
    assert words_in("en", level_words, "study") == "the study's default rule"
    kind = words_in("en", level_words, "kind", "scenario_set")
    assert kind == "the study's rule for this kind of item (Scenario set)"


def test_percentages_keep_one_decimal_in_each_language(words_in):
    assert words_in("en", percent, 1 / 3) == "33.3%"
    assert words_in("es", percent, 1 / 3) == "33,3\xa0%"
    assert words_in("en", percent, 0.75) == "75%"


def test_every_warning_code_has_words_naming_the_part_and_the_rules_origin(words_in):
    assert set(CODES) <= set(WARNING_WORDS)

    def warned(language, code, item_definition, component, level):
        return words_in(
            language,
            warning_sentence,
            code,
            "the domain's English message",
            item=item_definition,
            component=component,
            level=level,
            language=language,
            default_language="en",
        )

    confidence = warned("en", "iqr_too_small", ESTIMATE, "confidence", "kind")
    assert confidence.startswith("Confidence: The IQR threshold is a sliver of this scale")
    assert confidence.endswith(
        "The rule comes from the study's rule for this kind of item (Numeric estimate)."
    )
    scenario = warned("en", "share_band_outside_scale", SCENARIOS, "y", "study")
    assert scenario.startswith("Y: The share criterion is never met")
    assert scenario.endswith("The rule comes from the study's default rule.")
    assert warned("en", "no_rule", RANKING, None, "none").startswith("No consensus rule:")
    # A code added to the checks later is shown in the domain's words until it has its own.
    assert warned("en", "a_new_check", LIKERT_5, None, "item") == "the domain's English message"
