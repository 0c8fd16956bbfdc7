"""Store definition objects as JSON in the database and read them back, losslessly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis import ConsensusRule, Criterion
from surveys.definition import (
    ESTIMATE_COMPONENTS,
    Choice,
    ConsensusSettings,
    ItemDefinition,
    LikertScale,
    LocalizedText,
    Section,
)


def text_to_json(text: LocalizedText | None) -> dict[str, str]:
    """``LocalizedText`` → ``{language: text}`` (empty when absent)."""
    return text.as_dict() if text is not None else {}


def text_from_json(data: dict[str, str] | None) -> LocalizedText | None:
    """``{language: text}`` → ``LocalizedText`` (``None`` when empty)."""
    return LocalizedText(tuple(data.items())) if data else None


def rule_to_json(rule: ConsensusRule) -> dict[str, Any]:
    """A consensus rule as ``{"combine": …, "criteria": [{"kind": …, **params}]}``."""
    return {
        "combine": rule.combine,
        "criteria": [{"kind": c.kind, **dict(c.params)} for c in rule.criteria],
    }


def rule_from_json(data: dict[str, Any]) -> ConsensusRule:
    """Inverse of :func:`rule_to_json`."""
    criteria = tuple(
        Criterion(c["kind"], {k: v for k, v in c.items() if k != "kind"}) for c in data["criteria"]
    )
    return ConsensusRule(criteria, data["combine"])


def part_rules_to_json(
    part_rules: Mapping[tuple[str, str], ConsensusRule | None],
) -> dict[str, dict[str, Any]]:
    """Rules of single parts, by (item, part), as ``{item: {part: rule or None}}``."""
    data: dict[str, dict[str, Any]] = {}
    for (item, part), rule in part_rules.items():
        data.setdefault(item, {})[part] = rule_to_json(rule) if rule is not None else None
    return data


def consensus_to_json(settings: ConsensusSettings) -> dict[str, Any]:
    """The study's consensus settings as JSON."""
    return {
        "default": rule_to_json(settings.default),
        "by_kind": {kind: rule_to_json(rule) for kind, rule in settings.by_kind},
    }


def consensus_from_json(data: dict[str, Any]) -> ConsensusSettings:
    """Inverse of :func:`consensus_to_json`."""
    return ConsensusSettings(
        rule_from_json(data["default"]),
        tuple((kind, rule_from_json(rule)) for kind, rule in data["by_kind"].items()),
    )


def sections_to_json(sections: tuple[Section, ...]) -> dict[str, Any]:
    """Sections as ``{"sections": [{"key": …, "title": {…}}]}``."""
    return {
        "sections": [
            {"key": section.key, "title": text_to_json(section.title)} for section in sections
        ]
    }


def sections_from_json(data: dict[str, Any]) -> tuple[Section, ...]:
    """Inverse of :func:`sections_to_json`."""
    return tuple(
        Section(section["key"], LocalizedText(tuple(section["title"].items())))
        for section in data["sections"]
    )


def item_to_json(item: ItemDefinition) -> dict[str, Any]:
    """Everything about an item except its key and kind, which have their own columns."""
    data: dict[str, Any] = {
        "text": text_to_json(item.text),
        "help": text_to_json(item.help),
        "section": item.section,
        "rationale": item.rationale,
        "consensus": rule_to_json(item.consensus) if item.consensus else None,
    }
    if item.part_rules:
        # Only when there are part rules: the specs of every other item stay as stored.
        data["parts"] = {
            part: rule_to_json(rule) if rule is not None else None for part, rule in item.part_rules
        }
    if item.scale is not None:
        data["scale"] = {
            "min": item.scale.minimum,
            "max": item.scale.maximum,
            "labels": {language: list(labels) for language, labels in item.scale.labels},
        }
    if item.scenario_item is not None:
        # A signpost or a cross-impact item keeps its scenario set's key and a copy of
        # its scenarios, so that its spec alone gives the parts of its answer.
        data["scenario_item"] = item.scenario_item
    if item.scenarios:
        data["scenarios"] = _choices_to_json(item.scenarios)
    if item.options:
        data["options"] = _choices_to_json(item.options)
    if item.unit is not None:
        data["unit"] = text_to_json(item.unit)
    if item.estimate_bounds is not None:
        data["estimate_bounds"] = list(item.estimate_bounds)
    if item.estimate_level is not None:
        # Only when set: the specs of every other item stay as stored.
        data["estimate_level"] = item.estimate_level
    if item.max_length is not None:
        data["max_length"] = item.max_length
    if item.seed_answer is not None:
        # Facilitators' pages and exports only: expert pages never print a spec.
        data["seed_answer"] = item.seed_answer
    if item.seed_background is not None:
        data["background"] = item.seed_background
    if item.triggers:
        # A cross-impact item keeps a copy of its triggers' texts (and of its scenario
        # set's scenarios, above), so that its spec alone gives its parts and labels.
        data["triggers"] = _choices_to_json(item.triggers)
    return data


def item_from_json(key: str, kind: str, data: dict[str, Any]) -> ItemDefinition:
    """Inverse of :func:`item_to_json`."""
    scale = None
    if "scale" in data:
        scale = LikertScale(
            data["scale"]["min"],
            data["scale"]["max"],
            tuple(
                (language, tuple(labels)) for language, labels in data["scale"]["labels"].items()
            ),
        )
    text = text_from_json(data["text"])
    assert text is not None
    scenarios = _choices_from_json(data.get("scenarios", []))
    options = _choices_from_json(data.get("options", []))
    return ItemDefinition(
        key=key,
        kind=kind,
        text=text,
        section=data.get("section"),
        help=text_from_json(data.get("help")),
        scale=scale,
        scenarios=scenarios,
        options=options,
        unit=text_from_json(data.get("unit")),
        estimate_bounds=tuple(data["estimate_bounds"]) if data.get("estimate_bounds") else None,
        estimate_level=data.get("estimate_level"),
        max_length=data.get("max_length"),
        consensus=rule_from_json(data["consensus"]) if data.get("consensus") else None,
        rationale=data.get("rationale", True),
        part_rules=_part_rules_from_json(kind, data.get("parts"), (*scenarios, *options)),
        seed_answer=data.get("seed_answer"),
        seed_background=data.get("background"),
        scenario_item=data.get("scenario_item"),
        triggers=_choices_from_json(data.get("triggers", [])),
    )


def _part_rules_from_json(
    kind: str, data: dict[str, Any] | None, choices: tuple[Choice, ...]
) -> tuple[tuple[str, ConsensusRule | None], ...]:
    """The ``"parts"`` of an item's spec (absent from specs stored before part rules),
    in the order of the item's parts, as the loader orders them."""
    if not data:
        return ()
    order = ESTIMATE_COMPONENTS if kind == "numeric_estimate" else [c.key for c in choices]
    return tuple(
        (part, rule_from_json(data[part]) if data[part] is not None else None)
        for part in order
        if part in data
    )


def _choices_to_json(choices: tuple[Choice, ...]) -> list[dict[str, Any]]:
    """Scenarios or ranking options as ``[{"key": …, "text": {…}}]``."""
    return [{"key": choice.key, "text": text_to_json(choice.text)} for choice in choices]


def _choices_from_json(data: list[dict[str, Any]]) -> tuple[Choice, ...]:
    """Inverse of :func:`_choices_to_json`."""
    return tuple(
        Choice(choice["key"], LocalizedText(tuple(choice["text"].items()))) for choice in data
    )


# -- TOML, for people to edit (``tomllib`` reads TOML but cannot write it) ---------------
# These writers give every definition one canonical text: the same definition always
# becomes the same bytes (the protocol stamp hashes them), and the loader reads it back
# as the identical definition (``tests/surveys/test_definition_writer.py``).


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string, every special character escaped."""
    return '"' + _escaped(text, paragraphs=False) + '"'


def toml_text(text: str) -> str:
    """``text`` as TOML: a basic string, or a multi-line basic string when it holds a
    line break, so that paragraphs read as paragraphs in the file.

    The multi-line form opens with three quotes and a line break (which TOML drops) and
    closes right after the last character, so that nothing is added to the text.
    """
    if "\n" not in text:
        return toml_string(text)
    return '"""\n' + _escaped(text, paragraphs=True) + '"""'


def _escaped(text: str, *, paragraphs: bool) -> str:
    """The body of a TOML basic string holding ``text``, or of a multi-line one when
    ``paragraphs``: there line feeds and tabs stay as they are, and a quote is escaped
    only where another quote or the closing delimiter follows it (never two raw quotes
    in a row); a backslash and every other control character are always escaped."""
    escaped = []
    for index, character in enumerate(text):
        if character == "\\":
            escaped.append("\\\\")
        elif character == '"':
            follows = text[index + 1 : index + 2]
            raw = paragraphs and follows not in ('"', "")
            escaped.append(character if raw else '\\"')
        elif paragraphs and character in "\n\t":
            escaped.append(character)
        elif character in "\n\t":
            escaped.append("\\n" if character == "\n" else "\\t")
        elif _escaped_in_toml(character):
            escaped.append(f"\\u{ord(character):04X}")
        else:
            escaped.append(character)
    return "".join(escaped)


def _escaped_in_toml(character: str) -> bool:
    """Whether TOML forbids ``character`` raw in a string (controls but tab), or a
    reader would not see it (C1 controls, the Unicode line and paragraph separators)."""
    code = ord(character)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029)


def toml_number(value: float) -> str:
    """A number as TOML: whole numbers without a fraction, others as Python writes them
    (``repr`` gives the shortest text that reads back as the same double, and its
    forms, ``0.1``, ``1e-07``, ``1.5e+20``, are all TOML floats)."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 2**53):
        return str(int(value))
    return repr(float(value))


def rule_to_toml(rule: ConsensusRule) -> str:
    """A rule as one inline table: ``{ combine = "all", criteria = [{ kind = "iqr", … }] }``."""
    return "{ " + ", ".join(_toml_rule(rule)) + " }"


def _toml_rule(rule: ConsensusRule) -> list[str]:
    """A rule's ``combine`` and ``criteria`` lines."""
    criteria = ", ".join(
        "{ "
        + ", ".join(
            [f"kind = {toml_string(c.kind)}"]
            + [f"{name} = {toml_number(value)}" for name, value in c.params.items()]
        )
        + " }"
        for c in rule.criteria
    )
    return [f"combine = {toml_string(rule.combine)}", f"criteria = [{criteria}]"]


def consensus_to_toml(settings: ConsensusSettings) -> str:
    """The ``[consensus]`` table of a definition file, as :func:`parse_consensus` reads it."""
    lines = ["[consensus]", *_toml_rule(settings.default)]
    for kind, rule in settings.by_kind:
        lines += ["", f"[consensus.by_kind.{kind}]", *_toml_rule(rule)]
    return "\n".join(lines) + "\n"


def texts_to_toml(name: str, text: LocalizedText | None) -> list[str]:
    """``name.<language> = "…"`` lines, one per language, side by side."""
    if text is None:
        return []
    prefix = f"{name}." if name else ""
    return [f"{prefix}{language} = {toml_text(value)}" for language, value in text.values]


def item_to_toml(item: ItemDefinition) -> str:
    """One ``[[items]]`` table as in a definition file, as :func:`parse_item` reads it.

    Writes the shapes the definition format uses for items: dotted per-language texts,
    inline tables for the scale, bounds and consensus rule, and ``[[items.scenarios]]``
    or ``[[items.options]]`` sub-tables last (TOML puts them after the item's own keys).
    Fields at their default (``rationale = true``) are left out.
    """
    lines = ["[[items]]", f"key = {toml_string(item.key)}", f"kind = {toml_string(item.kind)}"]
    if item.section is not None:
        lines.append(f"section = {toml_string(item.section)}")
    lines += texts_to_toml("text", item.text)
    lines += texts_to_toml("help", item.help)
    if item.scenario_item is not None:
        lines.append(f"scenario_item = {toml_string(item.scenario_item)}")
    if item.scale is not None:
        lines.append(f"scale = {{ min = {item.scale.minimum}, max = {item.scale.maximum} }}")
        for language, labels in item.scale.labels:
            listed = ", ".join(toml_string(label) for label in labels)
            lines.append(f"labels.{language} = [{listed}]")
    lines += texts_to_toml("unit", item.unit)
    if item.estimate_bounds is not None:
        low, high = item.estimate_bounds
        lines.append(f"bounds = {{ min = {toml_number(low)}, max = {toml_number(high)} }}")
    if item.estimate_level is not None:
        lines.append(f"level = {toml_number(item.estimate_level)}")
    if item.max_length is not None:
        lines.append(f"max_length = {item.max_length}")
    if item.seed_answer is not None:
        lines.append(f"answer = {toml_number(item.seed_answer)}")
    if item.seed_background is not None:
        lines.append(f"background = {toml_string(item.seed_background)}")
    if item.triggers:
        listed = ", ".join(toml_string(trigger.key) for trigger in item.triggers)
        lines.append(f"triggers = [{listed}]")
    if not item.rationale:
        lines.append("rationale = false")
    lines += _item_consensus_toml(item)
    # A signpost's or a cross-impact item's scenarios are its scenario set's, named by
    # scenario_item, not its own.
    scenarios = item.scenarios if item.scenario_item is None else ()
    for field, choices in (("scenarios", scenarios), ("options", item.options)):
        for choice in choices:
            lines += ["", f"[[items.{field}]]", f"key = {toml_string(choice.key)}"]
            lines += texts_to_toml("text", choice.text)
    return "\n".join(lines) + "\n"


def _item_consensus_toml(item: ItemDefinition) -> list[str]:
    """An item's rules: ``consensus = { … }`` inline, or, when parts have rules of their
    own, one dotted line per rule (an inline table cannot be extended by other lines)::

        consensus.combine = "all"
        consensus.criteria = [{ kind = "iqr", max = 10 }]
        consensus.parts.best = { combine = "all", criteria = [{ kind = "cv", max = 0.5 }] }
        consensus.parts.confidence = "none"
    """
    if not item.part_rules:
        return [f"consensus = {rule_to_toml(item.consensus)}"] if item.consensus else []
    lines = [f"consensus.{line}" for line in _toml_rule(item.consensus)] if item.consensus else []
    for part, rule in item.part_rules:
        written = rule_to_toml(rule) if rule is not None else toml_string("none")
        lines.append(f"consensus.parts.{_toml_key(part)} = {written}")
    return lines


def _toml_key(key: str) -> str:
    """A key as TOML writes it: bare when it is a plain word (item, scenario and option
    keys always are), else quoted."""
    plain = key and all(
        character.isascii() and (character.isalnum() or character in "_-") for character in key
    )
    return key if plain else toml_string(key)
