"""An expert's page as it will look, before any expert sees it: nothing is stored.

A facilitator checks their study from the expert's side: round 1 as it opens, and a
later round with feedback beside the expert's own previous answer.  Feedback needs a
previous round, which a study being built has not had, so a panel of simulated experts
(:mod:`surveys.simulation`) answers it in memory and the summary a close would store is
computed from those answers by the same code (:func:`surveys.rounds.frame_summary`).
The page itself is the :class:`surveys.expert.ExpertPage` the expert's real page is
drawn from, assembled by the same functions (:func:`surveys.expert.item_feedback`).

Nothing here writes to the database or reads answers from it: no round, response,
draft or summary row is made, and the previewed round is a :class:`PreviewRound`, not a
:class:`surveys.models.Round`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analysis.reasons import STRATA, selection_seed
from surveys.answers import AnswerRules, parse_answers
from surveys.cross_impact import close_cross_impact, cross_impact_items
from surveys.definition import StudyDefinition
from surveys.errors import InvalidAnswers
from surveys.expert import ExpertItem, ExpertPage, item_feedback
from surveys.feedback import item_records, memory_reason_page, memory_strata
from surveys.rounds import answer_values, answers_frame, comments_of, frame_summary, quartiles_of
from surveys.simulation import simulated_answers
from surveys.studies import StoredItem

#: The pseudonym the preview's expert goes by (a real one is random; none matches this).
PREVIEW_PSEUDONYM = "P-PREVIEW"
#: How many simulated experts answer the previous round: enough for feedback to show
#: under the usual minimum (3), few enough to compute at once.
PANEL_SIZE = 12
#: The simulated panel is the same on every request, so that a preview re-rendered
#: after the facilitator typed something shows the same feedback.
SEED = 20240611


@dataclass(frozen=True)
class PreviewRound:
    """The round a preview pretends is open: a number and no deadline; stored nowhere."""

    number: int
    deadline: datetime | None = None


@dataclass(frozen=True)
class SimulatedAnswer:
    """One simulated expert's answer to one item (what a :class:`Response` holds)."""

    answer: dict[str, Any]
    rationale: str | None


def preview_page(
    definition: StudyDefinition,
    round_number: int,
    *,
    language: str,
    panel_size: int = PANEL_SIZE,
) -> ExpertPage:
    """The page an expert writing in ``language`` would see in round ``round_number``
    of the study ``definition``.

    Round 1 shows the items as they open.  A later round also shows, for every numeric
    item, the feedback of the round before it, computed from a simulated panel of at
    least ``panel_size`` experts (and at least the study's feedback minimum, so that the
    feedback is not withheld), with the first simulated expert's answers as the previous
    answers of the expert previewing.
    """
    if round_number < 1:
        raise ValueError("rounds are numbered from 1")
    stored = [StoredItem(index, 1, item) for index, item in enumerate(definition.items, start=1)]
    items = [ExpertItem(item) for item in stored]
    quartiles: dict[str, dict[str, tuple[float, float]]] = {}
    if round_number > 1:
        previous = round_number - 1
        panel = simulated_panel(definition, max(panel_size, definition.feedback_min_n))
        summary = simulated_summary(definition, previous, panel)
        own = panel[0]
        coherence = simulated_coherence(definition, previous, panel)
        records = item_records(definition.items, summary, {})
        reasons = {}
        for item in definition.items:
            strata = memory_strata(
                item,
                records[item.key]["rows"],
                (
                    (answers[item.key].answer, answers[item.key].rationale, None)
                    for answers in panel
                    if item.key in answers
                ),
            )
            records[item.key]["reasons"] = [len(strata[index]) for index in STRATA]
            reasons[item.key] = memory_reason_page(
                strata, seed=selection_seed(PREVIEW_PSEUDONYM, round_number, item.key)
            )
        items = [
            ExpertItem(
                item,
                feedback=item_feedback(
                    item,
                    previous,
                    records[item.definition.key],
                    own.get(item.definition.key),
                    definition.feedback_min_n,
                    reasons[item.definition.key],
                )
                if item.definition.numeric
                else None,
                coherence=coherence.get(item.definition.key),
                coherence_round=previous,
            )
            for item in stored
        ]
        quartiles = quartiles_of(summary["rows"], definition.feedback_min_n)
    round_ = PreviewRound(round_number)
    return ExpertPage(
        definition,
        PREVIEW_PSEUDONYM,
        language,
        round_,
        round_,
        items,
        rules=AnswerRules(
            cannot_judge=definition.cannot_judge,
            rationale_outside_iqr=definition.rationale_outside_iqr,
            previous_quartiles=quartiles,
        ),
    )


def simulated_panel(definition: StudyDefinition, size: int) -> list[dict[str, SimulatedAnswer]]:
    """``size`` simulated experts' answers to ``definition``, by item key, checked as a
    real submission is (:func:`surveys.answers.parse_answers`).  An item whose simulated
    answer the checks refuse is left unanswered by that expert."""
    rng = random.Random(SEED)  # noqa: S311 - simulated answers, not a secret
    panel = []
    for _ in range(size):
        typed = simulated_answers(rng, definition)
        answers: dict[str, SimulatedAnswer] = {}
        for item in definition.items:
            try:
                parsed = parse_answers([item], typed)
            except InvalidAnswers:
                continue
            if item.key in parsed.answers:
                answers[item.key] = SimulatedAnswer(
                    parsed.answers[item.key], parsed.rationales.get(item.key)
                )
        panel.append(answers)
    return panel


def _simulated_frame(number: int, panel: list[dict[str, SimulatedAnswer]]) -> Any:
    """The tidy answers of ``panel`` in round ``number``; the first simulated expert is
    ``P-SIM000``."""
    return answers_frame(
        [
            (f"P-SIM{index:03d}", "", number, key, component, value)
            for index, answers in enumerate(panel)
            for key, simulated in answers.items()
            for component, value in answer_values(simulated.answer)
        ]
    )


def simulated_coherence(
    definition: StudyDefinition, number: int, panel: list[dict[str, SimulatedAnswer]]
) -> dict[str, dict[str, Any]]:
    """The first simulated expert's own coherence record on each cross-impact item, as
    closing round ``number`` would store it (:func:`surveys.cross_impact.close_cross_impact`),
    by item key: what the previewing expert's private block shows."""
    if not cross_impact_items(definition):
        return {}
    closed = close_cross_impact(
        _simulated_frame(number, panel),
        definition,
        number=number,
        quantile_method=definition.quantile_method,
    )
    return {key: record for pseudonym, key, record in closed.coherence() if pseudonym == "P-SIM000"}


def simulated_summary(
    definition: StudyDefinition, number: int, panel: list[dict[str, SimulatedAnswer]]
) -> dict[str, Any]:
    """The summary closing round ``number`` would store had ``panel`` answered it, as
    :func:`surveys.rounds.round_statistics` computes it, in memory."""
    comments = comments_of(
        sorted(
            (
                (key, simulated.answer, simulated.rationale, None)
                for answers in panel
                for key, simulated in answers.items()
            ),
            key=lambda row: (row[0], row[2] or ""),
        )
    )
    return {
        "respondents": len(panel),
        **frame_summary(
            _simulated_frame(number, panel),
            definition,
            number=number,
            quantile_method=definition.quantile_method,
            min_group_size=definition.feedback_min_n,
        ),
        **comments,
    }


__all__ = [
    "PANEL_SIZE",
    "PREVIEW_PSEUDONYM",
    "PreviewRound",
    "SimulatedAnswer",
    "preview_page",
    "simulated_coherence",
    "simulated_panel",
    "simulated_summary",
]
