"""Hostile and oversized study definitions (issue 11, point 11): every one is refused
with problems that name the line and the field, never with a crash.

- Pathological TOML: values nested far deeper than any study needs (``tomllib``
  recurses, so 100,000 brackets used to raise ``RecursionError`` and answer 500),
  integers with thousands of digits, NaN and infinities, dates where texts or numbers
  belong, surrogate code points that a JSON body can carry.
- Control characters reach any text through TOML escapes (``\\u0000``, ``\\u001b``, …):
  one-line texts refuse every line break and control character; texts of several
  paragraphs (introduction, help) accept line feeds and tabs only.  NUL is never
  accepted (PostgreSQL cannot store it in a text column).
- Limits on counts and lengths keep every page usable; each violation names the
  field and the limit, and the README lists every limit.

The same loader serves the CLI, the console (create, add item, reword) and the API,
so the three entry points are checked once each at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elicit.extensions import db
from surveys.api_tokens import create_token
from surveys.definition import (
    DIGIT_LIMIT,
    ITEM_LIMIT,
    LANGUAGE_LIMIT,
    LIKERT_OPTION_LIMIT,
    NESTING_LIMIT,
    NUMBER_LIMIT,
    RANKING_OPTION_LIMIT,
    SCENARIO_LIMIT,
    SECTION_LIMIT,
    SIZE_LIMIT,
    TEXT_RULES,
    DefinitionError,
    InvalidDefinition,
    parse_definition,
    parse_item,
)
from surveys.studies import find_study
from tests.conftest import csrf_token, log_in
from tests.surveys.test_definition import MINI, line_of, variant

REPOSITORY = Path(__file__).resolve().parents[2]
DEEP = 100_000


def problems(source: str) -> list[DefinitionError]:
    """The problems ``source`` is refused with (it must be refused)."""
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(source, name="mini.toml")
    errors = caught.value.errors
    assert errors, "refused without a problem"
    return errors


def only_problem(source: str) -> DefinitionError:
    """The one problem ``source`` is refused with."""
    errors = problems(source)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


# -- pathological TOML ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "[" * DEEP + "]" * DEEP,
        "{ a = " * DEEP + "1" + " }" * DEEP,
        "[" + "{ a = [" * (DEEP // 2) + "]}" * (DEEP // 2) + "]",
    ],
    ids=["arrays", "inline-tables", "mixed"],
)
def test_deep_nesting_is_a_problem_on_its_line(value: str) -> None:
    """A value nested 100,000 deep is refused on its own line, naming its key."""
    source = variant("max_rounds = 3\n", f"max_rounds = 3\nnested = {value}\n")
    error = only_problem(source)
    assert (error.line, error.field) == (line_of(source, "nested = "), "study.nested")
    assert f"more than {NESTING_LIMIT} levels" in error.message


def test_nesting_across_lines_is_named_by_the_key_that_opened_it() -> None:
    """An array opened on one line and nested on the next ones is the key's problem."""
    depth = NESTING_LIMIT + 1
    body = "\n".join("[" for _ in range(depth)) + "\n" + "\n".join("]" for _ in range(depth))
    source = variant("max_rounds = 3\n", f"max_rounds = 3\nnested = {body}\n")
    error = only_problem(source)
    assert error.field == "study.nested"
    assert error.line == line_of(source, "nested = ") + NESTING_LIMIT  # level 11 opens there
    assert "levels" in error.message


def test_nesting_just_within_the_limit_reaches_the_field_checks() -> None:
    """The limit is on nesting only: a value at the limit is read and judged as usual."""
    value = "[" * NESTING_LIMIT + "]" * NESTING_LIMIT
    source = variant("max_rounds = 3\n", f"max_rounds = 3\nnested = {value}\n")
    error = only_problem(source)
    assert error.field == "study.nested" and "unknown field" in error.message


def test_brackets_inside_strings_and_comments_are_not_nesting() -> None:
    """Brackets written inside a text or a comment count for nothing."""
    many = "[" * (NESTING_LIMIT * 3)
    source = variant(
        'title = { en = "A small study"',
        f'# {many}\ntitle = {{ en = "A small study {many}"',
    )
    assert parse_definition(source).title.get("en") == f"A small study {many}"


def test_an_integer_of_thousands_of_digits_is_a_problem_of_its_field() -> None:
    """Python refuses to read integers over 4,300 digits; the loader says which one."""
    source = variant("max_rounds = 3", "max_rounds = 1" + "0" * 5000)
    error = only_problem(source)
    assert (error.line, error.field) == (line_of(source, "max_rounds = 1"), "study.max_rounds")
    assert "digits" in error.message


CRITERIA = 'criteria = [{ kind = "iqr", max = 1 }]'


@pytest.mark.parametrize(
    ("old", "new", "field", "gist"),
    [
        ("max_rounds = 3", "max_rounds = 10000000000000000000000", "study.max_rounds", "between"),
        ("max_rounds = 3", "max_rounds = -10000000000000000000000", "study.max_rounds", "between"),
        (
            CRITERIA,
            'criteria = [{ kind = "iqr", max = nan }]',
            "consensus.criteria[1].max",
            "finite",
        ),
        (
            CRITERIA,
            'criteria = [{ kind = "iqr", max = -inf }]',
            "consensus.criteria[1].max",
            "finite",
        ),
        (
            CRITERIA,
            'criteria = [{ kind = "iqr", max = 1e300 }]',
            "consensus.criteria[1].max",
            "between",
        ),
        (
            CRITERIA,
            'criteria = [{ kind = "iqr", max = 100000000000000000000 }]',
            "consensus.criteria[1].max",
            "between",
        ),
        (
            "scale = { min = 1, max = 3 }",
            "scale = { min = -1000000000000000000, max = -999999999999999998 }",
            "items.rating.scale.min",
            "between",
        ),
    ],
)
def test_numbers_out_of_every_range_are_problems(old: str, new: str, field: str, gist: str) -> None:
    """NaN, infinities and numbers beyond ±10^15 are refused wherever a number goes."""
    source = variant(old, new)
    errors = problems(source)
    assert any(e.field == field and gist in e.message for e in errors), errors
    assert {e.line for e in errors} == {line_of(source, new)}, errors


def test_numbers_within_the_range_are_read() -> None:
    """±10^15 itself is allowed (an estimate's bounds may be large)."""
    source = (
        MINI
        + """
[[items]]
key = "money"
kind = "numeric_estimate"
text = { en = "How much?", es = "¿Cuánto?" }
bounds = { min = -1000000000000000, max = 1000000000000000 }
"""
    )
    money = parse_definition(source).items[-1]
    assert money.estimate_bounds == (-float(NUMBER_LIMIT), float(NUMBER_LIMIT))


@pytest.mark.parametrize(
    ("old", "new", "field", "gist"),
    [
        (
            'title = { en = "A small study"',
            "title = { en = 1979-05-27",
            "study.title.en",
            "must be a string, not a date",
        ),
        (
            'slug = "mini-study"',
            "slug = 1979-05-27T07:32:00Z",
            "study.slug",
            "must be a string, not a date and time",
        ),
        ("max_rounds = 3", "max_rounds = 07:32:00", "study.max_rounds", "not a time of day"),
        (
            'kind = "probability"',
            "kind = 1979-05-27T07:32:00",
            "items.chance.kind",
            "not a date and time",
        ),
    ],
)
def test_dates_where_texts_or_numbers_belong_are_named(
    old: str, new: str, field: str, gist: str
) -> None:
    """TOML dates and times are named as such, never by a Python class name."""
    source = variant(old, new)
    error = only_problem(source)
    assert (error.line, error.field) == (line_of(source, new), field)
    assert gist in error.message


def test_a_surrogate_code_point_is_refused_on_its_line() -> None:
    """A lone surrogate (a JSON body can carry one) cannot be stored as UTF-8."""
    source = variant('title = { en = "A small study"', 'title = { en = "A small \ud800 study"')
    error = only_problem(source)
    assert (error.line, error.field) == (line_of(source, "A small \ud800"), "study.title")
    assert "U+D800" in error.message


def test_a_definition_over_the_size_limit_is_refused_before_it_is_read() -> None:
    """The whole file has a size limit (the console shows it line by line)."""
    source = MINI + "#" * (SIZE_LIMIT - len(MINI) + 1)
    error = only_problem(source)
    assert (error.line, error.field) == (1, "definition")
    assert f"{SIZE_LIMIT:,}" in error.message
    assert parse_definition(MINI + "#" * (SIZE_LIMIT - len(MINI) - 1)).slug == "mini-study"


def test_field_names_made_of_control_characters_are_shown_escaped() -> None:
    """A key spelled with terminal escapes is reported without them (the CLI prints it)."""
    source = variant("max_rounds = 3\n", 'max_rounds = 3\n"\\u001b[31m\\u0000x" = 1\n')
    error = only_problem(source)
    assert "unknown field" in error.message
    assert not re.search(r"[\x00-\x1f\x7f]", str(error)), repr(str(error))
    assert "\\x1b" in error.field


def test_values_echoed_in_messages_are_shortened() -> None:
    """A hostile value quoted back in a message is cut, so messages stay readable."""
    source = variant('kind = "probability"', f'kind = "{"x" * 100_000}"')
    error = only_problem(source)
    assert error.field == "items.chance.kind"
    assert len(error.message) < 500


# -- control characters in texts -------------------------------------------------------------

#: Each kind of text as written in FULL: (old, template with {c}, field, rule name).
ONE_LINE_TEXTS = [
    (
        'title = { en = "A small study"',
        'title = { en = "A small{c}study"',
        "study.title.en",
        "study_title",
    ),
    (
        'title = { en = "Main questions"',
        'title = { en = "Main{c}questions"',
        "sections.main.title.en",
        "section_title",
    ),
    (
        'text = { en = "How likely?"',
        'text = { en = "How{c}likely?"',
        "items.chance.text.en",
        "item_text",
    ),
    (
        'text = { en = "A good one"',
        'text = { en = "A good{c}one"',
        "items.futures.scenarios.good.text.en",
        "choice_text",
    ),
    (
        'labels = { en = ["Low", "Middle"',
        'labels = { en = ["Low", "Mid{c}dle"',
        "items.rating.labels.en[2]",
        "label",
    ),
    (
        'text = { en = "First"',
        'text = { en = "Fi{c}rst"',
        "items.order.options.first.text.en",
        "choice_text",
    ),
    ('unit = { en = "people"', 'unit = { en = "peo{c}ple"', "items.count.unit.en", "unit"),
]
MANY_LINE_TEXTS = [
    (
        "max_rounds = 3\n",
        'max_rounds = 3\nintroduction = { en = "Para one.{c}Two", es = "Uno" }\n',
        "study.introduction.en",
        "introduction",
    ),
    (
        'text = { en = "How likely?", es = "¿Qué tan probable?" }\n',
        'text = { en = "How likely?", es = "¿Qué tan probable?" }\n'
        'help = { en = "Think{c}of it", es = "Piense" }\n',
        "items.chance.help.en",
        "help",
    ),
]
EXTRA_ITEMS = """
[[items]]
key = "order"
kind = "ranking"
text = { en = "Order them", es = "Ordénelos" }
consensus = { criteria = [{ kind = "iqr", max = 1 }] }

[[items.options]]
key = "first"
text = { en = "First", es = "Primero" }

[[items.options]]
key = "second"
text = { en = "Second", es = "Segundo" }

[[items]]
key = "count"
kind = "numeric_estimate"
text = { en = "How many?", es = "¿Cuántos?" }
unit = { en = "people", es = "personas" }
"""
FULL = MINI.replace('\n[[items]]\nkey = "comment"', EXTRA_ITEMS + '\n[[items]]\nkey = "comment"')
#: TOML escapes and what they put in the text.
LINE_BREAKS = ["\\n", "\\r", "\\u000b", "\\u000c", "\\u0085", "\\u2028", "\\u2029", "\\r\\n"]
CONTROLS = ["\\u0000", "\\u0007", "\\b", "\\u001b", "\\u007f", "\\u0090", "\\u001f"]


def test_the_texts_used_below_are_valid_without_control_characters() -> None:
    """The base document with every kind of text validates."""
    definition = parse_definition(FULL)
    assert [item.key for item in definition.items][-3:] == ["order", "count", "comment"]


def fill(template: str, inserted: str) -> str:
    """``template`` with ``inserted`` in place of ``{c}``."""
    return template.replace("{c}", inserted)


@pytest.mark.parametrize("escape", [*LINE_BREAKS, *CONTROLS, "\\t"])
@pytest.mark.parametrize(
    ("old", "template", "field", "rule"), ONE_LINE_TEXTS, ids=[t[3] for t in ONE_LINE_TEXTS]
)
def test_one_line_texts_refuse_line_breaks_and_control_characters(
    old: str, template: str, field: str, rule: str, escape: str
) -> None:
    """A title, item text, scenario, option, label or unit holds one line of text."""
    new = fill(template, escape)
    source = variant(old, new, FULL)
    error = only_problem(source)
    assert (error.line, error.field) == (line_of(source, new), field), str(error)
    if escape in LINE_BREAKS:
        assert "one line" in error.message, str(error)
    else:
        assert "control character" in error.message, str(error)
    assert "U+" in error.message


@pytest.mark.parametrize("escape", ["\\u2028", "\\u0000", "\\u001b", "\\r", "\\u007f", "\\u0085"])
@pytest.mark.parametrize(
    ("old", "template", "field", "rule"), MANY_LINE_TEXTS, ids=["intro", "help"]
)
def test_texts_of_paragraphs_refuse_control_characters_other_than_newline_and_tab(
    old: str, template: str, field: str, rule: str, escape: str
) -> None:
    """An introduction or a help text keeps line feeds and tabs, nothing else."""
    new = fill(template, escape)
    source = variant(old, new, FULL)
    error = only_problem(source)
    assert (error.line, error.field) == (line_of(source, new.splitlines()[-1]), field)
    assert "U+" in error.message


@pytest.mark.parametrize(
    ("old", "template", "field", "rule"), MANY_LINE_TEXTS, ids=["intro", "help"]
)
def test_texts_of_paragraphs_keep_line_feeds_and_tabs(
    old: str, template: str, field: str, rule: str
) -> None:
    """Paragraphs and tabs are what an introduction is made of."""
    definition = parse_definition(variant(old, fill(template, "\\n\\n\\t"), FULL))
    if field.startswith("study"):
        assert definition.introduction is not None
        assert definition.introduction.get("en") == "Para one.\n\n\tTwo"
    else:
        chance = next(item for item in definition.items if item.key == "chance")
        assert chance.help is not None and chance.help.get("en") == "Think\n\n\tof it"


def test_every_control_character_of_every_text_is_found_at_once() -> None:
    """A file with several bad texts lists them all, each on its line."""
    source = variant('title = { en = "A small study"', 'title = { en = "A\\u0000study"', FULL)
    source = variant('text = { en = "How likely?"', 'text = { en = "How\\nlikely?"', source)
    fields = [error.field for error in problems(source)]
    assert fields == ["study.title.en", "items.chance.text.en"]


def test_an_added_item_is_held_to_the_same_rules() -> None:
    """The console's "add item" and "reword" read one item with the same checks."""
    item = '[[items]]\nkey = "x"\nkind = "probability"\ntext = { en = "Why\\u0007?" }\n'
    with pytest.raises(InvalidDefinition) as caught:
        parse_item(item, languages=("en",))
    (error,) = caught.value.errors
    assert (error.line, error.field) == (4, "items.x.text.en")
    deep = '[[items]]\nkey = "x"\nkind = "probability"\ntext = { en = "Why?" }\n'
    deep += "nested = " + "[" * DEEP + "]" * DEEP + "\n"
    with pytest.raises(InvalidDefinition) as caught:
        parse_item(deep, languages=("en",))
    (error,) = caught.value.errors
    assert (error.line, error.field) == (5, "items[1].nested")


# -- limits on counts and lengths -------------------------------------------------------------


def study_with_items(count: int) -> str:
    """A valid study of ``count`` probability items."""
    head = MINI.split("[[sections]]")[0]
    items = "".join(
        f'\n[[items]]\nkey = "q{index}"\nkind = "probability"\n'
        f'text = {{ en = "Q{index}", es = "P{index}" }}\n'
        for index in range(count)
    )
    return head + items


def test_a_study_holds_at_most_the_item_limit() -> None:
    """At the limit the study loads; one more item is refused, naming the limit."""
    assert len(parse_definition(study_with_items(ITEM_LIMIT)).items) == ITEM_LIMIT
    source = study_with_items(ITEM_LIMIT + 1)
    error = only_problem(source)
    assert (error.line, error.field) == (line_of(source, "[[items]]"), "items")
    assert f"at most {ITEM_LIMIT} items" in error.message
    assert f"{ITEM_LIMIT + 1}" in error.message


def test_adding_an_item_to_a_full_study_is_refused() -> None:
    """The item limit holds for items added between rounds too."""
    item = '[[items]]\nkey = "extra"\nkind = "probability"\ntext = { en = "More?" }\n'
    full = {f"q{index}" for index in range(ITEM_LIMIT)}
    with pytest.raises(InvalidDefinition) as caught:
        parse_item(item, languages=("en",), taken_keys=full)
    (error,) = caught.value.errors
    assert error.field == "items" and f"at most {ITEM_LIMIT} items" in error.message
    below = set(list(full)[1:])
    assert parse_item(item, languages=("en",), taken_keys=below).key == "extra"


def test_a_study_holds_at_most_the_section_limit() -> None:
    """Sections beyond the limit are refused at the first ``[[sections]]``."""
    extra = "".join(
        f'\n[[sections]]\nkey = "s{index}"\ntitle = {{ en = "S", es = "S" }}\n'
        for index in range(SECTION_LIMIT)
    )
    source = variant("[[sections]]\n", extra.lstrip("\n") + "\n[[sections]]\n")
    error = only_problem(source)
    assert (error.line, error.field) == (line_of(source, "[[sections]]"), "sections")
    assert f"at most {SECTION_LIMIT} sections" in error.message


def test_a_study_has_at_most_the_language_limit() -> None:
    """More languages than the limit are refused on the languages line."""
    codes = [chr(97 + index // 26) + chr(97 + index % 26) for index in range(LANGUAGE_LIMIT + 1)]
    source = variant('languages = ["en", "es"]', f"languages = {codes!r}".replace("'", '"'))
    errors = problems(source)
    assert any(
        e.field == "study.languages" and f"at most {LANGUAGE_LIMIT} languages" in e.message
        for e in errors
    ), errors


@pytest.mark.parametrize(
    ("kind", "field", "limit"),
    [("scenarios", "scenarios", SCENARIO_LIMIT), ("options", "options", RANKING_OPTION_LIMIT)],
)
def test_choices_are_limited(kind: str, field: str, limit: int) -> None:
    """A scenario set or a ranking has a bounded number of choices."""

    def with_choices(count: int) -> str:
        choices = "".join(
            f'\n[[items.{field}]]\nkey = "c{index}"\ntext = {{ en = "C", es = "C" }}\n'
            for index in range(count)
        )
        item = "ranking" if field == "options" else "scenario_set"
        rule = (
            'consensus = { criteria = [{ kind = "iqr", max = 1 }] }\n' if item == "ranking" else ""
        )
        return MINI + (
            f'\n[[items]]\nkey = "many"\nkind = "{item}"\n{rule}'
            f'text = {{ en = "Which?", es = "¿Cuál?" }}\n{choices}'
        )

    assert len(parse_definition(with_choices(limit)).items[-1].components) == limit
    source = with_choices(limit + 1)
    error = only_problem(source)
    assert error.field == f"items.many.{field}"
    # MINI's own scenario set comes first with two scenarios; it has no ranking.
    first = 3 if field == "scenarios" else 1
    assert error.line == line_of(source, f"[[items.{field}]]", first)
    assert f"at most {limit}" in error.message


def test_likert_points_are_limited() -> None:
    """The existing limit of 11 points is one of the documented limits."""
    source = variant(
        "scale = { min = 1, max = 3 }", f"scale = {{ min = 1, max = {LIKERT_OPTION_LIMIT + 1} }}"
    )
    error = only_problem(source)
    assert f"at most {LIKERT_OPTION_LIMIT} options" in error.message


@pytest.mark.parametrize(
    ("old", "template", "field", "rule"),
    ONE_LINE_TEXTS + MANY_LINE_TEXTS,
    ids=[t[2] for t in ONE_LINE_TEXTS + MANY_LINE_TEXTS],
)
def test_every_text_has_a_length_limit(old: str, template: str, field: str, rule: str) -> None:
    """At its limit a text loads; one character more is refused, naming the limit."""
    limit = TEXT_RULES[rule].max_length
    match = re.search(r'"([^"]*)\{c\}([^"]*)"', template)
    assert match, template
    pad = limit - len(match.group(1)) - len(match.group(2))
    parse_definition(variant(old, fill(template, "x" * pad), FULL))
    error = only_problem(variant(old, fill(template, "x" * (pad + 1)), FULL))
    assert error.field == field
    assert f"at most {limit:,} characters" in error.message


def test_the_readme_documents_every_limit() -> None:
    """The README's table of limits gives the value each constant has."""
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Study definition files", 1)[1].split("\n## ", 1)[0]
    # The table of limits, not the section's other tables (rule checks).
    table = section[section.index("| what | limit |") :].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", table, re.MULTILINE))

    def text(rule: str) -> str:
        kind = "paragraphs" if TEXT_RULES[rule].paragraphs else "one line"
        return f"{TEXT_RULES[rule].max_length:,} characters ({kind})"

    assert TEXT_RULES["study_title"] == TEXT_RULES["section_title"]
    assert rows == {
        "what": "limit",
        "---": "---",
        "whole file": f"{SIZE_LIMIT:,} characters",
        "items (added ones included)": str(ITEM_LIMIT),
        "sections": str(SECTION_LIMIT),
        "languages": str(LANGUAGE_LIMIT),
        "scenarios of a scenario set": str(SCENARIO_LIMIT),
        "options of a ranking": str(RANKING_OPTION_LIMIT),
        "points of a likert scale": str(LIKERT_OPTION_LIMIT),
        "study title, section title": text("study_title"),
        "item text": text("item_text"),
        "scenario or option text": text("choice_text"),
        "likert label": text("label"),
        "unit": text("unit"),
        "help": text("help"),
        "introduction": text("introduction"),
        "any number (bounds, thresholds, scale ends)": "between −10^15 and 10^15, finite",
        "nesting of brackets and braces in one value": f"{NESTING_LIMIT} levels",
        "digits of one number": str(DIGIT_LIMIT),
    }
    assert NUMBER_LIMIT == 10**15


# -- the three entry points -----------------------------------------------------------------


def test_the_cli_lists_the_problem_of_a_deep_file(app, tmp_path) -> None:
    """``elicit study validate`` prints the problem and exits 1, no traceback."""
    path = tmp_path / "deep.toml"
    path.write_text(variant("max_rounds = 3\n", "max_rounds = 3\nx = " + "[" * DEEP + "\n"))
    result = app.test_cli_runner().invoke(args=["study", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5: study.x: " in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_api_answers_422_with_the_problems(app, client, make_user) -> None:
    """``POST /api/v1/studies`` refuses a deep or hostile definition with 422, not 500."""
    user = make_user("lead@example.org")
    secret = create_token(db.session, user, "t", "write").secret
    headers = {"Authorization": f"Bearer {secret}"}
    deep = variant("max_rounds = 3\n", "max_rounds = 3\nx = " + "{ a = " * DEEP + "\n")
    answer = client.post("/api/v1/studies", json={"definition": deep}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert {"line": 5, "field": "study.x"}.items() <= answer.json["problems"][0].items()
    hostile = variant('title = { en = "A small study"', 'title = { en = "A\\u0000small\\nstudy"')
    answer = client.post("/api/v1/studies", json={"definition": hostile}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert [problem["field"] for problem in answer.json["problems"]] == ["study.title.en"]
    surrogate = variant('title = { en = "A small study"', 'title = { en = "A \ud800 study"')
    answer = client.post("/api/v1/studies", json={"definition": surrogate}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert find_study(db.session, "mini-study") is None


def test_the_console_shows_the_problem_beside_its_line(app, client, make_user) -> None:
    """Creating a study from a deep definition in the console answers 422 with the line."""
    make_user("lead@example.org")
    log_in(client, "lead@example.org")
    page = client.get("/console/studies/new")
    deep = variant("max_rounds = 3\n", "max_rounds = 3\nx = " + "[" * DEEP + "]" * DEEP + "\n")
    refused = client.post(
        "/console/studies/new",
        data={"csrf_token": csrf_token(page.text), "source": deep, "anonymity": "standard"},
    )
    assert refused.status_code == 422
    assert "study.x" in refused.text and f"{NESTING_LIMIT} levels" in refused.text


def test_the_console_refuses_a_hostile_item_with_422(app, client, make_study, make_user) -> None:
    """Adding an item in the console: deep nesting or a control character is a problem
    beside its line, and nothing is added."""
    study = make_study()
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    url = f"/console/studies/{study.slug}/items/add"
    item = (
        '[[items]]\nkey = "hostile"\nkind = "probability"\nsection = "triggers"\n'
        'text.en = "A bell\\u0007 rings"\ntext.es = "Suena"\n'
    )
    for source, field in (
        (item, "items.hostile.text.en"),
        (item.replace('"Suena"\n', '"Suena"\nx = ' + "[" * DEEP + "\n"), "items[1].x"),
    ):
        page = client.get(url)
        refused = client.post(url, data={"csrf_token": csrf_token(page.text), "item": source})
        assert refused.status_code == 422, refused.status_code
        assert field in refused.text
    db.session.expire_all()
    assert "hostile" not in {item.key for item in find_study(db.session, study.slug).items}
