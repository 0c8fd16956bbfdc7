"""Study definition files: TOML read by ``tomllib``, validated into frozen dataclasses.

A definition file is data a facilitator writes and edits by hand.  Validation collects
every problem at once, each naming the file, the line and the field, so that one run of
``elicit study validate`` is enough to fix a file.  The format is documented in the
README ("Study definition files"); ``surveys/definitions/`` holds a complete example.
"""

from __future__ import annotations

import datetime
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path as FilePath
from typing import Any

from analysis import (
    CRITERIA,
    DEFAULT_ESTIMATE_LEVEL,
    QUANTILE_METHODS,
    ConsensusRule,
    Criterion,
)
from surveys.toml_lines import LineIndex, Path

KINDS: tuple[str, ...] = (
    "likert",
    "probability",
    "scenario_set",
    "numeric_estimate",
    "ranking",
    "open_text",
    "seed",
    "signpost",
    "cross_impact",
)
"""Item kinds a definition may use."""

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
#: Slugs that name pages of the console (``/console/studies/new``), not studies.
RESERVED_SLUGS = frozenset({"new"})
RESERVED_KEYS: frozenset[str] = frozenset({"action", "csrf_token", "rationale", "lang"})
"""Item keys that would collide with the answer form's own fields."""
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2}$")
DEFAULT_OPEN_TEXT_LENGTH = 2000
SCENARIO_TOTAL = 100
KINDS_WITHOUT_DEFAULT_RULE: tuple[str, ...] = ("numeric_estimate", "ranking")
SEED_COMPONENTS: tuple[str, ...] = ("q05", "q50", "q95")
"""The three answers of a seed item: the 5th, 50th and 95th percentiles, in order."""
SEED_BACKGROUNDS: tuple[str, ...] = ("uniform", "log-uniform")
"""The background measures of Cooke's classical model a seed item may name."""
ESTIMATE_COMPONENTS: tuple[str, ...] = ("lowest", "highest", "best", "confidence")
"""The four answers of a numeric estimate (IDEA protocol), in the order they are asked."""
CONFIDENCE_RANGE = (50, 100)
"""Confidence, in %, that the truth lies between the lowest and highest estimate."""
RATIONALE_POLICIES: tuple[str, ...] = ("off", "optional", "required")
DEFAULT_FEEDBACK_MIN_N = 3
CONSENSUS_ITEMS: tuple[str, ...] = ("leave", "stay", "ask")
"""What becomes at a close of the items that reached consensus (``study.consensus_items``):
they leave the next round (retired automatically), stay in it, or the facilitator
chooses at each close."""
#: Items at consensus stay: no item leaves a study by itself unless its file says so.
DEFAULT_CONSENSUS_ITEMS = "stay"
CARRY_OVER: tuple[str, ...] = ("previous", "blank")
"""How a round after the first starts: from each expert's own previous answers (which
they keep or revise) or blank (every answer entered anew)."""
DEFAULT_CARRY_OVER = "previous"


# -- limits ----------------------------------------------------------------------------------
# Every limit a definition is held to, in one place with its reason.  A study is read by
# people on every page it reaches (an expert on a phone, a facilitator in the console, a
# researcher in the report), so each limit keeps one of those pages usable; the README
# lists them ("Study definition files") and a test checks that it does.

#: Characters in a whole definition: the console shows a refused file line by line and
#: the API reads it in one request body (whose own limit is the same).
SIZE_LIMIT = 1_000_000
#: Brackets and braces open at once inside one value.  The deepest value a study needs
#: is a per-item consensus rule (3 levels); ``tomllib`` recurses once per level, so a
#: value 100,000 deep would exhaust Python's stack.
NESTING_LIMIT = 10
#: Digits of one integer as written: Python refuses to read more than 4,300, and no
#: number of a study needs more than 16 (see :data:`NUMBER_LIMIT`).
DIGIT_LIMIT = 100
#: The largest magnitude of any number (bounds, consensus thresholds, scale ends):
#: answers are stored as double-precision floats, exact for whole numbers to 2^53 ≈ 9·10^15.
NUMBER_LIMIT = 10**15
#: Languages of a study: every text is written once per language, and the language
#: switch of the expert page lists them all.
LANGUAGE_LIMIT = 10
#: Sections: each is a heading of the expert page and of the report.
SECTION_LIMIT = 50
#: Items of a study, added ones included: an expert answers every item of a round on
#: one page, and the report draws each of them.
ITEM_LIMIT = 200
#: Scenarios of one scenario set: an expert splits 100 % among them by hand.
SCENARIO_LIMIT = 12
#: Options of one ranking: an expert puts every option in order by hand.
RANKING_OPTION_LIMIT = 15
#: Points of a likert scale (the options shown side by side on a phone).
LIKERT_OPTION_LIMIT = 11
#: Triggers of one cross-impact item: an expert splits 100 % among the scenarios once
#: per trigger, all on one page.
TRIGGER_LIMIT = 10


@dataclass(frozen=True)
class TextRule:
    """How long a kind of text may be, and whether it may hold several paragraphs."""

    #: Characters after surrounding white space is removed.
    max_length: int
    #: Texts of several paragraphs keep line feeds and tabs; every other text is one
    #: line, because it becomes a heading, a label, a table cell, a plot title or the
    #: subject of an email, where a line break breaks the layout or the message.
    paragraphs: bool = False


TEXT_RULES: dict[str, TextRule] = {
    #: In the subject of every invitation and at the top of every page.
    "study_title": TextRule(200),
    "introduction": TextRule(10_000, paragraphs=True),
    "section_title": TextRule(200),
    #: A question: the legend of its fieldset, a report heading, a plot title.
    "item_text": TextRule(1_000),
    "help": TextRule(4_000, paragraphs=True),
    #: A scenario of a scenario set or an option of a ranking: one row of a table.
    "choice_text": TextRule(500),
    #: A label of a likert point: shown under each point on a phone.
    "label": TextRule(100),
    #: The unit of a numeric estimate, written after each number.
    "unit": TextRule(50),
}
"""The rule for each kind of text of a definition."""


@dataclass(frozen=True)
class LocalizedText:
    """A text given once per language, as ``(language, text)`` pairs."""

    values: tuple[tuple[str, str], ...]

    def get(self, language: str, fallback: str | None = None) -> str:
        """Return the text in ``language``, else in ``fallback``, else the first one."""
        texts = dict(self.values)
        if language in texts:
            return texts[language]
        if fallback in texts:
            return texts[fallback]
        return self.values[0][1] if self.values else ""

    def as_dict(self) -> dict[str, str]:
        """Return ``{language: text}``."""
        return dict(self.values)


@dataclass(frozen=True)
class LikertScale:
    """Integer options ``minimum..maximum``, each with a label in every language."""

    minimum: int
    maximum: int
    labels: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def options(self) -> int:
        """Number of options A on the scale."""
        return self.maximum - self.minimum + 1

    def labels_in(self, language: str, fallback: str | None = None) -> tuple[str, ...]:
        """Return the option labels in ``language`` (else ``fallback``, else the first)."""
        labels = dict(self.labels)
        if language in labels:
            return labels[language]
        if fallback in labels:
            return labels[fallback]
        return self.labels[0][1]


@dataclass(frozen=True)
class Choice:
    """A keyed text: a scenario of a scenario set, or an object of a ranking."""

    key: str
    text: LocalizedText


Scenario = Choice


@dataclass(frozen=True)
class Section:
    """A group of items shown together."""

    key: str
    title: LocalizedText


def cross_impact_component(trigger: str, scenario: str) -> str:
    """The part of a cross-impact answer holding P(scenario | trigger), in percent:
    ``"trigger:scenario"`` (the convention of :mod:`analysis.scenario_sets`)."""
    return f"{trigger}:{scenario}"


@dataclass(frozen=True)
class ItemDefinition:
    """One question.  Which optional fields are set depends on ``kind``.

    - ``likert``: ``scale``;
    - ``probability``: a percentage 0–100;
    - ``scenario_set``: ``scenarios`` (at least two) whose percentages sum to 100;
    - ``numeric_estimate``: lowest, highest, best guess and confidence (IDEA protocol),
      optionally within ``estimate_bounds``, with a ``unit`` and with the
      ``estimate_level`` its intervals are standardised to;
    - ``ranking``: ``options`` (at least two) to put in order, 1 = first;
    - ``open_text``: ``max_length`` characters;
    - ``seed``: a calibration question of Cooke's classical model, answered with the
      5th, 50th and 95th percentiles (optionally with a ``unit``); ``seed_answer`` is
      its known realization, which only the facilitator sees, and ``seed_background``
      the background measure of its information score (``None``: uniform);
    - ``signpost``: ``scenario_item``, the key of a scenario set of the same study; a
      percentage 0–100 per scenario of that set (how likely the signpost is to be
      observed within the horizon if that scenario is unfolding), not summing to
      anything.  Its ``scenarios`` are the scenario set's, copied by the loader;
    - ``cross_impact``: for each of ``triggers`` (probability items), a scenario set
      over the scenarios of the ``scenario_item`` that sums to 100: P(scenario | the
      trigger happens).  Its parts are ``"trigger:scenario"``.
    """

    key: str
    kind: str
    text: LocalizedText
    section: str | None = None
    help: LocalizedText | None = None
    scale: LikertScale | None = None
    scenarios: tuple[Scenario, ...] = ()
    max_length: int | None = None
    consensus: ConsensusRule | None = None
    rationale: bool = True
    options: tuple[Choice, ...] = ()
    unit: LocalizedText | None = None
    estimate_bounds: tuple[float, float] | None = None
    #: The common confidence level (percent) every expert's interval of a numeric
    #: estimate is rescaled to before the panel's intervals are averaged (IDEA
    #: protocol); ``None`` when the definition sets none: :attr:`confidence_level`.
    estimate_level: float | None = None
    #: Rules for single parts of a multi-part answer (a scenario, a ranking option, a
    #: numeric estimate's ``best`` or ``confidence`` …): ``(part, rule)`` pairs in the
    #: order of :attr:`components`, ``None`` for a part given no rule ("none").  A part
    #: not listed is decided by the item's rule (its own, its kind's or the default).
    part_rules: tuple[tuple[str, ConsensusRule | None], ...] = ()
    #: A seed item's known answer (its realization): never shown to an expert.
    seed_answer: float | None = None
    #: A seed item's background measure as written ("uniform" or "log-uniform");
    #: ``None`` when the definition names none (:attr:`background`).
    seed_background: str | None = None
    #: A signpost's or a cross-impact item's scenario set: the key of the
    #: ``scenario_set`` item whose scenarios it is answered over, copied into
    #: :attr:`scenarios` when the study is read (``None`` for every other kind).
    scenario_item: str | None = None

    @property
    def background(self) -> str:
        """The background measure of the classical model for this item: a seed item's
        own, else uniform (numeric estimates are targets on a uniform background)."""
        return self.seed_background or "uniform"

    #: A cross-impact item's triggers: the keys of probability items of the same study,
    #: each with that item's text, copied when the study is read.
    triggers: tuple[Choice, ...] = ()

    @property
    def components(self) -> tuple[str, ...]:
        """The parts of one answer: ``("",)`` for a single number, else their keys."""
        if self.kind == "cross_impact":
            return tuple(
                cross_impact_component(trigger.key, scenario.key)
                for trigger in self.triggers
                for scenario in self.scenarios
            )
        if self.kind in ("scenario_set", "signpost"):
            return tuple(scenario.key for scenario in self.scenarios)
        if self.kind == "ranking":
            return tuple(option.key for option in self.options)
        if self.kind == "numeric_estimate":
            return ESTIMATE_COMPONENTS
        if self.kind == "seed":
            return SEED_COMPONENTS
        return ("",)

    @property
    def confidence_level(self) -> float:
        """The level (percent) a numeric estimate's intervals are standardised to: its
        own ``estimate_level``, else the IDEA protocol's usual 80 %."""
        return self.estimate_level if self.estimate_level is not None else DEFAULT_ESTIMATE_LEVEL

    @property
    def numeric(self) -> bool:
        """Whether answers are numbers that the analysis summarises."""
        return self.kind != "open_text"

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The smallest and largest value of one number of this item, if numeric."""
        if self.kind == "likert" and self.scale is not None:
            return (self.scale.minimum, self.scale.maximum)
        if self.kind in ("probability", "scenario_set", "signpost", "cross_impact"):
            return (0.0, 100.0)
        if self.kind == "ranking":
            return (1.0, float(len(self.options)))
        return self.estimate_bounds


@dataclass(frozen=True)
class ConsensusSettings:
    """The study's consensus rule, with overrides per item kind."""

    default: ConsensusRule
    by_kind: tuple[tuple[str, ConsensusRule], ...] = ()

    def rule_for(self, item: ItemDefinition) -> ConsensusRule | None:
        """Return the rule deciding ``item``: its own, its kind's, or the default."""
        if not item.numeric or item.kind == "seed":
            return None
        if item.consensus is not None:
            return item.consensus
        if item.kind in KINDS_WITHOUT_DEFAULT_RULE:
            # An IQR in rank places or in an estimate's own units means nothing in
            # general; these kinds reach consensus only by a rule written for them.
            return dict(self.by_kind).get(item.kind)
        return dict(self.by_kind).get(item.kind, self.default)

    def rule_for_part(self, item: ItemDefinition, component: str) -> ConsensusRule | None:
        """Return the rule deciding one part of ``item``'s answer: the part's own rule
        (``None`` when it was given none), else :meth:`rule_for` the item."""
        parts = dict(item.part_rules)
        if component in parts:
            return parts[component]
        return self.rule_for(item)

    def source_of(self, item: ItemDefinition, component: str | None = None) -> str:
        """Where the rule deciding ``item`` (or one part of it) is written: ``"part"``
        (``consensus.parts``), ``"item"``, ``"kind"`` (``[consensus.by_kind.KIND]``),
        ``"default"`` (``[consensus]``), or ``"none"`` when no rule decides it."""
        if component is not None and component in dict(item.part_rules):
            return "part" if dict(item.part_rules)[component] is not None else "none"
        if self.rule_for(item) is None:
            return "none"
        if item.consensus is not None:
            return "item"
        return "kind" if item.kind in dict(self.by_kind) else "default"


@dataclass(frozen=True)
class StudyDefinition:
    """A whole study as written in its definition file."""

    slug: str
    title: LocalizedText
    languages: tuple[str, ...]
    max_rounds: int
    quantile_method: str
    consensus: ConsensusSettings
    items: tuple[ItemDefinition, ...]
    sections: tuple[Section, ...] = ()
    introduction: LocalizedText | None = None
    #: Fewer answers than this to an item in a round and its feedback is withheld.
    feedback_min_n: int = DEFAULT_FEEDBACK_MIN_N
    #: Whether a rationale is asked for ("optional") or demanded ("required") when an
    #: answer lies outside the previous round's interquartile range; "off" never asks.
    rationale_outside_iqr: str = "optional"
    #: Whether likert items offer "I can't judge this".
    cannot_judge: bool = False
    #: What becomes at a close of the items that reached consensus, one of
    #: :data:`CONSENSUS_ITEMS`; part of the protocol the stamp fixes.
    consensus_items: str = DEFAULT_CONSENSUS_ITEMS
    #: How a round after the first starts, one of :data:`CARRY_OVER`: "previous" shows
    #: each expert their own answer from the round before in every item they have not
    #: answered yet in this round; "blank" shows nothing.  Part of the protocol: with
    #: "previous", an answer kept as it was shown counts as unchanged in the stability
    #: statistics, which therefore depend on it.
    carry_over: str = DEFAULT_CARRY_OVER

    @property
    def default_language(self) -> str:
        """The first listed language, used when a text is missing in another."""
        return self.languages[0]


@dataclass(frozen=True)
class DefinitionError:
    """One problem in a definition file."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


class InvalidDefinition(ValueError):
    """A definition file has one or more problems, all listed in ``errors``."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


def load_definition_file(path: str | FilePath) -> StudyDefinition:
    """Read and validate the definition file at ``path``."""
    path = FilePath(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidDefinition([DefinitionError(str(path), 1, "file", str(error))]) from None
    return parse_definition(source, name=str(path))


def parse_definition(source: str, *, name: str = "<study>") -> StudyDefinition:
    """Validate TOML ``source``; raise :class:`InvalidDefinition` listing every problem."""
    data, lines = _load_toml(source, name)
    reader = _Reader(name, lines)
    definition = reader.study(data)
    if reader.errors:
        raise InvalidDefinition(sorted(reader.errors, key=lambda error: error.line))
    assert definition is not None
    return definition


def _load_toml(source: str, name: str) -> tuple[dict[str, Any], LineIndex]:
    """Parse TOML ``source`` and index its lines; raise :class:`InvalidDefinition` on a
    syntax error or on a file ``tomllib`` must not be given (see :func:`_unreadable`)."""
    if len(source) > SIZE_LIMIT:
        raise InvalidDefinition(
            [
                DefinitionError(
                    name,
                    1,
                    "definition",
                    f"has {len(source):,} characters; a definition holds at most {SIZE_LIMIT:,}",
                )
            ]
        )
    lines = LineIndex(source)
    if problem := _unreadable(source, lines, name):
        raise InvalidDefinition([problem])
    try:
        return tomllib.loads(source), lines
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", None) or _line_from_message(str(error))
        message = getattr(error, "msg", None) or re.sub(r"\s*\(at .*\)$", "", str(error))
        raise InvalidDefinition(
            [DefinitionError(name, line, "syntax", f"not valid TOML: {message}")]
        ) from None
    except (RecursionError, ValueError, OverflowError) as error:
        # The checks above keep tomllib from these; should another shape reach them,
        # the file is still refused as a problem, never as a crash.
        raise InvalidDefinition(
            [DefinitionError(name, 1, "syntax", f"cannot be read: {_shown(str(error))}")]
        ) from None


def _unreadable(source: str, lines: LineIndex, name: str) -> DefinitionError | None:
    """The first thing in ``source`` that ``tomllib`` or the database cannot take, as a
    problem on its line: a surrogate code point (no UTF-8 for it, so it cannot be
    stored; a JSON body can carry one), values nested deeper than :data:`NESTING_LIMIT`
    (``tomllib`` recurses per level), or a number longer than :data:`DIGIT_LIMIT`."""

    def problem(line: int, message: str) -> DefinitionError:
        path = lines.path_at(line)
        return DefinitionError(name, line, _render_path(path, {}) if path else "syntax", message)

    if surrogate := _SURROGATE.search(source):
        line = source.count("\n", 0, surrogate.start()) + 1
        code = ord(surrogate.group(0))
        return problem(line, f"holds U+{code:04X}, a surrogate code point, which is not text")
    if (deep := lines.first_line_deeper_than(NESTING_LIMIT)) is not None:
        return problem(
            deep, f"nests values more than {NESTING_LIMIT} levels deep; no study needs that"
        )
    if (long := lines.first_line_with_more_digits_than(DIGIT_LIMIT)) is not None:
        return problem(long, f"writes a number with more than {DIGIT_LIMIT} digits")
    return None


def _only(data: dict[str, Any], key: str, name: str, example: str) -> None:
    """Refuse a document holding anything but the table ``key``."""
    others = [other for other in data if other != key]
    if key not in data or others:
        raise InvalidDefinition(
            [DefinitionError(name, 1, others[0] if others else key, f"write only {example}")]
        )


def parse_item(
    source: str,
    *,
    languages: tuple[str, ...],
    section_keys: frozenset[str] | set[str] = frozenset(),
    taken_keys: frozenset[str] | set[str] = frozenset(),
    scenario_sets: Mapping[str, tuple[Scenario, ...]] | None = None,
    study_items: tuple[ItemDefinition, ...] | list[ItemDefinition] = (),
    name: str = "<item>",
) -> ItemDefinition:
    """Validate one ``[[items]]`` table written as TOML, as in a definition file.

    Texts must be given in each of the study's ``languages``; a ``section`` must be one
    of ``section_keys``; the key must not be one of ``taken_keys``, the keys of the
    study's items (so a study with :data:`ITEM_LIMIT` of them takes no more); a
    signpost's ``scenario_item`` must be one of ``scenario_sets``, the study's scenario
    sets with their scenarios.  A cross-impact item's ``scenario_item`` and ``triggers``
    are looked up among ``study_items``.  Raises :class:`InvalidDefinition` listing every
    problem with its line.
    """
    data, lines = _load_toml(source, name)
    _only(data, "items", name, "one [[items]] table")
    if not isinstance(data["items"], list) or len(data["items"]) != 1:
        raise InvalidDefinition(
            [DefinitionError(name, 1, "items", "write exactly one [[items]] table")]
        )
    reader = _Reader(name, lines)
    reader.languages = languages
    if len(taken_keys) >= ITEM_LIMIT:
        reader.error(
            ("items",),
            f"a study holds at most {ITEM_LIMIT} items; this one has {len(taken_keys)}",
        )
    item = reader.item(data["items"][0], ("items", 0), set(taken_keys), set(section_keys))
    if item is not None:
        item = reader.signpost_scenarios(
            item, ("items", 0), dict(scenario_sets or {}), set(taken_keys)
        )
    if item is not None and not reader.errors:
        linked = reader.linked([item], [("items", 0)], study_items)
        item = linked[0] if linked else None
    if reader.errors or item is None:
        raise InvalidDefinition(sorted(reader.errors, key=lambda error: error.line))
    return item


def parse_consensus(source: str, *, name: str = "<consensus>") -> ConsensusSettings:
    """Validate a ``[consensus]`` table (with its ``by_kind`` overrides) written as TOML.

    The same reader as for a whole definition file checks it.  Raises
    :class:`InvalidDefinition` listing every problem with its line.
    """
    data, lines = _load_toml(source, name)
    _only(data, "consensus", name, "the [consensus] table and its [consensus.by_kind.…] tables")
    reader = _Reader(name, lines)
    settings = reader.consensus_settings(data)
    if reader.errors or settings is None:
        raise InvalidDefinition(sorted(reader.errors, key=lambda error: error.line))
    return settings


def _line_from_message(message: str) -> int:
    """Pull the line number out of a ``tomllib`` message such as ``(at line 3, …)``."""
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 1


_MISSING = object()


class _Reader:
    """Walks the parsed TOML, building dataclasses and collecting errors with lines."""

    def __init__(self, name: str, lines: LineIndex) -> None:
        self.name = name
        self.lines = lines
        self.errors: list[DefinitionError] = []
        self.languages: tuple[str, ...] = ()
        self._labels: dict[Path, str] = {}

    # -- reporting -------------------------------------------------------------------

    def error(self, path: Path, message: str) -> None:
        """Record a problem at ``path``."""
        self.errors.append(
            DefinitionError(self.name, self.lines.line_of(path), self.field_name(path), message)
        )

    def field_name(self, path: Path) -> str:
        """Render ``path`` for people: array elements by their key when they have one."""
        return _render_path(path, self._labels)

    # -- typed access ----------------------------------------------------------------

    def table(self, data: Any, path: Path, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        """Check ``data`` is a table and report keys outside ``allowed``."""
        if not isinstance(data, dict):
            self.error(path, f"must be a table, not {_type_name(data)}")
            return None
        for key in data:
            if key not in allowed:
                self.error((*path, key), f"unknown field; expected one of: {', '.join(allowed)}")
        return data

    def get(
        self,
        data: dict[str, Any],
        key: str,
        path: Path,
        kind: type | tuple[type, ...],
        *,
        required: bool = True,
        default: Any = None,
    ) -> Any:
        """Return ``data[key]`` if it has type ``kind``; report missing or wrong types."""
        value = data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.error((*path, key), "required field is missing")
            return default
        if kind in (int, float) or kind == (int, float):
            ok = isinstance(value, kind) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            expected = kind.__name__ if isinstance(kind, type) else "number"
            self.error((*path, key), f"must be {_article(expected)}, not {_type_name(value)}")
            return default
        if isinstance(value, float) and not math.isfinite(value):
            self.error((*path, key), f"must be a finite number, not {value}")
            return default
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and abs(value) > NUMBER_LIMIT:
            self.error((*path, key), "must be between -10^15 and 10^15")
            return default
        return value

    def text(
        self, data: dict[str, Any], key: str, path: Path, rule: str, *, required: bool = True
    ) -> LocalizedText | None:
        """Read a text given per language, ``{ en = "…", es = "…" }``, held to the
        :data:`TEXT_RULES` entry ``rule``."""
        value = data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.error((*path, key), "required field is missing")
            return None
        text_path = (*path, key)
        if isinstance(value, str):
            self.error(
                text_path,
                "must give the text per language, e.g. "
                + ", ".join(f'{key}.{language} = "…"' for language in self.languages),
            )
            return None
        table = self.table(value, text_path, self.languages)
        if table is None:
            return None
        pairs = []
        for language in self.languages:
            text = table.get(language)
            if text is None:
                self.error(text_path, f"missing the {language!r} text")
            elif not isinstance(text, str):
                self.error((*text_path, language), f"must be a string, not {_type_name(text)}")
            elif not text.strip():
                self.error((*text_path, language), "must not be empty")
            elif self.checked(text.strip(), (*text_path, language), rule):
                pairs.append((language, text.strip()))
        return LocalizedText(tuple(pairs)) if len(pairs) == len(self.languages) else None

    def checked(self, text: str, path: Path, rule: str) -> bool:
        """Whether ``text`` keeps :data:`TEXT_RULES` ``[rule]``; report it if not."""
        problem = text_problem(text, TEXT_RULES[rule])
        if problem is not None:
            self.error(path, problem)
        return problem is None

    def key(self, data: dict[str, Any], path: Path, seen: set[str], what: str) -> str | None:
        """Read a stable ``key``: lower case, unique among its siblings."""
        key = self.get(data, "key", path, str)
        if key is None:
            return None
        if not KEY_PATTERN.match(key):
            self.error(
                (*path, "key"),
                f"{_shown(key)} is not a valid key: use lower-case letters, digits and _, "
                "starting with a letter",
            )
            return None
        if key in seen:
            self.error((*path, "key"), f"duplicate {what} key {_shown(key)}")
            return None
        if what == "item" and key in RESERVED_KEYS:
            self.error(
                (*path, "key"),
                f"{_shown(key)} is reserved for the answer form; choose another key",
            )
            return None
        seen.add(key)
        self._labels[path] = key
        return key

    # -- the document ----------------------------------------------------------------

    def study(self, data: dict[str, Any]) -> StudyDefinition | None:
        """Read the whole document."""
        root = self.table(data, (), ("study", "consensus", "sections", "items"))
        if root is None:
            return None
        study = self.get(root, "study", (), dict)
        if study is None:
            return None
        path: Path = ("study",)
        self.table(
            study,
            path,
            (
                "slug",
                "title",
                "introduction",
                "languages",
                "max_rounds",
                "quantile_method",
                "feedback_min_n",
                "rationale_outside_iqr",
                "cannot_judge",
                "consensus_items",
                "carry_over",
            ),
        )
        slug = self.get(study, "slug", path, str)
        if slug is not None and not SLUG_PATTERN.match(slug):
            self.error(
                (*path, "slug"),
                f"{_shown(slug)} is not a valid slug: 2–63 lower-case letters, digits and -",
            )
            slug = None
        elif slug in RESERVED_SLUGS:
            self.error(
                (*path, "slug"), f"{_shown(slug)} is reserved by the console; choose another"
            )
            slug = None
        listed = self.get(study, "languages", path, list)
        languages = self.language_list(listed, (*path, "languages")) if listed is not None else None
        # After a bad list, go on with its valid codes so that one typo there does not
        # turn every translation in the file into an "unknown field".
        usable = [
            code for code in listed or [] if isinstance(code, str) and LANGUAGE_PATTERN.match(code)
        ]
        self.languages = languages or tuple(dict.fromkeys(usable))[:LANGUAGE_LIMIT] or ("en",)
        title = self.text(study, "title", path, "study_title")
        introduction = self.text(study, "introduction", path, "introduction", required=False)
        max_rounds = self.get(study, "max_rounds", path, int)
        if max_rounds is not None and not 1 <= max_rounds <= 20:
            self.error((*path, "max_rounds"), f"must be between 1 and 20, not {max_rounds}")
            max_rounds = None
        quantile_method = self.get(
            study, "quantile_method", path, str, required=False, default="linear"
        )
        if quantile_method not in QUANTILE_METHODS:
            self.error(
                (*path, "quantile_method"),
                f"unknown quantile method {_shown(quantile_method)}; choose one of "
                + ", ".join(QUANTILE_METHODS),
            )
        feedback_min_n = self.get(
            study, "feedback_min_n", path, int, required=False, default=DEFAULT_FEEDBACK_MIN_N
        )
        if feedback_min_n is not None and not 1 <= feedback_min_n <= 1000:
            self.error((*path, "feedback_min_n"), "must be between 1 and 1000")
        policy = self.get(
            study, "rationale_outside_iqr", path, str, required=False, default="optional"
        )
        if policy not in RATIONALE_POLICIES:
            self.error(
                (*path, "rationale_outside_iqr"),
                f"must be one of {', '.join(RATIONALE_POLICIES)}, not {_shown(policy)}",
            )
        cannot_judge = self.get(study, "cannot_judge", path, bool, required=False, default=False)
        consensus_items = self.get(
            study, "consensus_items", path, str, required=False, default=DEFAULT_CONSENSUS_ITEMS
        )
        if consensus_items not in CONSENSUS_ITEMS:
            self.error(
                (*path, "consensus_items"),
                f"choose one of {', '.join(CONSENSUS_ITEMS)}, not {_shown(consensus_items)}",
            )
        carry_over = self.get(
            study, "carry_over", path, str, required=False, default=DEFAULT_CARRY_OVER
        )
        if carry_over not in CARRY_OVER:
            self.error(
                (*path, "carry_over"),
                f"choose one of {', '.join(CARRY_OVER)}, not {_shown(carry_over)}",
            )
        consensus = self.consensus_settings(root)
        sections, section_keys = self.sections(root)
        items = self.items(root, section_keys)
        if self.errors:
            return None
        assert slug and title and max_rounds and consensus
        return StudyDefinition(
            slug=slug,
            title=title,
            languages=self.languages,
            max_rounds=max_rounds,
            quantile_method=quantile_method,
            consensus=consensus,
            items=items,
            sections=sections,
            introduction=introduction,
            feedback_min_n=feedback_min_n,
            rationale_outside_iqr=policy,
            cannot_judge=cannot_judge,
            consensus_items=consensus_items,
            carry_over=carry_over,
        )

    def language_list(self, languages: list[Any], path: Path) -> tuple[str, ...] | None:
        """Check the study's language codes."""
        if not languages:
            self.error(path, 'list at least one language, e.g. ["en", "es"]')
            return None
        if len(languages) > LANGUAGE_LIMIT:
            self.error(
                path, f"a study has at most {LANGUAGE_LIMIT} languages, not {len(languages)}"
            )
            return None
        result = []
        for language in languages:
            if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
                self.error(path, f"{_shown(language)} is not a two-letter language code")
            elif language in result:
                self.error(path, f"language {_shown(language)} is listed twice")
            else:
                result.append(language)
        return tuple(result) if len(result) == len(languages) else None

    def consensus_settings(self, root: dict[str, Any]) -> ConsensusSettings | None:
        """Read ``[consensus]`` and its ``[consensus.by_kind.KIND]`` overrides."""
        data = self.get(root, "consensus", (), dict)
        if data is None:
            return None
        path: Path = ("consensus",)
        self.table(data, path, ("combine", "criteria", "by_kind"))
        default = self.rule(data, path)
        by_kind = []
        overrides = self.get(data, "by_kind", path, dict, required=False, default={})
        for kind, rule_data in overrides.items():
            kind_path = (*path, "by_kind", kind)
            if kind not in KINDS or kind == "open_text":
                self.error(kind_path, f"{_shown(kind)} is not a numeric item kind")
                continue
            if kind == "seed":
                self.error(kind_path, _SEED_WITHOUT_RULE)
                continue
            if self.table(rule_data, kind_path, ("combine", "criteria")) is not None:
                rule = self.rule(rule_data, kind_path)
                if rule is not None:
                    by_kind.append((kind, rule))
        return ConsensusSettings(default, tuple(by_kind)) if default else None

    def rule(self, data: dict[str, Any], path: Path) -> ConsensusRule | None:
        """Read ``combine`` and ``criteria = [{ kind = "iqr", max = 1 }, …]``."""
        combine = self.get(data, "combine", path, str, required=False, default="all")
        if combine not in ("all", "any"):
            self.error((*path, "combine"), f'must be "all" or "any", not {_shown(combine)}')
            return None
        criteria_data = self.get(data, "criteria", path, list)
        if criteria_data is None:
            return None
        if not criteria_data:
            self.error((*path, "criteria"), "list at least one criterion")
            return None
        criteria = []
        for index, criterion_data in enumerate(criteria_data):
            criterion = self.criterion(criterion_data, (*path, "criteria", index))
            if criterion is not None:
                criteria.append(criterion)
        if len(criteria) != len(criteria_data):
            return None
        try:
            return ConsensusRule(tuple(criteria), combine)
        except ValueError as error:  # e.g. only a dissensus detector, nothing to agree on
            self.error((*path, "criteria"), str(error))
            return None

    def criterion(self, data: Any, path: Path) -> Criterion | None:
        """Read one ``{ kind = …, <parameters> }`` criterion."""
        if not isinstance(data, dict):
            self.error(
                path, f'must be a table such as {{ kind = "iqr", max = 1 }}, not {_type_name(data)}'
            )
            return None
        kind = self.get(data, "kind", path, str)
        if kind is None:
            return None
        if kind not in CRITERIA:
            self.error(
                (*path, "kind"),
                f"unknown consensus criterion {_shown(kind)}; choose one of " + ", ".join(CRITERIA),
            )
            return None
        names = CRITERIA[kind]
        if self.table(data, path, ("kind", *names)) is None:
            return None
        params = {}
        for name in names:
            value = self.get(data, name, path, (int, float))
            if value is not None:
                params[name] = float(value)
        if len(params) != len(names):
            return None
        try:
            return Criterion(kind, params)
        except ValueError as error:
            self.error(path, str(error))
            return None

    def sections(self, root: dict[str, Any]) -> tuple[tuple[Section, ...], set[str]]:
        """Read ``[[sections]]``; return them with every valid key, those of sections
        with another problem included (so that their items raise no second problem)."""
        data = self.get(root, "sections", (), list, required=False, default=[])
        if len(data) > SECTION_LIMIT:
            self.error(
                ("sections",), f"a study has at most {SECTION_LIMIT} sections, not {len(data)}"
            )
        sections: list[Section] = []
        seen: set[str] = set()
        for index, section_data in enumerate(data):
            path: Path = ("sections", index)
            if not isinstance(section_data, dict):
                self.error(path, f"must be a table, not {_type_name(section_data)}")
                continue
            key = self.key(section_data, path, seen, "section")
            self.table(section_data, path, ("key", "title"))
            title = self.text(section_data, "title", path, "section_title")
            if key and title:
                sections.append(Section(key, title))
        return tuple(sections), seen

    def items(self, root: dict[str, Any], section_keys: set[str]) -> tuple[ItemDefinition, ...]:
        """Read ``[[items]]``."""
        data = self.get(root, "items", (), list)
        if data is None:
            return ()
        if not data:
            self.error(("items",), "a study needs at least one item")
        if len(data) > ITEM_LIMIT:
            self.error(("items",), f"a study holds at most {ITEM_LIMIT} items, not {len(data)}")
        items: list[ItemDefinition] = []
        seen: set[str] = set()
        paths: dict[str, Path] = {}
        for index, item_data in enumerate(data):
            item = self.item(item_data, ("items", index), seen, section_keys)
            if item is not None:
                items.append(item)
                paths[item.key] = ("items", index)
        scenario_sets = {item.key: item.scenarios for item in items if item.kind == "scenario_set"}
        named = [item for item in items if item.kind == "signpost" and item.scenario_item]
        for item in named[1:]:
            if item.scenario_item != named[0].scenario_item:
                # The analysis of competing hypotheses weighs every signpost against
                # the same scenarios, and the tracker updates one scenario set.
                self.error(
                    (*paths[item.key], "scenario_item"),
                    f"every signpost of a study names the same scenario set; "
                    f"{_shown(named[0].key)} names {_shown(named[0].scenario_item)}",
                )
        signposted = [
            self.signpost_scenarios(item, paths[item.key], scenario_sets, set(seen))
            for item in items
        ]
        return self.linked(signposted, [paths[item.key] for item in signposted], signposted)

    def signpost_scenarios(
        self,
        item: ItemDefinition,
        path: Path,
        scenario_sets: dict[str, tuple[Scenario, ...]],
        keys: set[str],
    ) -> ItemDefinition:
        """``item`` with the scenarios of its ``scenario_item`` when it is a signpost;
        a problem on ``scenario_item`` when that names no scenario set of the study
        (``keys``: every item key of the study, to say which problem it is)."""
        if item.kind != "signpost" or item.scenario_item is None:
            return item
        scenarios = scenario_sets.get(item.scenario_item)
        if scenarios is None:
            if item.scenario_item in keys:
                problem = f"item {_shown(item.scenario_item)} is not a scenario set"
            else:
                problem = f"no item has the key {_shown(item.scenario_item)}"
            listed = ", ".join(sorted(scenario_sets)) or "none in this study"
            self.error(
                (*path, "scenario_item"),
                f"{problem}; name a scenario_set item of the study ({listed})",
            )
            return item
        return replace(item, scenarios=scenarios)

    def linked(
        self,
        items: list[ItemDefinition],
        paths: list[Path],
        study_items: tuple[ItemDefinition, ...] | list[ItemDefinition],
    ) -> tuple[ItemDefinition, ...]:
        """``items`` with each cross-impact item's scenarios and triggers copied from
        the items of ``study_items`` its ``scenario_item`` and ``triggers`` name;
        a reference to no item, or to an item of the wrong kind, is reported."""
        by_key = {item.key: item for item in study_items}
        result = []
        for item, path in zip(items, paths, strict=True):
            if item.kind == "cross_impact":
                linked = self.cross_impact_links(item, path, by_key)
                if linked is None:
                    continue
                item = linked
            result.append(item)
        return tuple(result)

    def cross_impact_references(self, data: dict[str, Any], path: Path) -> dict[str, Any]:
        """Read a cross-impact item's ``scenario_item`` and ``triggers`` (keys, checked
        against the study's items by :meth:`cross_impact_links`)."""
        fields: dict[str, Any] = {}
        scenario_item = self.get(data, "scenario_item", path, str)
        if scenario_item is not None:
            fields["scenario_item"] = scenario_item
        listed = self.get(data, "triggers", path, list)
        if listed is None:
            return fields
        triggers_path = (*path, "triggers")
        if not listed:
            self.error(triggers_path, "a cross-impact item needs at least one trigger")
            return fields
        if len(listed) > TRIGGER_LIMIT:
            self.error(
                triggers_path,
                f"a cross-impact item has at most {TRIGGER_LIMIT} triggers, not {len(listed)}",
            )
            return fields
        keys: list[str] = []
        for index, key in enumerate(listed):
            if not isinstance(key, str):
                self.error(
                    (*triggers_path, index),
                    f"must be the key of a probability item, not {_type_name(key)}",
                )
            elif key in keys:
                self.error(triggers_path, f"trigger {_shown(key)} is listed twice")
            else:
                keys.append(key)
        if len(keys) == len(listed):
            fields["triggers"] = tuple(Choice(key, LocalizedText(())) for key in keys)
        return fields

    def cross_impact_links(
        self, item: ItemDefinition, path: Path, by_key: dict[str, ItemDefinition]
    ) -> ItemDefinition | None:
        """``item`` with the scenarios of its ``scenario_item`` and the texts of its
        ``triggers`` copied in; ``None`` after reporting a reference that names no
        item, or an item of the wrong kind."""
        problems = len(self.errors)
        scenario_set = by_key.get(item.scenario_item or "")
        if scenario_set is None:
            self.error(
                (*path, "scenario_item"),
                f"no item has the key {_shown(item.scenario_item)}; name a scenario_set item",
            )
        elif scenario_set.kind != "scenario_set":
            self.error(
                (*path, "scenario_item"),
                f"{_shown(item.scenario_item)} is a {scenario_set.kind} item; "
                "name a scenario_set item",
            )
        triggers = []
        for trigger in item.triggers:
            linked = by_key.get(trigger.key)
            if linked is None:
                self.error(
                    (*path, "triggers"),
                    f"no item has the key {_shown(trigger.key)}; each trigger must be "
                    "the key of a probability item",
                )
            elif linked.kind != "probability":
                self.error(
                    (*path, "triggers"),
                    f"{_shown(trigger.key)} is a {linked.kind} item; each trigger must be "
                    "the key of a probability item (the probability that it happens)",
                )
            else:
                triggers.append(Choice(trigger.key, linked.text))
        if len(self.errors) > problems or scenario_set is None:
            return None
        return replace(item, scenarios=scenario_set.scenarios, triggers=tuple(triggers))

    def item(
        self, data: Any, path: Path, seen: set[str], section_keys: set[str]
    ) -> ItemDefinition | None:
        """Read one item and the fields of its kind."""
        common = ("key", "kind", "text", "help", "section", "consensus", "rationale")
        by_kind = {
            "likert": ("scale", "labels"),
            "probability": (),
            "scenario_set": ("scenarios",),
            "numeric_estimate": ("unit", "bounds", "level"),
            "ranking": ("options",),
            "open_text": ("max_length",),
            "seed": ("unit", "answer", "background"),
            "signpost": ("scenario_item",),
            "cross_impact": ("scenario_item", "triggers"),
        }
        if not isinstance(data, dict):
            self.error(path, f"must be a table, not {_type_name(data)}")
            return None
        errors_before = len(self.errors)
        key = self.key(data, path, seen, "item")
        kind = self.get(data, "kind", path, str)
        if kind is not None and kind not in KINDS:
            self.error(
                (*path, "kind"),
                f"unknown item kind {_shown(kind)}; choose one of " + ", ".join(KINDS),
            )
            kind = None
        self.table(
            data,
            path,
            common
            + (by_kind[kind] if kind else tuple(f for fields in by_kind.values() for f in fields)),
        )
        text = self.text(data, "text", path, "item_text")
        help_text = self.text(data, "help", path, "help", required=False)
        section = self.get(data, "section", path, str, required=False)
        if section is not None and section not in section_keys:
            self.error((*path, "section"), f"no section has the key {_shown(section)}")
        rationale = self.get(data, "rationale", path, bool, required=False, default=True)
        fields: dict[str, Any] = {}
        if kind == "likert":
            fields["scale"] = self.likert_scale(data, path)
        elif kind == "scenario_set":
            fields["scenarios"] = self.choices(data, path, "scenarios", "scenario")
        elif kind == "ranking":
            fields["options"] = self.choices(data, path, "options", "option")
        elif kind == "numeric_estimate":
            fields["unit"] = self.text(data, "unit", path, "unit", required=False)
            fields["estimate_bounds"] = self.estimate_bounds(data, path)
            fields["estimate_level"] = self.estimate_level(data, path)
        elif kind == "seed":
            fields["unit"] = self.text(data, "unit", path, "unit", required=False)
            fields["seed_answer"], fields["seed_background"] = self.seed(data, path)
        elif kind == "signpost":
            fields["scenario_item"] = self.scenario_item(data, path)
        elif kind == "cross_impact":
            fields.update(self.cross_impact_references(data, path))
        elif kind == "open_text":
            max_length = self.get(
                data, "max_length", path, int, required=False, default=DEFAULT_OPEN_TEXT_LENGTH
            )
            if max_length is not None and not 1 <= max_length <= 20000:
                self.error((*path, "max_length"), "must be between 1 and 20000 characters")
            fields["max_length"] = max_length
        consensus: ConsensusRule | None = None
        part_rules: tuple[tuple[str, ConsensusRule | None], ...] = ()
        if "consensus" in data:
            consensus, part_rules = self.item_consensus(data["consensus"], path, kind, fields)
        if len(self.errors) > errors_before or key is None or kind is None or text is None:
            return None
        return ItemDefinition(
            key=key,
            kind=kind,
            text=text,
            section=section,
            help=help_text,
            consensus=consensus,
            rationale=rationale,
            part_rules=part_rules,
            **fields,
        )

    def item_consensus(
        self, data: Any, path: Path, kind: str | None, fields: dict[str, Any]
    ) -> tuple[ConsensusRule | None, tuple[tuple[str, ConsensusRule | None], ...]]:
        """Read an item's ``consensus``: a rule (``combine``, ``criteria``) for the whole
        item, rules for some of its parts (``parts.<part> = { criteria = … }`` or
        ``= "none"``), or both."""
        consensus_path = (*path, "consensus")
        if kind == "open_text":
            self.error(consensus_path, "open-text items have no consensus rule")
            return None, ()
        if kind == "seed":
            self.error(consensus_path, _SEED_WITHOUT_RULE)
            return None, ()
        table = self.table(data, consensus_path, ("combine", "criteria", "parts"))
        if table is None:
            return None, ()
        rule = None
        if "parts" not in table or "criteria" in table or "combine" in table:
            rule = self.rule(table, consensus_path)
        if "parts" not in table:
            return rule, ()
        return rule, self.part_rules(table["parts"], (*consensus_path, "parts"), kind, fields)

    def part_rules(
        self, data: Any, path: Path, kind: str | None, fields: dict[str, Any]
    ) -> tuple[tuple[str, ConsensusRule | None], ...]:
        """Read ``consensus.parts``: for each named part, a rule table or ``"none"``."""
        if kind is None:
            return ()
        if kind not in ("scenario_set", "ranking", "numeric_estimate"):
            self.error(
                path,
                "only the parts of a scenario set, a ranking or a numeric estimate "
                "take rules of their own",
            )
            return ()
        if not isinstance(data, dict):
            self.error(path, f"must be a table of parts, not {_type_name(data)}")
            return ()
        if not data:
            self.error(path, 'give at least one part a rule, or "none"')
            return ()
        choices = fields.get("scenarios") or fields.get("options")
        components = (
            ESTIMATE_COMPONENTS
            if kind == "numeric_estimate"
            else tuple(choice.key for choice in choices)
            if choices
            else None  # the scenarios or options have problems of their own
        )
        rules: dict[str, ConsensusRule | None] = {}
        for part, value in data.items():
            part_path = (*path, part)
            if components is not None and part not in components:
                self.error(
                    part_path,
                    f"{_shown(part)} is not a part of this item; its parts are "
                    + ", ".join(components),
                )
            elif value == "none":
                rules[part] = None
            elif isinstance(value, str):
                self.error(
                    part_path,
                    'must be "none" or a rule such as '
                    f'{{ criteria = [{{ kind = "iqr", max = 1 }}] }}, not {_shown(value)}',
                )
            elif self.table(value, part_path, ("combine", "criteria")) is not None:
                rule = self.rule(value, part_path)
                if rule is not None:
                    rules[part] = rule
        order = components or tuple(rules)
        return tuple((part, rules[part]) for part in order if part in rules)

    def scenario_item(self, data: dict[str, Any], path: Path) -> str | None:
        """Read a signpost's ``scenario_item``: an item key (which item it names is
        checked once every item is read, :meth:`signpost_scenarios`)."""
        key = self.get(data, "scenario_item", path, str)
        if key is not None and not KEY_PATTERN.match(key):
            self.error(
                (*path, "scenario_item"),
                f"{_shown(key)} is not an item key; name a scenario_set item of the study",
            )
            return None
        return key

    def likert_scale(self, data: dict[str, Any], path: Path) -> LikertScale | None:
        """Read ``scale = { min = 1, max = 5 }`` and ``labels.<language> = […]``."""
        scale = self.get(data, "scale", path, dict)
        scale_path = (*path, "scale")
        if scale is None or self.table(scale, scale_path, ("min", "max")) is None:
            return None
        minimum = self.get(scale, "min", scale_path, int)
        maximum = self.get(scale, "max", scale_path, int)
        if minimum is None or maximum is None:
            return None
        if maximum <= minimum:
            self.error((*scale_path, "max"), f"must be greater than min ({minimum})")
            return None
        if maximum - minimum + 1 > LIKERT_OPTION_LIMIT:
            self.error(scale_path, f"a likert scale has at most {LIKERT_OPTION_LIMIT} options")
            return None
        options = maximum - minimum + 1
        labels_data = self.get(data, "labels", path, dict)
        labels_path = (*path, "labels")
        if labels_data is None or self.table(labels_data, labels_path, self.languages) is None:
            return None
        labels = []
        for language in self.languages:
            values = labels_data.get(language)
            if values is None:
                self.error(labels_path, f"missing the {language!r} labels")
            elif not isinstance(values, list) or not all(
                isinstance(v, str) and v.strip() for v in values
            ):
                self.error((*labels_path, language), "must be a list of non-empty strings")
            elif len(values) != options:
                self.error(
                    (*labels_path, language),
                    f"has {len(values)} labels but the scale {minimum}–{maximum} "
                    f"has {options} options",
                )
            elif all(
                self.checked(value.strip(), (*labels_path, language, index), "label")
                for index, value in enumerate(values)
            ):
                labels.append((language, tuple(value.strip() for value in values)))
        if len(labels) != len(self.languages):
            return None
        return LikertScale(minimum, maximum, tuple(labels))

    def choices(
        self, data: dict[str, Any], path: Path, field: str, what: str
    ) -> tuple[Choice, ...] | None:
        """Read ``[[items.<field>]]``: at least two, each with a unique key and a text."""
        choices_data = self.get(data, field, path, list)
        if choices_data is None:
            return None
        owner = {"scenario": "a scenario set", "option": "a ranking"}[what]
        if len(choices_data) < 2:
            self.error((*path, field), f"{owner} needs at least two {what}s")
            return None
        limit = {"scenario": SCENARIO_LIMIT, "option": RANKING_OPTION_LIMIT}[what]
        if len(choices_data) > limit:
            self.error(
                (*path, field), f"{owner} has at most {limit} {what}s, not {len(choices_data)}"
            )
            return None
        choices: list[Choice] = []
        seen: set[str] = set()
        for index, choice_data in enumerate(choices_data):
            choice_path = (*path, field, index)
            if not isinstance(choice_data, dict):
                self.error(choice_path, f"must be a table, not {_type_name(choice_data)}")
                continue
            key = self.key(choice_data, choice_path, seen, what)
            self.table(choice_data, choice_path, ("key", "text"))
            text = self.text(choice_data, "text", choice_path, "choice_text")
            if key and text:
                choices.append(Choice(key, text))
        return tuple(choices) if len(choices) == len(choices_data) else None

    def estimate_bounds(self, data: dict[str, Any], path: Path) -> tuple[float, float] | None:
        """Read the optional ``bounds = { min = 0, max = 1000 }`` of a numeric estimate."""
        if "bounds" not in data:
            return None
        bounds_path = (*path, "bounds")
        bounds = self.table(data["bounds"], bounds_path, ("min", "max"))
        if bounds is None:
            return None
        minimum = self.get(bounds, "min", bounds_path, (int, float))
        maximum = self.get(bounds, "max", bounds_path, (int, float))
        if minimum is None or maximum is None:  # missing, or not a finite number in range
            return None
        if maximum <= minimum:
            self.error((*bounds_path, "max"), f"must be greater than min ({minimum})")
            return None
        return (float(minimum), float(maximum))

    def estimate_level(self, data: dict[str, Any], path: Path) -> float | None:
        """Read the optional ``level = 90`` of a numeric estimate: the confidence (percent)
        its intervals are standardised to.  Experts state a confidence of 50 to 100 %, so
        a common level below 50 would stretch every interval into a guess nobody made."""
        level = self.get(data, "level", path, (int, float), required=False)
        if level is None:
            return None
        low, high = CONFIDENCE_RANGE
        if not low <= level <= high:
            self.error(
                (*path, "level"),
                f"must be a confidence between {low} and {high} percent, not {level}",
            )
            return None
        return float(level)

    def seed(self, data: dict[str, Any], path: Path) -> tuple[float | None, str | None]:
        """Read a seed item's ``answer = 58.0`` (required, a finite number; above 0 on a
        log-uniform background, whose scale is the logarithm) and its optional
        ``background = "uniform"`` or ``"log-uniform"``."""
        answer = self.get(data, "answer", path, (int, float))
        background = self.get(data, "background", path, str, required=False)
        if background is not None and background not in SEED_BACKGROUNDS:
            self.error(
                (*path, "background"),
                f'must be "uniform" or "log-uniform", not {_shown(background)}',
            )
            background = None
        if answer is not None and background == "log-uniform" and answer <= 0:
            self.error(
                (*path, "answer"),
                f"must be above 0 on a log-uniform background (its scale is the logarithm), "
                f"not {answer}",
            )
            answer = None
        return (float(answer) if answer is not None else None), background


_SEED_WITHOUT_RULE = (
    "seed items have no consensus rule: they measure each expert's calibration, "
    "and the panel gets no feedback on them"
)


def _type_name(value: Any) -> str:
    """Name a TOML value's type the way the file's author thinks of it."""
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
        datetime.datetime: "a date and time",
        datetime.date: "a date",
        datetime.time: "a time of day",
    }
    return names.get(type(value), "a value of another kind")


#: Characters that end a line for ``str.splitlines`` (and so for people reading a text).
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
#: Control characters (Unicode category Cc: C0, DEL and C1) and the two Unicode
#: separators, which are line breaks too.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def text_problem(text: str, rule: TextRule) -> str | None:
    """What is wrong with ``text`` under ``rule``, or ``None``.

    A text is at most ``rule.max_length`` characters long.  A one-line text holds no
    line break and no control character: it becomes a heading, a table cell, a plot
    title or an email subject.  A text of paragraphs may hold line feeds and tabs, and
    no other control character (a carriage return or U+2028 would be a second, unseen
    kind of line break).  NUL, which PostgreSQL cannot store in text, is refused by both.
    """
    if len(text) > rule.max_length:
        return f"has {len(text):,} characters; at most {rule.max_length:,} characters"
    for match in _CONTROLS.finditer(text):
        character = match.group(0)
        if rule.paragraphs and character in "\n\t":
            continue
        where = f"U+{ord(character):04X} at character {match.start() + 1}"
        if not rule.paragraphs and character in _LINE_BREAKS:
            return f"must be written on one line; it has a line break ({where})"
        return f"must not hold a control character or line separator ({where})"
    return None


def _render_path(path: Path, labels: dict[Path, str]) -> str:
    """Render ``path`` for people: array elements by their key when they have one,
    keys that are not plain words quoted with their control characters escaped (a
    field name is printed by the CLI, where an escape sequence would act)."""
    rendered = ""
    for end, part in enumerate(path, start=1):
        if isinstance(part, int):
            label = labels.get(path[:end])
            rendered += f".{label}" if label else f"[{part + 1}]"
        else:
            name = part if _PLAIN_KEY.match(part) else _quoted(part)
            rendered += f".{name}" if rendered else name
    return rendered


def _quoted(text: str, limit: int = 40) -> str:
    """``text`` as Python quotes it (every unprintable character escaped), cut at
    ``limit`` characters so that a hostile value cannot flood a message."""
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def _shown(value: Any) -> str:
    """A value quoted back in a message, escaped and cut short as by :func:`_quoted`."""
    if isinstance(value, str):
        return _quoted(value)
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:40] + "…"


def _article(name: str) -> str:
    """Return ``name`` with an indefinite article: ``an int``, ``a list``."""
    words = {
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "list": "a list",
        "dict": "a table",
        "bool": "true or false",
        "number": "a number",
    }
    return words.get(name, name)


__all__ = [
    "DIGIT_LIMIT",
    "ITEM_LIMIT",
    "KINDS",
    "LANGUAGE_LIMIT",
    "LIKERT_OPTION_LIMIT",
    "NESTING_LIMIT",
    "NUMBER_LIMIT",
    "RANKING_OPTION_LIMIT",
    "SCENARIO_LIMIT",
    "SECTION_LIMIT",
    "SIZE_LIMIT",
    "TEXT_RULES",
    "TRIGGER_LIMIT",
    "ConsensusSettings",
    "DefinitionError",
    "InvalidDefinition",
    "ItemDefinition",
    "LikertScale",
    "LocalizedText",
    "Scenario",
    "Section",
    "StudyDefinition",
    "TextRule",
    "cross_impact_component",
    "load_definition_file",
    "parse_consensus",
    "parse_definition",
    "parse_item",
    "text_problem",
]
