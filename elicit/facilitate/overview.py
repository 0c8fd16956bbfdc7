"""The overview at the top of the results page and the report: every item and its
consensus state in each closed round, in words, on one screen.

Both pages show many tables and charts per item; a facilitator deciding whether to go on,
and a reader of the report, first want to know where every item stands.  The states come
from the stored round summaries, as everything else on those pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from surveys.rounds import combined_state

#: A round in which the item was not asked (added later, retired, or left at consensus).
NOT_ASKED = "not_asked"
#: A round in which the item was summarised but no rule decides it.
NO_RULE = "no_rule"


class _Summarised(Protocol):
    """One component's summary in one round (a report's or a results page's)."""

    @property
    def round(self) -> int: ...

    @property
    def statistics(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class OverviewRow:
    """One item: its text and key, whether it was retired, its state in each round."""

    key: str
    text: str
    retired: bool
    #: Round number → ``consensus``, ``no_consensus``, ``dissensus``, :data:`NO_RULE`
    #: or :data:`NOT_ASKED`, for every round of :attr:`Overview.rounds`.
    states: dict[int, str]


@dataclass(frozen=True)
class Overview:
    """Every item's state across the closed rounds."""

    rounds: list[int]
    rows: list[OverviewRow]


def round_state(entries: Iterable[_Summarised]) -> str:
    """The item's state in one round from its components' summaries of that round:
    ``dissensus`` if any part is split, ``consensus`` if every part agrees, else
    ``no_consensus``; :data:`NO_RULE` when no part has a rule, :data:`NOT_ASKED` when
    there is no summary (as :attr:`surveys.report.ReportItem.final_state` reads it)."""
    summaries = list(entries)
    if not summaries:
        return NOT_ASKED
    state = combined_state(entry.statistics.get("state") for entry in summaries)
    return NO_RULE if state is None else state


def overview(
    items: Iterable[tuple[str, str, bool, Mapping[str, Sequence[_Summarised]]]],
) -> Overview:
    """The overview of ``items``, each given as (key, text, retired, components by
    key, each a list of its rounds' summaries)."""
    given = list(items)
    rounds = sorted(
        {
            entry.round
            for *_, components in given
            for history in components.values()
            for entry in history
        }
    )
    rows = [
        OverviewRow(
            key=key,
            text=text,
            retired=retired,
            states={
                number: round_state(
                    entry
                    for history in components.values()
                    for entry in history
                    if entry.round == number
                )
                for number in rounds
            },
        )
        for key, text, retired, components in given
        if components
    ]
    return Overview(rounds, rows)
