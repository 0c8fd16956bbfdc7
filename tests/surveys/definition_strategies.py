"""Hypothesis strategies that build valid study definitions of every shape.

Every value drawn here is one the loader accepts: texts already stripped and within the
rules of :data:`surveys.definition.TEXT_RULES`, keys and slugs of the documented
patterns, numbers within :data:`surveys.definition.NUMBER_LIMIT`, criteria with valid
parameters.  The strategies lean on the hard cases of a writer: quotes, backslashes,
``$``, ``#``, brackets, tabs and line breaks (where a text may hold them), characters
beyond ASCII, whole and fractional numbers of large and small magnitude.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from analysis import CRITERIA, QUANTILE_METHODS, ConsensusRule, Criterion
from surveys.definition import (
    CARRY_OVER,
    CONSENSUS_ITEMS,
    KINDS,
    NUMBER_LIMIT,
    RATIONALE_POLICIES,
    RESERVED_KEYS,
    RESERVED_SLUGS,
    TEXT_RULES,
    Choice,
    ConsensusSettings,
    ItemDefinition,
    LikertScale,
    LocalizedText,
    Section,
    StudyDefinition,
    text_problem,
)

#: Kinds whose items name other items of their study: never drawn alone.
REFERRING_KINDS = ("cross_impact", "signpost")
NUMERIC_KINDS = tuple(kind for kind in KINDS if kind not in ("open_text", "seed"))
#: Characters a writer must take care of, drawn often.
TRICKY = [*"\"\\$#[]{}='.,:`%€é中🙂 ", '"""', "\\n", "\\u0041", "''' ", "# not a comment"]
ONE_LINE_CHARACTERS = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029"
)


def _text(rule: str, max_size: int = 30) -> st.SearchStrategy[str]:
    """A text the loader accepts under ``TEXT_RULES[rule]``, as it keeps it (stripped)."""
    pieces = st.sampled_from(TRICKY) | ONE_LINE_CHARACTERS
    if TEXT_RULES[rule].paragraphs:
        pieces = pieces | st.sampled_from(["\n", "\t", "\n\n", '"\n"', "\\\n"])
    return (
        st.lists(pieces, min_size=1, max_size=max_size)
        .map(lambda parts: "".join(parts).strip())
        .filter(lambda text: bool(text) and text_problem(text, TEXT_RULES[rule]) is None)
    )


def localized(languages: tuple[str, ...], rule: str) -> st.SearchStrategy[LocalizedText]:
    """A text in each of ``languages``, in their order."""
    return st.tuples(*(_text(rule) for _ in languages)).map(
        lambda texts: LocalizedText(tuple(zip(languages, texts, strict=True)))
    )


KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda key: key not in RESERVED_KEYS
)
SLUGS = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}", fullmatch=True).filter(
    lambda slug: slug not in RESERVED_SLUGS
)
LANGUAGES = st.lists(
    st.sampled_from(["en", "es", "fr", "pt", "de", "zh"]), min_size=1, max_size=3, unique=True
).map(tuple)

#: Numbers as a definition may write them: whole or fractional, tiny or huge.
NUMBERS = (
    st.integers(-NUMBER_LIMIT, NUMBER_LIMIT)
    | st.floats(-NUMBER_LIMIT, NUMBER_LIMIT, allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, 1, -1, 0.1, 1 / 3, 1e-7, 5e-324, 2.5e-300, 1e15, -1e15, 2**49 + 0.5])
)
NON_NEGATIVE = NUMBERS.map(abs)
SHARES = st.floats(0, 1) | st.sampled_from([0, 1, 0.7, 0.75, 1 / 3])
POSITIVE = (
    st.integers(1, NUMBER_LIMIT)
    | st.floats(5e-324, NUMBER_LIMIT)
    | st.sampled_from([6, 0.5, 1e-300, 1e15])
)


@st.composite
def criteria(draw: st.DrawFn, kind: str | None = None) -> Criterion:
    """A criterion of ``kind`` (any kind of :data:`analysis.CRITERIA` if None)."""
    kind = kind or draw(st.sampled_from(list(CRITERIA)))
    params: dict[str, Any]
    if kind in ("iqr", "cv"):
        params = {"max": draw(NON_NEGATIVE)}
    elif kind == "share":
        low, high = sorted([draw(NUMBERS), draw(NUMBERS)])
        params = {"low": low, "high": high, "min": draw(SHARES)}
    elif kind in ("ad_mean", "ad_median"):
        params = {"divisor": draw(POSITIVE)}
    elif kind == "rwg":
        params = {"min": draw(NUMBERS)}
    elif kind == "split":
        params = {"min_share": draw(SHARES)}
    else:
        params = {}
    # The loader keeps every parameter as a float.
    return Criterion(kind, {name: float(value) for name, value in params.items()})


@st.composite
def rules(draw: st.DrawFn) -> ConsensusRule:
    """A valid rule: one to three criteria, at least one that can establish consensus."""
    deciding = [kind for kind in CRITERIA if kind != "split"]
    first = draw(criteria(draw(st.sampled_from(deciding))))
    others = draw(st.lists(criteria(), max_size=2))
    ordered = draw(st.permutations([first, *others]))
    return ConsensusRule(tuple(ordered), draw(st.sampled_from(["all", "any"])))


@st.composite
def choices(draw: st.DrawFn, languages: tuple[str, ...], limit: int) -> tuple[Choice, ...]:
    """Scenarios or ranking options: two or more, with unique keys."""
    keys = draw(st.lists(KEYS, min_size=2, max_size=min(limit, 4), unique=True))
    return tuple(Choice(key, draw(localized(languages, "choice_text"))) for key in keys)


@st.composite
def items(
    draw: st.DrawFn, key: str, languages: tuple[str, ...], section_keys: list[str]
) -> ItemDefinition:
    """An item of any kind with the fields of its kind, optional fields present or not
    (cross-impact and signpost items, which refer to others, are added by
    :func:`definitions`)."""
    kind = draw(st.sampled_from([kind for kind in KINDS if kind not in REFERRING_KINDS]))
    fields: dict[str, Any] = {
        "key": key,
        "kind": kind,
        "text": draw(localized(languages, "item_text")),
        "section": draw(st.none() | st.sampled_from(section_keys)) if section_keys else None,
        "help": draw(st.none() | localized(languages, "help")),
        "rationale": draw(st.booleans()),
    }
    if kind not in ("open_text", "seed"):
        fields["consensus"] = draw(st.none() | rules())
    if kind == "likert":
        options = draw(st.integers(2, 11))
        minimum = draw(st.integers(-NUMBER_LIMIT, NUMBER_LIMIT - options) | st.integers(-3, 3))
        labels = tuple(
            (
                language,
                tuple(draw(st.lists(_text("label", 8), min_size=options, max_size=options))),
            )
            for language in languages
        )
        fields["scale"] = LikertScale(minimum, minimum + options - 1, labels)
    elif kind == "scenario_set":
        fields["scenarios"] = draw(choices(languages, 12))
    elif kind == "ranking":
        fields["options"] = draw(choices(languages, 15))
    elif kind == "numeric_estimate":
        fields["unit"] = draw(st.none() | localized(languages, "unit"))
        bounds = draw(st.none() | st.lists(NUMBERS, min_size=2, max_size=2, unique=True))
        if bounds is not None:
            low, high = sorted(float(bound) for bound in bounds)
            if low < high:
                fields["estimate_bounds"] = (low, high)
        # The level intervals are standardised to: unset (80 %), whole or any in 50–100.
        fields["estimate_level"] = draw(
            st.none()
            | st.integers(50, 100).map(float)
            | st.floats(50, 100, allow_nan=False, allow_infinity=False)
        )
    elif kind == "open_text":
        fields["max_length"] = draw(st.integers(1, 20000))
    elif kind == "seed":
        fields["unit"] = draw(st.none() | localized(languages, "unit"))
        fields["seed_background"] = draw(st.sampled_from([None, "uniform", "log-uniform"]))
        answer = float(draw(NUMBERS))
        if fields["seed_background"] == "log-uniform" and answer <= 0:
            answer = abs(answer) or 1.0
        fields["seed_answer"] = answer
    if kind in ("scenario_set", "ranking", "numeric_estimate") and draw(st.booleans()):
        # Rules for some of its parts, a rule or "none" each, in the order of its parts.
        parts = ItemDefinition(**fields).components
        chosen = draw(st.sets(st.sampled_from(parts), min_size=1))
        fields["part_rules"] = tuple(
            (part, draw(st.none() | rules())) for part in parts if part in chosen
        )
    return ItemDefinition(**fields)


@st.composite
def signposts(
    draw: st.DrawFn, languages: tuple[str, ...], scenario_set: ItemDefinition
) -> tuple[ItemDefinition, ...]:
    """One or two signposts rated against ``scenario_set`` (keys no drawn key can take:
    :data:`KEYS` are at most 13 characters)."""
    return tuple(
        ItemDefinition(
            key=f"signpost_item_{number}",
            kind="signpost",
            text=draw(localized(languages, "item_text")),
            help=draw(st.none() | localized(languages, "help")),
            consensus=draw(st.none() | rules()),
            rationale=draw(st.booleans()),
            scenario_item=scenario_set.key,
            scenarios=scenario_set.scenarios,
        )
        for number in range(1, draw(st.integers(1, 2)) + 1)
    )


@st.composite
def definitions(draw: st.DrawFn) -> StudyDefinition:
    """A whole valid study definition."""
    languages = draw(LANGUAGES)
    section_keys = draw(st.lists(KEYS, max_size=3, unique=True))
    sections = tuple(
        Section(key, draw(localized(languages, "section_title"))) for key in section_keys
    )
    item_keys = draw(st.lists(KEYS, min_size=1, max_size=6, unique=True))
    by_kind_kinds = draw(st.lists(st.sampled_from(NUMERIC_KINDS), max_size=3, unique=True))
    drawn = tuple(draw(items(key, languages, section_keys)) for key in item_keys)
    scenario_sets = [item for item in drawn if item.kind == "scenario_set"]
    if scenario_sets and draw(st.booleans()):
        drawn += draw(signposts(languages, scenario_sets[0]))
    triggers = [item for item in drawn if item.kind == "probability"]
    if scenario_sets and triggers and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(triggers), min_size=1, unique_by=lambda i: i.key))
        scenario_set = draw(st.sampled_from(scenario_sets))
        drawn += (
            ItemDefinition(
                key="cross_impact_item",
                kind="cross_impact",
                text=draw(localized(languages, "item_text")),
                consensus=draw(st.none() | rules()),
                rationale=draw(st.booleans()),
                scenario_item=scenario_set.key,
                scenarios=scenario_set.scenarios,
                triggers=tuple(Choice(item.key, item.text) for item in chosen),
            ),
        )
    return StudyDefinition(
        slug=draw(SLUGS),
        title=draw(localized(languages, "study_title")),
        languages=languages,
        max_rounds=draw(st.integers(1, 20)),
        quantile_method=draw(st.sampled_from(QUANTILE_METHODS)),
        consensus=ConsensusSettings(
            draw(rules()), tuple((kind, draw(rules())) for kind in by_kind_kinds)
        ),
        items=drawn,
        sections=sections,
        introduction=draw(st.none() | localized(languages, "introduction")),
        feedback_min_n=draw(st.integers(1, 1000)),
        rationale_outside_iqr=draw(st.sampled_from(RATIONALE_POLICIES)),
        cannot_judge=draw(st.booleans()),
        consensus_items=draw(st.sampled_from(CONSENSUS_ITEMS)),
        carry_over=draw(st.sampled_from(CARRY_OVER)),
    )
