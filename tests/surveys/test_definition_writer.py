"""The canonical TOML writer: exact, deterministic and readable."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from importlib.resources import files

import pytest
from hypothesis import HealthCheck, given, settings

from analysis import ConsensusRule, Criterion
from surveys.definition import LocalizedText, StudyDefinition, parse_definition
from surveys.definition_writer import definition_to_toml
from surveys.demo import demo_source
from surveys.serialization import toml_number, toml_string, toml_text
from tests.surveys.definition_strategies import definitions

SHIPPED = sorted(
    path.name for path in files("surveys.definitions").iterdir() if path.name.endswith(".toml")
)


def round_trip(definition: StudyDefinition) -> StudyDefinition:
    """Write ``definition`` and read it back with the loader."""
    return parse_definition(definition_to_toml(definition), name="written.toml")


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(definitions())
def test_every_valid_definition_round_trips_exactly(definition: StudyDefinition) -> None:
    """Whatever the definition, the loader reads its text back as the same definition,
    and writing that again gives the same bytes."""
    text = definition_to_toml(definition)
    back = parse_definition(text, name="written.toml")
    assert back == definition
    assert definition_to_toml(back) == text


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_definitions_round_trip(name: str) -> None:
    """Every definition shipped in the package: parse, write, parse gives the same."""
    source = files("surveys.definitions").joinpath(name).read_text(encoding="utf-8")
    definition = parse_definition(source, name=name)
    assert round_trip(definition) == definition


def test_the_same_definition_gives_the_same_bytes() -> None:
    """Two equal definitions, read separately, are written identically (the protocol
    stamp hashes the text)."""
    first = parse_definition(demo_source())
    second = parse_definition(demo_source())
    assert first is not second
    assert definition_to_toml(first).encode() == definition_to_toml(second).encode()


def test_the_demo_is_written_in_the_documented_layout() -> None:
    """Settings with their comments, texts side by side, a divider per section."""
    text = definition_to_toml(parse_definition(demo_source()))
    assert text.startswith("# A study definition for elicit.")
    assert '\nquantile_method = "linear"         # Hyndman & Fan type 7' in text
    assert '\ncannot_judge = true                # likert items offer "I can\'t judge this"' in text
    assert "\n[study.title]\nen = " in text
    assert '\ntext.en = "Cabinet confirmations in Washington."\ntext.es = ' in text
    assert "\n[consensus.by_kind.probability]\ncombine" in text
    assert '\n# --- Drivers of cooperation ---\n\n[[items]]\nkey = "trust_now"' in text
    assert text.count("[[items]]") == len(parse_definition(demo_source()).items)


def test_consensus_items_is_written_only_when_items_do_not_stay() -> None:
    """A study whose items at consensus stay (the default) is written without the
    setting, byte for byte as before it was part of the definition (a protocol stamp
    hashes that text); "leave" and "ask" are written after the other settings, with
    a comment, and read back."""
    demo = parse_definition(demo_source())
    assert demo.consensus_items == "stay"
    text = definition_to_toml(demo)
    assert "consensus_items" not in text
    assert definition_to_toml(replace(demo, consensus_items="stay")) == text
    for policy, comment in (
        ("leave", "items at consensus leave the next round"),
        ("ask", "at each close, choose which items at consensus leave"),
    ):
        changed = definition_to_toml(replace(demo, consensus_items=policy))
        line = f'consensus_items = "{policy}"'
        assert f"\n{line:<34} # {comment}\n\n[study.title]\n" in changed
        assert changed.replace(f"{line:<34} # {comment}\n", "") == text
        assert parse_definition(changed) == replace(demo, consensus_items=policy)


def test_paragraphs_are_written_as_paragraphs() -> None:
    """A text with line breaks is a multi-line string whose lines read as written."""
    demo = parse_definition(demo_source())
    introduction = 'First "paragraph".\n\n\tSecond, indented, ends with a quote: "'
    definition = replace(
        demo, introduction=LocalizedText((("en", introduction), ("es", "Uno\ndos \\ tres")))
    )
    text = definition_to_toml(definition)
    assert 'en = """\nFirst "paragraph".\n\n\tSecond, indented, ends with a quote: \\""""' in text
    assert 'es = """\nUno\ndos \\\\ tres"""' in text
    assert round_trip(definition) == definition


def test_item_rules_are_written_inline_and_read_back() -> None:
    """A per-item rule with every parameter, fractions and large numbers included."""
    demo = parse_definition(demo_source())
    rule = ConsensusRule(
        (
            Criterion("share", {"low": 0.5, "high": 1e15, "min": 1 / 3}),
            Criterion("split", {"min_share": 0.25}),
            Criterion("rwg", {"min": -2.5e-300}),
        ),
        "any",
    )
    item = replace(demo.items[0], consensus=rule)
    definition = replace(demo, items=(item, *demo.items[1:]))
    text = definition_to_toml(definition)
    assert (
        'consensus = { combine = "any", criteria = [{ kind = "share", low = 0.5, '
        'high = 1000000000000000, min = 0.3333333333333333 }, { kind = "split", '
        'min_share = 0.25 }, { kind = "rwg", min = -2.5e-300 }] }'
    ) in text
    assert round_trip(definition) == definition


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (1, "1"),
        (1.0, "1"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1e-07, "1e-07"),
        (2.5e-300, "2.5e-300"),
        (1e15, "1000000000000000"),
        (123456.789, "123456.789"),
    ],
)
def test_numbers_are_written_as_toml_reads_them(value: float, written: str) -> None:
    """Whole numbers without a fraction; every other as the shortest exact decimal."""
    assert toml_number(value) == written
    assert tomllib.loads(f"x = {written}")["x"] == value


@pytest.mark.parametrize(
    "text",
    ['a "quoted" \\ text', "$HOME and `code`", "tab\there", "é中🙂", '"""', "\x7f\x85\u2028"],
)
def test_strings_read_back_as_written(text: str) -> None:
    """Both string forms read back as the same text, whatever it holds."""
    assert tomllib.loads(f"x = {toml_string(text)}")["x"] == text
    assert tomllib.loads(f"x = {toml_text(text + chr(10) + text)}")["x"] == text + "\n" + text
