"""The canonical TOML text of a study definition.

The study builder saves and exports a study as this text, and the protocol stamp hashes
it, so it is

- *exact*: :func:`surveys.definition.parse_definition` reads it back as the identical
  :class:`~surveys.definition.StudyDefinition`, for every definition the loader accepts;
- *deterministic*: the same definition always gives the same bytes (no clock, no
  locale, no dictionary order but the definition's own);
- *readable*: the layout of the shipped demo and of the README's "Study definition
  files", every text of every language side by side, a short comment on each study
  setting and each consensus table, and a divider where a new section's items begin.

The pieces (strings, numbers, rules, items) are written by :mod:`surveys.serialization`,
which the console's item and consensus forms use too, so a study has one way of being
written.
"""

from __future__ import annotations

from analysis import QUANTILE_METHODS
from surveys.definition import (
    DEFAULT_CARRY_OVER,
    DEFAULT_CONSENSUS_ITEMS,
    ConsensusSettings,
    Section,
    StudyDefinition,
)
from surveys.serialization import (
    consensus_to_toml,
    item_to_toml,
    texts_to_toml,
    toml_string,
)

#: The column at which the comment of a study setting starts, as in the README.
COMMENT_COLUMN = 35

_RATIONALE_COMMENTS = {
    "off": 'never ask "why?"',
    "optional": 'ask "why?" when an answer leaves the panel\'s middle half',
    "required": 'demand "why?" when an answer leaves the panel\'s middle half',
}
_CONSENSUS_ITEMS_COMMENTS = {
    "leave": "items at consensus leave the next round",
    "ask": "at each close, choose which items at consensus leave",
}
_CARRY_OVER_COMMENTS = {
    "blank": "later rounds start blank: every answer is entered anew",
}


def definition_to_toml(definition: StudyDefinition) -> str:
    """The canonical TOML text of ``definition`` (see the module's docstring)."""
    blocks = [
        _header(definition),
        _study(definition),
        _consensus(definition.consensus),
        *(_section(section) for section in definition.sections),
        *_items(definition),
    ]
    return "\n".join(blocks)


def _header(definition: StudyDefinition) -> str:
    """The comment at the top of the file: what it is and where its format is told."""
    languages = ", ".join(definition.languages)
    return (
        "# A study definition for elicit.  Every text is given in each of the study's\n"
        f"# languages ({languages}), side by side.  The format is described in the README\n"
        '# ("Study definition files"); `elicit study validate FILE` checks a file.\n'
    )


def _commented(code: str, comment: str) -> str:
    """``code`` with ``comment`` after it, aligned at :data:`COMMENT_COLUMN`."""
    return f"{code:<{COMMENT_COLUMN - 1}} # {comment}"


def _study(definition: StudyDefinition) -> str:
    """The ``[study]`` table with its settings, then its title and introduction."""
    method = definition.quantile_method
    method_comment = f"Hyndman & Fan type {QUANTILE_METHODS.index(method) + 1}"
    if method == "linear":
        method_comment += ", the default of R, numpy and pandas"
    languages = ", ".join(toml_string(language) for language in definition.languages)
    judge = "offer" if definition.cannot_judge else "do not offer"
    lines = [
        "[study]",
        f"slug = {toml_string(definition.slug)}",
        _commented(f"languages = [{languages}]", "the first is the default"),
        _commented(f"max_rounds = {definition.max_rounds}", "at most this many rounds"),
        _commented(f"quantile_method = {toml_string(method)}", method_comment),
        _commented(
            f"feedback_min_n = {definition.feedback_min_n}",
            "feedback on an item needs at least this many answers",
        ),
        _commented(
            f"rationale_outside_iqr = {toml_string(definition.rationale_outside_iqr)}",
            _RATIONALE_COMMENTS[definition.rationale_outside_iqr],
        ),
        _commented(
            f"cannot_judge = {'true' if definition.cannot_judge else 'false'}",
            f'likert items {judge} "I can\'t judge this"',
        ),
    ]
    if definition.consensus_items != DEFAULT_CONSENSUS_ITEMS:
        # Written only when it is not the default, so that the text (and the protocol
        # stamp's hash) of every study keeping its items at consensus is the text it had
        # before the setting belonged to the definition.
        lines.append(
            _commented(
                f"consensus_items = {toml_string(definition.consensus_items)}",
                _CONSENSUS_ITEMS_COMMENTS[definition.consensus_items],
            )
        )
    if definition.carry_over != DEFAULT_CARRY_OVER:
        # Only when not the default, for the same reason as consensus_items.
        lines.append(
            _commented(
                f"carry_over = {toml_string(definition.carry_over)}",
                _CARRY_OVER_COMMENTS[definition.carry_over],
            )
        )
    lines += [
        "",
        "[study.title]",
        *texts_to_toml("", definition.title),
    ]
    if definition.introduction is not None:
        lines += ["", "[study.introduction]", *texts_to_toml("", definition.introduction)]
    return "\n".join(lines) + "\n"


def _consensus(settings: ConsensusSettings) -> str:
    """The ``[consensus]`` table and its per-kind overrides, each with a comment."""
    comments = [
        "# Consensus is defined before the study starts.  An item's own rule comes first,",
        "# then the rule of its kind, then this default (rankings and numeric estimates",
        "# take no default: they reach consensus only by a rule of their kind or their own).",
    ]
    text = consensus_to_toml(settings)
    for kind, _ in settings.by_kind:
        header = f"[consensus.by_kind.{kind}]"
        comment = f"# The rule of every {kind.replace('_', ' ')} item without a rule of its own."
        text = text.replace(f"\n{header}\n", f"\n{comment}\n{header}\n", 1)
    return "\n".join(comments) + "\n" + text


def _section(section: Section) -> str:
    """One ``[[sections]]`` table."""
    lines = ["[[sections]]", f"key = {toml_string(section.key)}"]
    return "\n".join([*lines, *texts_to_toml("title", section.title)]) + "\n"


def _items(definition: StudyDefinition) -> list[str]:
    """Every ``[[items]]`` table, in order, with a divider where a section begins."""
    titles = {section.key: section.title for section in definition.sections}
    language = definition.default_language
    blocks = []
    previous: str | None = None
    seeds_explained = False
    for item in definition.items:
        text = item_to_toml(item)
        if item.kind == "seed" and not seeds_explained:
            text = SEED_COMMENT + "\n" + text
            seeds_explained = True
        if item.section != previous:
            if item.section is None:
                divider = "# --- Items outside any section ---"
            else:
                title = titles.get(item.section)
                divider = f"# --- {title.get(language) if title else item.section} ---"
            text = divider + "\n\n" + text
        previous = item.section
        blocks.append(text)
    return blocks


SEED_COMMENT = """\
# Seed items are calibration questions of Cooke's classical model: each expert gives
# the 5th, 50th and 95th percentiles, and `answer` is the known true value, which only
# the facilitator sees (never an expert's page).  Experts get no panel feedback on
# seed items in the next round: the items measure each expert's own calibration."""
