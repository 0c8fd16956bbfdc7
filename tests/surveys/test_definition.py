"""Study definition files: the demo validates; every kind of mistake is named precisely.

Each error test starts from ``MINI``, a small valid study, changes one thing and checks
the one error that change causes: its line (found by searching the source for the text
the test wrote, never copied from a run), its field and the gist of its message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import surveys.definitions
from analysis import ConsensusRule, Criterion
from surveys.definition import (
    ConsensusSettings,
    DefinitionError,
    InvalidDefinition,
    ItemDefinition,
    LocalizedText,
    StudyDefinition,
    load_definition_file,
    parse_definition,
)
from surveys.serialization import (
    consensus_from_json,
    consensus_to_json,
    item_from_json,
    item_to_json,
)
from surveys.studies import active_items, study_definition

DEMO_PATH = Path(surveys.definitions.__file__).parent / "us-mexico-intelligence.toml"

MINI = """\
[study]
slug = "mini-study"
languages = ["en", "es"]
max_rounds = 3
title = { en = "A small study", es = "Un estudio pequeño" }

[consensus]
combine = "all"
criteria = [{ kind = "iqr", max = 1 }]

[consensus.by_kind.probability]
criteria = [{ kind = "iqr", max = 20 }]

[[sections]]
key = "main"
title = { en = "Main questions", es = "Preguntas principales" }

[[items]]
key = "rating"
section = "main"
kind = "likert"
scale = { min = 1, max = 3 }
text = { en = "Rate it", es = "Califíquelo" }
labels = { en = ["Low", "Middle", "High"], es = ["Bajo", "Medio", "Alto"] }

[[items]]
key = "chance"
kind = "probability"
text = { en = "How likely?", es = "¿Qué tan probable?" }

[[items]]
key = "futures"
kind = "scenario_set"
text = { en = "Which future?", es = "¿Qué futuro?" }

[[items.scenarios]]
key = "good"
text = { en = "A good one", es = "Uno bueno" }

[[items.scenarios]]
key = "bad"
text = { en = "A bad one", es = "Uno malo" }

[[items]]
key = "comment"
kind = "open_text"
max_length = 500
text = { en = "Anything else?", es = "¿Algo más?" }
"""

CHANCE_TEXT = 'text = { en = "How likely?", es = "¿Qué tan probable?" }\n'
RATING_LABELS = 'labels = { en = ["Low", "Middle", "High"], es = ["Bajo", "Medio", "Alto"] }\n'
SECOND_SCENARIO = (
    '\n[[items.scenarios]]\nkey = "bad"\ntext = { en = "A bad one", es = "Uno malo" }\n'
)


def variant(old: str, new: str, source: str = MINI) -> str:
    """``source`` with the one occurrence of ``old`` replaced by ``new``."""
    assert source.count(old) == 1, f"{old!r} must occur exactly once"
    return source.replace(old, new)


def line_of(source: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based number of the line holding the ``occurrence``-th ``needle``."""
    found = [number for number, line in enumerate(source.splitlines(), 1) if needle in line]
    assert len(found) >= occurrence, f"{needle!r} occurs {len(found)} times"
    return found[occurrence - 1]


def errors_of(source: str) -> list[DefinitionError]:
    """The errors ``source`` is rejected with."""
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(source, name="mini.toml")
    return caught.value.errors


def only_error(source: str) -> DefinitionError:
    """The single error ``source`` is rejected with."""
    errors = errors_of(source)
    assert len(errors) == 1, "\n".join(str(error) for error in errors)
    return errors[0]


def assert_error(error: DefinitionError, line: int, field: str, gist: str) -> None:
    """``error`` is at ``line`` about ``field`` and its message contains ``gist``."""
    assert (error.path, error.line, error.field) == ("mini.toml", line, field), str(error)
    assert gist in error.message, str(error)


# -- the shipped demo and the base document ----------------------------------------------


def test_demo_definition_validates() -> None:
    """The demo study is valid, bilingual throughout and has its three scenarios."""
    definition = load_definition_file(DEMO_PATH)
    assert definition.slug == "us-mexico-intelligence"
    assert definition.languages == ("en", "es")
    assert definition.max_rounds == 3
    assert len(definition.items) == 30
    kinds = [item.kind for item in definition.items]
    assert kinds.count("cross_impact") == 1
    assert kinds.count("likert") == 10
    assert kinds.count("probability") == 7
    assert kinds.count("open_text") == 1
    assert kinds.count("ranking") == 1
    assert kinds.count("numeric_estimate") == 1
    assert definition.cannot_judge is True
    assert definition.feedback_min_n == 3
    (ranking,) = [item for item in definition.items if item.kind == "ranking"]
    assert len(ranking.options) == 5
    for option in ranking.options:
        assert set(option.text.as_dict()) == {"en", "es"}, option.key
    (estimate,) = [item for item in definition.items if item.kind == "numeric_estimate"]
    assert estimate.unit is not None and set(estimate.unit.as_dict()) == {"en", "es"}
    assert estimate.estimate_bounds == (0.0, 1000.0)
    for item in definition.items:
        texts = item.text.as_dict()
        assert set(texts) == {"en", "es"}, item.key
        assert all(text.strip() for text in texts.values()), item.key
        if item.help is not None:
            assert set(item.help.as_dict()) == {"en", "es"}, item.key
        if item.kind == "likert":
            assert item.scale is not None
            assert [language for language, _ in item.scale.labels] == ["en", "es"]
            for _, labels in item.scale.labels:
                assert len(labels) == item.scale.options
    (scenario_set,) = [item for item in definition.items if item.kind == "scenario_set"]
    assert [scenario.key for scenario in scenario_set.scenarios] == [
        "status_quo",
        "rift",
        "renewal",
    ]
    for scenario in scenario_set.scenarios:
        assert set(scenario.text.as_dict()) == {"en", "es"}
    assert set(definition.title.as_dict()) == {"en", "es"}


def test_mini_definition_is_valid() -> None:
    """The base of every error test below is itself valid."""
    definition = parse_definition(MINI, name="mini.toml")
    assert isinstance(definition, StudyDefinition)
    assert [item.key for item in definition.items] == ["rating", "chance", "futures", "comment"]
    assert definition.quantile_method == "linear"
    rating, chance, futures, comment = definition.items
    assert rating.scale is not None
    assert (rating.scale.minimum, rating.scale.maximum, rating.scale.options) == (1, 3, 3)
    assert rating.scale.labels_in("es") == ("Bajo", "Medio", "Alto")
    assert rating.section == "main"
    assert chance.text.get("es") == "¿Qué tan probable?"
    assert [scenario.key for scenario in futures.scenarios] == ["good", "bad"]
    assert comment.max_length == 500
    assert not comment.numeric


@pytest.mark.parametrize("max_rounds", [1, 20])
def test_max_rounds_bounds_are_accepted(max_rounds: int) -> None:
    """1 and 20 rounds are both allowed."""
    source = variant("max_rounds = 3", f"max_rounds = {max_rounds}")
    assert parse_definition(source).max_rounds == max_rounds


# -- one test per error class ------------------------------------------------------------


def test_toml_syntax_error_reports_the_line_tomllib_found() -> None:
    """A file tomllib cannot read gives one ``syntax`` error on the offending line."""
    source = variant("max_rounds = 3", "max_rounds 3")
    error = only_error(source)
    assert_error(error, line_of(source, "max_rounds 3"), "syntax", "not valid TOML: ")
    assert "(at line" not in error.message


def test_load_definition_file_names_the_file(tmp_path: Path) -> None:
    """Errors of a file carry its path; an unreadable file is an error on line 1."""
    path = tmp_path / "broken.toml"
    path.write_text(variant("max_rounds = 3", 'max_rounds = "3"'), encoding="utf-8")
    with pytest.raises(InvalidDefinition) as caught:
        load_definition_file(path)
    assert [error.path for error in caught.value.errors] == [str(path)]
    missing = tmp_path / "absent.toml"
    with pytest.raises(InvalidDefinition) as caught:
        load_definition_file(missing)
    (error,) = caught.value.errors
    assert (error.path, error.line, error.field) == (str(missing), 1, "file")


@pytest.mark.parametrize(
    ("old", "header", "occurrence", "field"),
    [
        ('slug = "mini-study"\n', "[study]", 1, "study.slug"),
        (
            'title = { en = "A small study", es = "Un estudio pequeño" }\n',
            "[study]",
            1,
            "study.title",
        ),
        ('kind = "probability"\n', "[[items]]", 2, "items.chance.kind"),
        (CHANCE_TEXT, "[[items]]", 2, "items.chance.text"),
        ('criteria = [{ kind = "iqr", max = 1 }]\n', "[consensus]", 1, "consensus.criteria"),
    ],
)
def test_missing_required_field_points_at_its_table(
    old: str, header: str, occurrence: int, field: str
) -> None:
    """A missing field is reported on the header of the table that lacks it."""
    source = variant(old, "")
    error = only_error(source)
    assert_error(error, line_of(source, header, occurrence), field, "required field is missing")


@pytest.mark.parametrize(
    ("old", "new", "field", "gist"),
    [
        (
            "max_rounds = 3",
            'max_rounds = "3"',
            "study.max_rounds",
            "must be an integer, not a string",
        ),
        (
            "max_rounds = 3",
            "max_rounds = true",
            "study.max_rounds",
            "must be an integer, not a boolean",
        ),
        (
            "max_rounds = 3",
            "max_rounds = 3.0",
            "study.max_rounds",
            "must be an integer, not a number",
        ),
        (
            'key = "chance"\n',
            'key = "chance"\nrationale = "yes"\n',
            "items.chance.rationale",
            "must be true or false, not a string",
        ),
        (
            "max_length = 500",
            'max_length = "500"',
            "items.comment.max_length",
            "must be an integer, not a string",
        ),
        (
            "scale = { min = 1, max = 3 }",
            'scale = { min = 1, max = "3" }',
            "items.rating.scale.max",
            "must be an integer, not a string",
        ),
    ],
)
def test_wrong_type(old: str, new: str, field: str, gist: str) -> None:
    """A value of the wrong TOML type is named with both types."""
    source = variant(old, new)
    assert_error(only_error(source), line_of(source, new.splitlines()[-1]), field, gist)


@pytest.mark.parametrize(
    ("old", "new", "field", "allowed"),
    [
        ("max_rounds = 3\n", 'max_rounds = 3\ncolour = "blue"\n', "study.colour", "slug"),
        (
            'kind = "probability"\n',
            'kind = "probability"\ncolour = "red"\n',
            "items.chance.colour",
            "key, kind, text",
        ),
        (
            'kind = "probability"\n',
            'kind = "probability"\nmax_length = 10\n',
            "items.chance.max_length",
            "key, kind, text",
        ),
        (
            'combine = "all"\n',
            'combine = "all"\ncombin = "any"\n',
            "consensus.combin",
            "combine, criteria, by_kind",
        ),
    ],
)
def test_unknown_field(old: str, new: str, field: str, allowed: str) -> None:
    """A misspelt or misplaced field is reported with the fields allowed there."""
    source = variant(old, new)
    error = only_error(source)
    assert_error(error, line_of(source, new.splitlines()[-1]), field, "unknown field")
    assert allowed in error.message


def test_unknown_field_in_a_scenario_is_named_by_its_key() -> None:
    """Like an item's fields, a scenario's are named by the scenario's key when it has one.

    ``field_name`` promises "array elements by their key when they have one"; the scenario
    below has the key ``good``, so the field is ``items.futures.scenarios.good.colour``.
    """
    source = variant('key = "good"\n', 'key = "good"\ncolour = "green"\n')
    error = only_error(source)
    assert_error(
        error, line_of(source, "colour ="), "items.futures.scenarios.good.colour", "unknown field"
    )
    assert "key, text" in error.message


def test_unknown_top_level_table() -> None:
    """A table the format does not know is an unknown field too."""
    source = MINI + '\n[extras]\nnote = "x"\n'
    assert_error(only_error(source), line_of(source, "[extras]"), "extras", "unknown field")


@pytest.mark.parametrize("slug", ["Mini-Study", "-mini", "m", "mini study", "mini_study"])
def test_invalid_slug(slug: str) -> None:
    """Slugs are 2–63 lower-case letters, digits and hyphens, not starting with one."""
    source = variant('slug = "mini-study"', f'slug = "{slug}"')
    assert_error(
        only_error(source),
        line_of(source, "slug ="),
        "study.slug",
        f"{slug!r} is not a valid slug",
    )


def test_a_slug_the_console_uses_is_refused() -> None:
    """/console/studies/new is the page that creates a study: no study may be "new"."""
    source = variant('slug = "mini-study"', 'slug = "new"')
    assert_error(only_error(source), line_of(source, "slug ="), "study.slug", "'new' is reserved")


@pytest.mark.parametrize("max_rounds", [0, -1, 21])
def test_max_rounds_out_of_range(max_rounds: int) -> None:
    """A study has between 1 and 20 rounds."""
    source = variant("max_rounds = 3", f"max_rounds = {max_rounds}")
    assert_error(
        only_error(source),
        line_of(source, "max_rounds ="),
        "study.max_rounds",
        f"must be between 1 and 20, not {max_rounds}",
    )


def test_unknown_quantile_method() -> None:
    """The quantile method must be one numpy knows."""
    source = variant("max_rounds = 3\n", 'max_rounds = 3\nquantile_method = "type7"\n')
    error = only_error(source)
    assert_error(
        error,
        line_of(source, "quantile_method"),
        "study.quantile_method",
        "unknown quantile method 'type7'",
    )
    assert "linear" in error.message


def test_quantile_method_is_read() -> None:
    """A known quantile method is kept."""
    source = variant("max_rounds = 3\n", 'max_rounds = 3\nquantile_method = "weibull"\n')
    assert parse_definition(source).quantile_method == "weibull"


def test_consensus_items_is_read_and_stays_by_default() -> None:
    """What becomes of items at consensus is read from ``[study]``; without it they stay."""
    assert parse_definition(MINI).consensus_items == "stay"
    for policy in ("leave", "stay", "ask"):
        source = variant("max_rounds = 3\n", f'max_rounds = 3\nconsensus_items = "{policy}"\n')
        assert parse_definition(source).consensus_items == policy


@pytest.mark.parametrize(
    ("written", "gist"),
    [
        ('"sometimes"', "choose one of leave, stay, ask, not 'sometimes'"),
        ('"Leave"', "choose one of leave, stay, ask, not 'Leave'"),
        ("true", "must be a string, not a boolean"),
    ],
)
def test_unknown_consensus_items(written: str, gist: str) -> None:
    """Anything but leave, stay or ask is refused on its line, naming the field and the
    three choices (a value of the wrong type once, as a type error)."""
    source = variant("max_rounds = 3\n", f"max_rounds = 3\nconsensus_items = {written}\n")
    error = only_error(source)
    assert_error(error, line_of(source, "consensus_items"), "study.consensus_items", gist)
    assert str(error).startswith(
        f"mini.toml:{line_of(source, 'consensus_items')}: study.consensus_items: "
    )


def test_text_as_plain_string() -> None:
    """A text must be given per language; the message shows how."""
    source = variant(CHANCE_TEXT, 'text = "How likely?"\n')
    error = only_error(source)
    assert_error(error, line_of(source, 'text = "How'), "items.chance.text", "per language")
    assert 'text.en = "…"' in error.message
    assert 'text.es = "…"' in error.message


def test_missing_translation_inline() -> None:
    """A text without its Spanish version names the missing language."""
    source = variant(CHANCE_TEXT, 'text = { en = "How likely?" }\n')
    assert_error(
        only_error(source),
        line_of(source, 'text = { en = "How likely?" }'),
        "items.chance.text",
        "missing the 'es' text",
    )


def test_missing_translation_in_dotted_form_points_at_the_text() -> None:
    """Written as ``text.en = …`` (as the demo does), the error is on that line.

    A person looks for the item's text, not for the ``[[items]]`` header above it.
    """
    source = variant(CHANCE_TEXT, 'text.en = "How likely?"\n')
    assert_error(
        only_error(source),
        line_of(source, "text.en ="),
        "items.chance.text",
        "missing the 'es' text",
    )


def test_text_in_unknown_language() -> None:
    """A translation into a language the study does not list is an unknown field."""
    source = variant(CHANCE_TEXT, 'text = { en = "How likely?", es = "¿Y?", fr = "Et ?" }\n')
    assert_error(
        only_error(source),
        line_of(source, 'fr = "Et ?"'),
        "items.chance.text.fr",
        "unknown field",
    )


@pytest.mark.parametrize("empty", ['""', '"   "'])
def test_empty_text(empty: str) -> None:
    """A blank translation is as good as a missing one."""
    source = variant(CHANCE_TEXT, f'text = {{ en = "How likely?", es = {empty} }}\n')
    assert_error(
        only_error(source),
        line_of(source, 'text = { en = "How likely?"'),
        "items.chance.text.es",
        "must not be empty",
    )


def test_duplicate_item_key() -> None:
    """Item keys are unique; the second use is reported, by position."""
    source = variant('key = "chance"', 'key = "rating"')
    assert_error(
        only_error(source),
        line_of(source, 'key = "rating"', 2),
        "items[2].key",
        "duplicate item key 'rating'",
    )


def test_duplicate_scenario_key() -> None:
    """Scenario keys are unique within their set."""
    source = variant('key = "bad"', 'key = "good"')
    assert_error(
        only_error(source),
        line_of(source, 'key = "good"', 2),
        "items.futures.scenarios[2].key",
        "duplicate scenario key 'good'",
    )


def test_duplicate_section_key() -> None:
    """Section keys are unique."""
    source = variant(
        '\n[[items]]\nkey = "rating"',
        '\n[[sections]]\nkey = "main"\ntitle = { en = "Again", es = "Otra vez" }\n'
        '\n[[items]]\nkey = "rating"',
    )
    assert_error(
        only_error(source),
        line_of(source, 'key = "main"', 2),
        "sections[2].key",
        "duplicate section key 'main'",
    )


@pytest.mark.parametrize("key", ["Chance", "2nd", "with-dash", "with space", ""])
def test_invalid_key_pattern(key: str) -> None:
    """Keys are lower-case letters, digits and underscores, starting with a letter."""
    source = variant('key = "chance"', f'key = "{key}"')
    assert_error(
        only_error(source),
        line_of(source, f'key = "{key}"'),
        "items[2].key",
        f"{key!r} is not a valid key",
    )


def test_unknown_item_kind() -> None:
    """The kind must be one of those the service supports, all of them listed."""
    source = variant('kind = "probability"', 'kind = "slider"')
    error = only_error(source)
    assert_error(
        error, line_of(source, 'kind = "slider"'), "items.chance.kind", "unknown item kind 'slider'"
    )
    assert (
        "likert, probability, scenario_set, numeric_estimate, ranking, open_text" in error.message
    )


def test_unknown_section_reference() -> None:
    """An item's section must be one the file defines."""
    source = variant('section = "main"', 'section = "elsewhere"')
    assert_error(
        only_error(source),
        line_of(source, 'section = "elsewhere"'),
        "items.rating.section",
        "no section has the key 'elsewhere'",
    )


@pytest.mark.parametrize("scale", ["{ min = 3, max = 3 }", "{ min = 3, max = 1 }"])
def test_likert_max_not_above_min(scale: str) -> None:
    """A likert scale goes up from its minimum."""
    source = variant("scale = { min = 1, max = 3 }", f"scale = {scale}")
    assert_error(
        only_error(source),
        line_of(source, "scale ="),
        "items.rating.scale.max",
        "must be greater than min (3)",
    )


def test_likert_scale_with_too_many_options() -> None:
    """At most 11 options (0–10)."""
    source = variant("scale = { min = 1, max = 3 }", "scale = { min = 0, max = 11 }")
    assert_error(
        only_error(source),
        line_of(source, "scale ="),
        "items.rating.scale",
        "at most 11 options",
    )


def test_labels_count_differs_from_scale_options() -> None:
    """Each language needs one label per option."""
    source = variant(
        RATING_LABELS, 'labels = { en = ["Low", "High"], es = ["Bajo", "Medio", "Alto"] }\n'
    )
    assert_error(
        only_error(source),
        line_of(source, "labels ="),
        "items.rating.labels.en",
        "has 2 labels but the scale 1–3 has 3 options",
    )


def test_labels_missing_for_a_language() -> None:
    """Labels are needed in every study language."""
    source = variant(RATING_LABELS, 'labels = { en = ["Low", "Middle", "High"] }\n')
    assert_error(
        only_error(source),
        line_of(source, "labels ="),
        "items.rating.labels",
        "missing the 'es' labels",
    )


def test_labels_must_be_non_empty_strings() -> None:
    """A blank label is refused."""
    source = variant(
        RATING_LABELS, 'labels = { en = ["Low", " ", "High"], es = ["Bajo", "Medio", "Alto"] }\n'
    )
    assert_error(
        only_error(source),
        line_of(source, "labels ="),
        "items.rating.labels.en",
        "must be a list of non-empty strings",
    )


def test_scenario_set_with_one_scenario() -> None:
    """A scenario set offers at least two mutually exclusive scenarios."""
    source = variant(SECOND_SCENARIO, "")
    assert_error(
        only_error(source),
        line_of(source, "[[items.scenarios]]"),
        "items.futures.scenarios",
        "a scenario set needs at least two scenarios",
    )


def test_unknown_consensus_criterion() -> None:
    """A criterion kind the analysis does not know is refused."""
    source = variant(
        'criteria = [{ kind = "iqr", max = 1 }]', 'criteria = [{ kind = "unanimity", max = 1 }]'
    )
    error = only_error(source)
    assert_error(
        error,
        line_of(source, "unanimity"),
        "consensus.criteria[1].kind",
        "unknown consensus criterion 'unanimity'",
    )
    assert "iqr" in error.message


def test_criterion_missing_its_parameter() -> None:
    """``iqr`` needs its ``max``."""
    source = variant('criteria = [{ kind = "iqr", max = 1 }]', 'criteria = [{ kind = "iqr" }]')
    assert_error(
        only_error(source),
        line_of(source, 'criteria = [{ kind = "iqr" }]'),
        "consensus.criteria[1].max",
        "required field is missing",
    )


def test_criterion_with_unknown_parameter() -> None:
    """A parameter the criterion does not take is an unknown field."""
    source = variant(
        'criteria = [{ kind = "iqr", max = 1 }]', 'criteria = [{ kind = "iqr", max = 1, low = 2 }]'
    )
    assert_error(
        only_error(source),
        line_of(source, "low = 2"),
        "consensus.criteria[1].low",
        "unknown field; expected one of: kind, max",
    )


def test_combine_must_be_all_or_any() -> None:
    """Criteria combine with ``all`` or ``any`` only."""
    source = variant('combine = "all"', 'combine = "most"')
    assert_error(
        only_error(source),
        line_of(source, 'combine = "most"'),
        "consensus.combine",
        'must be "all" or "any", not \'most\'',
    )


@pytest.mark.parametrize("kind", ["open_text", "slider"])
def test_consensus_by_kind_only_for_numeric_kinds(kind: str) -> None:
    """Overrides by kind exist only for kinds that have statistics."""
    source = variant("[consensus.by_kind.probability]", f"[consensus.by_kind.{kind}]")
    assert_error(
        only_error(source),
        line_of(source, f"[consensus.by_kind.{kind}]"),
        f"consensus.by_kind.{kind}",
        f"{kind!r} is not a numeric item kind",
    )


def test_consensus_on_open_text_item() -> None:
    """An open question has no statistic, hence no consensus rule."""
    rule = 'consensus = { criteria = [{ kind = "iqr", max = 1 }] }'
    source = variant("max_length = 500\n", f"max_length = 500\n{rule}\n")
    assert_error(
        only_error(source),
        line_of(source, rule),
        "items.comment.consensus",
        "open-text items have no consensus rule",
    )


@pytest.mark.parametrize("max_length", [0, 20001])
def test_open_text_max_length_out_of_range(max_length: int) -> None:
    """An open answer allows 1 to 20000 characters."""
    source = variant("max_length = 500", f"max_length = {max_length}")
    assert_error(
        only_error(source),
        line_of(source, "max_length ="),
        "items.comment.max_length",
        "must be between 1 and 20000 characters",
    )


def test_open_text_max_length_default_and_bound() -> None:
    """20000 is allowed; without ``max_length`` an open answer gets 2000 characters."""
    assert (
        parse_definition(variant("max_length = 500", "max_length = 20000")).items[3].max_length
        == 20000
    )
    assert parse_definition(variant("max_length = 500\n", "")).items[3].max_length == 2000


@pytest.mark.parametrize(
    ("languages", "gist"),
    [
        ('["en", "spanish"]', "'spanish' is not a two-letter language code"),
        ('["en", "ES"]', "'ES' is not a two-letter language code"),
        ('["en", 7]', "7 is not a two-letter language code"),
        ('["en", "es", "en"]', "language 'en' is listed twice"),
        ("[]", "list at least one language"),
        ('"en"', "must be a list, not a string"),
    ],
)
def test_languages_invalid(languages: str, gist: str) -> None:
    """The language list is checked before any text is read against it."""
    source = variant('languages = ["en", "es"]', f"languages = {languages}")
    errors = [error for error in errors_of(source) if error.field == "study.languages"]
    assert len(errors) == 1, errors
    assert_error(errors[0], line_of(source, "languages ="), "study.languages", gist)


def test_several_errors_are_all_reported_sorted_by_line() -> None:
    """Every problem is listed, in file order, whatever order they were found in."""
    source = """\
[study]
slug = "Bad Slug"
languages = ["en", "es"]
max_rounds = 0
title = { en = "Title", es = "Título" }

[[items]]
colour = "red"
kind = "slider"
key = "Bad Key"
text = { en = "Rate it", es = "" }

[consensus]
combine = "most"
criteria = [{ kind = "iqr", max = 1 }]
"""
    errors = errors_of(source)
    expected = [
        (line_of(source, "slug ="), "study.slug", "not a valid slug"),
        (line_of(source, "max_rounds ="), "study.max_rounds", "between 1 and 20"),
        (line_of(source, "colour ="), "items[1].colour", "unknown field"),
        (line_of(source, "kind ="), "items[1].kind", "unknown item kind 'slider'"),
        (line_of(source, "key ="), "items[1].key", "'Bad Key' is not a valid key"),
        (line_of(source, "text ="), "items[1].text.es", "must not be empty"),
        (line_of(source, "combine ="), "consensus.combine", 'must be "all" or "any"'),
    ]
    assert [(error.line, error.field) for error in errors] == [
        (line, field) for line, field, _ in expected
    ]
    for error, (_, _, gist) in zip(errors, expected, strict=True):
        assert gist in error.message, str(error)
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(source, name="x.toml")
    assert str(caught.value).splitlines()[0] == (
        f"x.toml:{expected[0][0]}: study.slug: 'Bad Slug' is not a valid slug: "
        "2–63 lower-case letters, digits and -"
    )


# -- consensus rule precedence -----------------------------------------------------------


def iqr_rule(maximum: float) -> ConsensusRule:
    """A rule holding when the IQR is at most ``maximum``."""
    return ConsensusRule((Criterion("iqr", {"max": maximum}),), "all")


def make_item(kind: str, consensus: ConsensusRule | None = None) -> ItemDefinition:
    """A bare item of ``kind``."""
    return ItemDefinition(
        key="x", kind=kind, text=LocalizedText((("en", "X"),)), consensus=consensus
    )


def test_rule_for_precedence() -> None:
    """Item override beats the kind's rule, which beats the default; open text has none."""
    default, for_probability, own = iqr_rule(1), iqr_rule(20), iqr_rule(5)
    settings = ConsensusSettings(default, (("probability", for_probability),))
    assert settings.rule_for(make_item("probability", own)) == own
    assert settings.rule_for(make_item("probability")) == for_probability
    assert settings.rule_for(make_item("likert")) == default
    assert settings.rule_for(make_item("likert", own)) == own
    assert settings.rule_for(make_item("scenario_set")) == default
    assert settings.rule_for(make_item("open_text")) is None
    assert settings.rule_for(make_item("open_text", own)) is None


def test_rule_for_on_a_parsed_study() -> None:
    """Rules written in the file land where ``rule_for`` finds them."""
    source = variant(
        'key = "rating"\n',
        'key = "rating"\n'
        'consensus = { combine = "any", criteria = [{ kind = "iqr", max = 0.5 }] }\n',
    )
    definition = parse_definition(source)
    rating, chance, futures, comment = definition.items
    assert definition.consensus.rule_for(rating) == ConsensusRule(
        (Criterion("iqr", {"max": 0.5}),), "any"
    )
    assert definition.consensus.rule_for(chance) == iqr_rule(20)
    assert definition.consensus.rule_for(futures) == iqr_rule(1)
    assert definition.consensus.rule_for(comment) is None


# -- the CLI -----------------------------------------------------------------------------


def test_cli_validate_valid_file(app, tmp_path: Path) -> None:
    """A valid file exits 0."""
    path = tmp_path / "mini.toml"
    path.write_text(MINI, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["study", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    demo = app.test_cli_runner().invoke(args=["study", "validate", str(DEMO_PATH)])
    assert demo.exit_code == 0, demo.output


def test_cli_validate_invalid_file(app, tmp_path: Path) -> None:
    """An invalid file exits 1 and prints each error as ``PATH:LINE: field: message``."""
    source = variant("max_rounds = 3", 'max_rounds = "3"')
    source = variant('kind = "probability"\n', 'kind = "probability"\ncolour = "red"\n', source)
    path = tmp_path / "broken.toml"
    path.write_text(source, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["study", "validate", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    pattern = re.compile(rf"^{re.escape(str(path))}:(\d+): ([^:]+): (.+)$")
    matches = [pattern.match(line) for line in lines]
    assert all(matches), lines
    assert [(int(m.group(1)), m.group(2)) for m in matches if m] == [
        (line_of(source, "max_rounds ="), "study.max_rounds"),
        (line_of(source, "colour ="), "items.chance.colour"),
    ]


def test_cli_validate_missing_file(app, tmp_path: Path) -> None:
    """A file that cannot be read is an error too, not a traceback."""
    path = tmp_path / "absent.toml"
    result = app.test_cli_runner().invoke(args=["study", "validate", str(path)])
    assert result.exit_code == 1
    assert re.match(rf"^{re.escape(str(path))}:1: file: .+$", result.output.splitlines()[0])


# -- serialisation round trip ------------------------------------------------------------


def through_json(data: dict) -> dict:
    """What a JSON column gives back."""
    return json.loads(json.dumps(data))


def test_demo_items_round_trip_through_json() -> None:
    """Every demo item comes back equal from its stored JSON."""
    definition = load_definition_file(DEMO_PATH)
    for item in definition.items:
        assert item_from_json(item.key, item.kind, through_json(item_to_json(item))) == item
    assert consensus_from_json(through_json(consensus_to_json(definition.consensus))) == (
        definition.consensus
    )


def test_item_overrides_round_trip_through_json() -> None:
    """Own consensus rules, ``rationale = false`` and help texts survive storage."""
    source = variant(
        'key = "chance"\n',
        'key = "chance"\nrationale = false\nhelp = { en = "0–100", es = "0–100" }\n'
        'consensus = { combine = "any", criteria = [{ kind = "iqr", max = 12.5 }] }\n',
    )
    definition = parse_definition(source)
    chance = definition.items[1]
    assert chance.rationale is False
    assert chance.consensus == ConsensusRule((Criterion("iqr", {"max": 12.5}),), "any")
    for item in definition.items:
        assert item_from_json(item.key, item.kind, through_json(item_to_json(item))) == item


def test_definition_round_trips_through_the_database(make_study) -> None:
    """A loaded study's items and consensus read back equal to the parsed definition."""
    definition = parse_definition(MINI)
    study = make_study(MINI)
    assert [stored.definition for stored in active_items(study)] == list(definition.items)
    assert study_definition(study) == definition
