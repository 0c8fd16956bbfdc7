"""The small copy of a round summary that pages read without the panel's answers.

A round's stored summary (``RoundSummary.statistics``) holds, besides a row per item and
component, every distribution's sorted answers and, in studies with seed questions and
signposts, a row per expert: tens of megabytes of JSON at 100,000 panelists.  The
column is JSON text, so the database parses the whole document for every part a query
takes out of it (PostgreSQL's ``->`` on ``json``, SQLite's ``json_extract``): the study
page, which took a dozen parts of each summary, took 10 s at 100,000 panelists.

So each close also stores ``RoundSummary.glance``: the parts pages read at a glance,
whose size depends on the items, not on the panel (:func:`summary_glance`):

- ``rows``, the statistics per item and component (the stopping recommendation);
- ``classical_model`` without its expert list but for the :data:`STORED_EXPERTS`
  heaviest experts, with the number of experts who weigh more than 0;
- ``signposts`` without the experts' own likelihoods (``individual``): the pooled
  matrix, likelihood ratios and ranking;
- ``cross_impact``, whole (a few numbers per trigger and scenario).

:func:`summary_parts` reads parts from the glance, or, for a summary stored before
glances existed, from the statistics as before (one expression per part).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.models import Round, RoundStatus, RoundSummary

#: The heaviest experts of the classical model a glance keeps: as many as the results
#: page lists (:data:`surveys.calibration.LISTED_EXPERTS`).
STORED_EXPERTS = 25


def summary_glance(statistics: dict[str, Any]) -> dict[str, Any]:
    """The glance of a summary's ``statistics`` (see the module)."""
    glance: dict[str, Any] = {"rows": statistics.get("rows", [])}
    model = statistics.get("classical_model")
    if model is not None:
        experts = model.get("experts", [])
        glance["classical_model"] = {
            **{key: value for key, value in model.items() if key != "experts"},
            "experts": experts[:STORED_EXPERTS],
            "weighted_experts": sum(1 for row in experts if (row.get("weight") or 0) > 0),
        }
    signposts = statistics.get("signposts")
    if signposts is not None:
        glance["signposts"] = {
            key: value for key, value in signposts.items() if key != "individual"
        }
    if "cross_impact" in statistics:
        glance["cross_impact"] = statistics["cross_impact"]
    return glance


def summary_parts(
    session: Session, study_id: int, keys: tuple[str, ...], *, closed: bool = False
) -> list[tuple[int, dict[str, Any]]]:
    """``(round number, {key: part or None})`` of each of the study's summaries, newest
    first (of closed rounds only when ``closed``), each part from the summary's glance,
    or taken out of its statistics by the database for a summary stored before glances
    (parts a glance trims, as the classical model's experts, are then whole)."""
    query = (
        select(Round.number, RoundSummary.id, RoundSummary.glance)
        .join(RoundSummary.round)
        .where(Round.study_id == study_id)
        .order_by(Round.number.desc())
    )
    if closed:
        query = query.where(Round.status == RoundStatus.CLOSED)
    found = session.execute(query).all()
    older = [summary_id for _, summary_id, glance in found if glance is None]
    parts: dict[int, dict[str, Any]] = {}
    if older:
        for summary_id, *values in session.execute(
            select(RoundSummary.id, *(RoundSummary.statistics[key] for key in keys)).where(
                RoundSummary.id.in_(older)
            )
        ):
            parts[summary_id] = dict(zip(keys, values, strict=True))
    return [
        (
            number,
            {key: glance.get(key) for key in keys} if glance is not None else parts[summary_id],
        )
        for number, summary_id, glance in found
    ]
