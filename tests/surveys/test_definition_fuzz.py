"""The study-definition loader under a fuzzer (issue 11): whatever text it is given, it
returns a definition or raises :class:`InvalidDefinition` whose every problem has a line
and a field, never any other exception.

Three sources of input, each bounded to a few seconds:

- arbitrary text, and text made of TOML's own punctuation;
- the shipped demo definition with lines replaced, inserted, duplicated or deleted, the
  replacements drawn from every kind of TOML value (huge and non-finite numbers, dates,
  texts full of control characters, values nested thousands deep);
- the demo parsed, changed at a random place in its structure, and written back.

A definition that is accepted must keep the documented limits (its one-line texts hold
no control character, its counts are within bounds), and its canonical text
(:func:`surveys.definition_writer.definition_to_toml`) must read back as the same
definition: acceptance is checked too, not only the absence of a crash.
"""

from __future__ import annotations

import copy
import datetime
import math
import re
import tomllib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.definition import (
    ITEM_LIMIT,
    LANGUAGE_LIMIT,
    TEXT_RULES,
    InvalidDefinition,
    StudyDefinition,
    parse_definition,
    text_problem,
)
from surveys.definition_writer import definition_to_toml
from surveys.demo import demo_source

DEMO = demo_source()
DEMO_LINES = DEMO.splitlines()
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: What a problem's field or its rendering must never hold: a raw control character.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def outcome(source: str) -> StudyDefinition | None:
    """Load ``source``; check the refusal, or check the accepted definition's limits."""
    try:
        definition = parse_definition(source, name="fuzz.toml")
    except InvalidDefinition as invalid:
        assert invalid.errors, "refused without a problem"
        last_line = max(1, source.count("\n") + 1)
        for error in invalid.errors:
            assert isinstance(error.line, int) and 1 <= error.line <= last_line, error
            assert isinstance(error.field, str) and error.field, error
            assert isinstance(error.message, str) and error.message, error
            assert not RAW_CONTROL.search(error.field), repr(error.field)
        return None
    assert isinstance(definition, StudyDefinition)
    assert_within_limits(definition)
    # The builder opens whatever the loader accepts: its canonical text reads back exact.
    assert parse_definition(definition_to_toml(definition), name="written.toml") == definition
    return definition


def assert_within_limits(definition: StudyDefinition) -> None:
    """Every text of an accepted definition keeps its rule; counts keep their limits."""
    assert len(definition.items) <= ITEM_LIMIT
    assert len(definition.languages) <= LANGUAGE_LIMIT
    texts: list[tuple[str, str]] = [(text, "study_title") for _, text in definition.title.values]
    if definition.introduction:
        texts += [(text, "introduction") for _, text in definition.introduction.values]
    for section in definition.sections:
        texts += [(text, "section_title") for _, text in section.title.values]
    for item in definition.items:
        texts += [(text, "item_text") for _, text in item.text.values]
        if item.help:
            texts += [(text, "help") for _, text in item.help.values]
        if item.unit:
            texts += [(text, "unit") for _, text in item.unit.values]
        for choice in (*item.scenarios, *item.options):
            texts += [(text, "choice_text") for _, text in choice.text.values]
        if item.scale:
            texts += [(label, "label") for _, labels in item.scale.labels for label in labels]
        if item.estimate_bounds:
            assert all(math.isfinite(bound) for bound in item.estimate_bounds)
    for text, rule in texts:
        assert "\x00" not in text
        assert text_problem(text, TEXT_RULES[rule]) is None, (rule, text)


# -- TOML values of every kind -----------------------------------------------------------------

TEXTS = st.text(max_size=30) | st.sampled_from(
    ["", " ", "\x00", "a\nb", "\x1b[31m", "\u2028", "\x7f", "\x85", "$x$", "=1+1", "é" * 300]
)
NUMBERS = (
    st.integers(-(10**20), 10**20)
    | st.sampled_from([0, 1, -1, 11, 20, 21, 10**15, 10**15 + 1, 10**50, -(10**80)])
    | st.floats(allow_nan=True, allow_infinity=True)
)
MOMENTS = st.dates() | st.times() | st.datetimes()
SCALARS = TEXTS | NUMBERS | st.booleans() | MOMENTS
KEYS = st.sampled_from(
    ["key", "kind", "text", "en", "es", "min", "max", "labels", "scale", "criteria", "title"]
) | st.text(min_size=1, max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=8,
)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string, every character TOML forbids raw escaped."""
    out = []
    for character in text:
        code = ord(character)
        if character in '"\\':
            out.append("\\" + character)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(character)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """A key, bare when TOML allows it, else quoted."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_value(value: Any) -> str:
    """``value`` written as one inline TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(element) for element in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    raise TypeError(type(value))


DEEP_VALUES = st.integers(1, 5000).map(lambda depth: "[" * depth + "]" * depth) | st.integers(
    1, 5000
).map(lambda depth: "{ a = " * depth + "1" + " }" * depth)
RAW_VALUES = VALUES.map(toml_value) | DEEP_VALUES | st.sampled_from(["1" + "0" * 5000, "\ud800"])


# -- the three fuzzers -------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text(source: str) -> None:
    """Any text at all: a problem or a definition, nothing else."""
    outcome(source)


@FUZZ
@given(st.text(alphabet="[]{}=\".,'\\#\n abc123-_+:eTZ", max_size=300))
def test_text_of_toml_punctuation(source: str) -> None:
    """Text made of TOML's brackets, quotes, escapes and comments."""
    outcome(source)


@FUZZ
@given(st.data())
def test_line_mutations_of_the_demo(data: st.DataObject) -> None:
    """The demo with a few of its lines replaced, inserted, duplicated or deleted."""
    lines = list(DEMO_LINES)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        index = data.draw(st.integers(0, len(lines) - 1), label="line")
        action = data.draw(st.sampled_from(["value", "insert", "duplicate", "delete"]))
        if action == "value":
            key = lines[index].split("=", 1)[0].strip() or "text"
            lines[index] = f"{key} = {data.draw(RAW_VALUES, label='value')}"
        elif action == "insert":
            key = toml_key(data.draw(KEYS, label="key"))
            lines.insert(index, f"{key} = {data.draw(RAW_VALUES, label='value')}")
        elif action == "duplicate":
            lines.insert(index, lines[index])
        else:
            del lines[index]
    outcome("\n".join(lines) + "\n")


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (tables and lists)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def document(data: dict[str, Any]) -> str:
    """A TOML document: each top-level key on a line, its value inline."""
    return "".join(f"{toml_key(key)} = {toml_value(value)}\n" for key, value in data.items())


DEMO_DATA = tomllib.loads(DEMO)
DEMO_PATHS = [path for path in paths(DEMO_DATA) if path]


def test_the_demo_written_back_inline_is_still_valid() -> None:
    """The writer below loses nothing: the unchanged demo, written inline, validates."""
    assert outcome(document(DEMO_DATA)) == parse_definition(DEMO)


@FUZZ
@given(st.data())
def test_structured_mutations_of_the_demo(data: st.DataObject) -> None:
    """The demo's data changed at random places (a value replaced, a key removed or
    added, an array grown or emptied), then written back as TOML."""
    mutated = copy.deepcopy(DEMO_DATA)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(DEMO_PATHS), label="path")
        parent: Any = mutated
        try:
            for part in path[:-1]:
                parent = parent[part]
            current = parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this place
        action = data.draw(st.sampled_from(["replace", "remove", "add", "grow", "empty"]))
        if action == "replace":
            parent[path[-1]] = data.draw(VALUES, label="value")
        elif action == "remove":
            del parent[path[-1]]
        elif action == "add" and isinstance(current, dict):
            current[data.draw(KEYS, label="key")] = data.draw(VALUES, label="value")
        elif action == "grow" and isinstance(current, list) and current:
            count = data.draw(st.sampled_from([1, 20, 250]), label="copies")
            current.extend(copy.deepcopy(current[-1]) for _ in range(count))
        elif action == "empty" and isinstance(current, list | dict):
            current.clear()
    outcome(document(mutated))
