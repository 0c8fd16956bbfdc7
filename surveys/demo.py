"""The demo study: a ready-to-answer copy of the study shipped in ``definitions/``."""

from __future__ import annotations

import logging
import random
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import files

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys import tracking
from surveys.answers import submit_responses
from surveys.definition import StudyDefinition, parse_definition
from surveys.links import LinkKeys, UnreadableLink
from surveys.models import Panelist, Response, RosterEntry, Round, RoundStatus, Study, utcnow
from surveys.panel import IssuedLink, NewPanelist, add_panelists, reissue_link, stored_link
from surveys.resolutions import resolve
from surveys.rounds import close_round, latest_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import find_study, load_study, study_definition

log = logging.getLogger(__name__)

DEMO_DEFINITION = "us-mexico-intelligence.toml"
DEMO_GROUPS = ("us_official", "mx_official", "academic")
DEMO_EMAIL_DOMAIN = "demo.invalid"


@dataclass(frozen=True)
class DemoStudy:
    """The demo study's slug and one working link per demo panelist."""

    slug: str
    links: list[IssuedLink]
    #: Whether this call played the demo's simulated rounds (``simulate``).
    simulated: bool = False


def demo_source() -> str:
    """The text of the shipped demo definition."""
    return files("surveys.definitions").joinpath(DEMO_DEFINITION).read_text(encoding="utf-8")


def ensure_demo(
    session: Session, *, panelists: int, keys: LinkKeys, simulate: bool = False
) -> DemoStudy:
    """Make the demo study ready to answer, however often it is called.

    Loads the demo definition unless its slug is already loaded, tops the panel up to
    ``panelists`` demo experts (groups and languages in turn), opens round 1 if no round
    exists, and returns a working link for each demo panelist.  Demo panelists who exist
    already keep their links (read back with ``keys``); one whose link cannot be read
    (added before links were sealed, or under another key) is issued a new one.

    With ``simulate``, a study none of whose rounds has closed is first played
    (:func:`simulate_demo`): two rounds answered by the demo panel with simulated
    answers and closed, sample observations for the scenario tracker and two resolved
    triggers, and round 3 opened.
    """
    source = demo_source()
    definition = parse_definition(source, name=DEMO_DEFINITION)
    study = find_study(session, definition.slug) or load_study(session, definition, source)
    existing = _demo_panelists(session, study)
    links = [_link_of(session, panelist, keys) for panelist in existing[:panelists]]
    missing = [
        NewPanelist(
            name=f"Demo expert {number}",
            email=f"expert{number}@{DEMO_EMAIL_DOMAIN}",
            group=DEMO_GROUPS[(number - 1) % len(DEMO_GROUPS)],
            language=definition.languages[(number - 1) % len(definition.languages)],
        )
        for number in range(len(existing) + 1, panelists + 1)
    ]
    links += add_panelists(session, study, missing, keys=keys)
    played = simulate and simulate_demo(session, study)
    if latest_round(session, study) is None:
        open_round(session, study)
    return DemoStudy(study.slug, links, simulated=played)


#: The simulated panel's seed: the same demo on every machine.
SIMULATION_SEED = 20261205
#: How many rounds the simulated panel answers and closes.
SIMULATED_ROUNDS = 2
#: Every sample observation and outcome says it is made up.
FICTIONAL = "Fictional demo data"


def simulate_demo(session: Session, study: Study, *, today: date | None = None) -> bool:
    """Play the demo study as a finished Delphi and its aftermath, so that every page
    has something to show; whether it did (only a study none of whose rounds has closed,
    with round 1 open and unanswered or no round yet, is played).

    The demo panel answers :data:`SIMULATED_ROUNDS` rounds with simulated answers
    (:func:`surveys.simulation.simulated_answers`; in round 2 each expert moves their
    single-number answers halfway to the panel's round-1 median, as a Delphi panel
    tends to), each round is closed, and round 3 is opened for the demo links.  Then,
    dated before ``today`` (UTC by default) and each marked :data:`FICTIONAL`: a
    signpost looked for and not seen, a trigger that occurred and a signpost seen
    (:func:`surveys.tracking.record`), and two triggers resolved, one that occurred and
    one that did not (:func:`surveys.resolutions.resolve`), which stores the scores."""
    rounds = list(session.execute(select(Round).where(Round.study_id == study.id)).scalars())
    if any(round_.status != RoundStatus.OPEN for round_ in rounds) or len(rounds) > 1:
        return False
    if (
        rounds
        and session.execute(
            select(Response.id).where(Response.round_id == rounds[0].id).limit(1)
        ).first()
    ):
        return False
    panel = _demo_panelists(session, study)
    if not panel:
        return False
    definition = study_definition(study)
    rng = random.Random(SIMULATION_SEED)  # noqa: S311 - simulated answers, not a secret
    given = {panelist.id: simulated_answers(rng, definition) for panelist in panel}
    for number in range(1, SIMULATED_ROUNDS + 1):
        if not rounds or number > 1:
            open_round(session, study)
        if number > 1:
            given = _toward_the_median(definition, given)
        for panelist in panel:
            submit_responses(session, panelist, given[panelist.id], language=panelist.language)
        close_round(session, study)
    open_round(session, study)
    _sample_aftermath(session, study, today or utcnow().date())
    log.info(
        "demo: %d simulated rounds closed, sample observations and outcomes recorded",
        SIMULATED_ROUNDS,
    )
    return True


def _toward_the_median(
    definition: StudyDefinition, given: dict[int, dict[str, str]]
) -> dict[int, dict[str, str]]:
    """Each expert's next answers: a likert or probability answer moved halfway to the
    panel's median (rounded, as a form takes it), every other answer kept."""
    moved = {key: dict(answers) for key, answers in given.items()}
    for item in definition.items:
        if item.kind not in ("likert", "probability"):
            continue
        values = [float(answers[item.key]) for answers in given.values() if item.key in answers]
        if not values:
            continue
        median = statistics.median(values)
        for answers in moved.values():
            if item.key in answers:
                answers[item.key] = str(round((float(answers[item.key]) + median) / 2))
    return moved


def _sample_aftermath(session: Session, study: Study, today: date) -> None:
    """The demo's observations and outcomes (see :func:`simulate_demo`)."""
    found = tracking.trackable(session, study)
    signposts = [entry.key for entry in found if entry.kind == tracking.SIGNPOST]
    triggers = [entry.key for entry in found if entry.kind == tracking.TRIGGER]
    observed: list[tuple[int, str, str, bool, str]] = []
    if signposts:
        observed.append(
            (
                75,
                tracking.SIGNPOST,
                signposts[1 if len(signposts) > 1 else 0],
                False,
                f"{FICTIONAL}: looked for in three months of press reports, not found",
            )
        )
    if triggers:
        observed.append(
            (
                40,
                tracking.TRIGGER,
                triggers[0],
                True,
                f"{FICTIONAL}: announced in an official gazette",
            )
        )
    if signposts:
        observed.append(
            (
                10,
                tracking.SIGNPOST,
                signposts[0],
                True,
                f"{FICTIONAL}: reported by two national newspapers",
            )
        )
    for days, kind, key, seen, note in observed:
        tracking.record(
            session,
            study,
            kind=kind,
            item_key=key,
            observed_on=today - timedelta(days=days),
            seen=seen,
            note=note,
        )
    for key, outcome, days in zip(triggers[:2], ("yes", "no"), (40, 1), strict=False):
        resolve(
            session,
            study,
            key,
            outcome,
            today - timedelta(days=days),
            f"{FICTIONAL}: "
            + (
                "announced in an official gazette"
                if outcome == "yes"
                else "not observed by the horizon"
            ),
        )


def _link_of(session: Session, panelist: Panelist, keys: LinkKeys) -> IssuedLink:
    """A demo panelist's stored link, else a new one."""
    try:
        return stored_link(panelist, keys)
    except UnreadableLink:
        return reissue_link(session, panelist, keys=keys)


def _demo_panelists(session: Session, study: Study) -> list[Panelist]:
    """The study's demo panelists, in the order they were added."""
    return list(
        session.execute(
            select(Panelist)
            .join(Panelist.roster)
            .where(Panelist.study_id == study.id, RosterEntry.email.like(f"%@{DEMO_EMAIL_DOMAIN}"))
            .order_by(Panelist.id)
        ).scalars()
    )
