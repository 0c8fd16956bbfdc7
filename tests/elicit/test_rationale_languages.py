"""A rationale written in another language than the reader's says so (issue 13, point 10).

Each response records the language of the page it was submitted from; the close keeps
each rationale's language beside its text; the next round's feedback sets ``lang`` on
every rationale whose language is known and marks those in another language than the
page's; the responses export carries the language.
"""

from __future__ import annotations

import re

from elicit.extensions import db
from surveys.exports import export_tables
from surveys.models import FeedbackReason, ItemFeedback, Panelist, Response
from surveys.rounds import close_round, open_round
from surveys.studies import get_study
from tests.conftest import enter

RATIONALE = re.compile(
    r'<li><span class="rationale-text"(?: lang="(?P<lang>[a-z]+)")?>(?P<text>[^<]*)</span>'
    r'(?: <span class="language-mark">(?P<mark>[^<]*)</span>)?</li>'
)


def _rationales(html: str) -> dict[str, tuple[str | None, str | None]]:
    """Each rationale of a feedback page: its text → (its ``lang``, its mark)."""
    return {match["text"]: (match["lang"], match["mark"]) for match in RATIONALE.finditer(html)}


def _two_rounds(make_study, make_panel, post_answers):
    """Round 1 answered by four panelists (preferred languages en, es, en, es), closed;
    round 2 open.  Panelist 2 (English) answered on the Spanish page; panelist 3's
    response is stored as before languages were recorded."""
    study = make_study()
    links = make_panel(study, 4)
    open_round(db.session, study)
    reasons = ["Written in English.", "Escrito en español.", "Escrito en la página.", "Old row."]
    languages = [None, None, "es", None]
    for link, reason, lang in zip(links, reasons, languages, strict=True):
        answers = {"trust_now": "3", "rationale.trust_now": reason}
        assert post_answers(link.token, answers, lang=lang).status_code == 302
    old = db.session.execute(
        db.select(Response).join(Response.panelist).where(Panelist.pseudonym == links[3].pseudonym)
    ).scalar_one()
    old.language = None
    db.session.commit()
    close_round(db.session, study)
    open_round(db.session, study)
    return study, links


def test_each_response_records_the_language_of_its_page(
    client, make_study, make_panel, post_answers
):
    _, links = _two_rounds(make_study, make_panel, post_answers)
    stored = dict(
        db.session.execute(
            db.select(Panelist.pseudonym, Response.language).join(Response.panelist)
        ).all()
    )
    assert stored == {
        links[0].pseudonym: "en",
        links[1].pseudonym: "es",
        links[2].pseudonym: "es",  # an English panelist who chose the Spanish page
        links[3].pseudonym: None,
    }


def test_rationales_in_another_language_are_marked_for_an_english_reader(
    client, make_study, make_panel, post_answers
):
    _, links = _two_rounds(make_study, make_panel, post_answers)
    enter(client, links[0].token, lang="en")
    shown = _rationales(client.get("/e/").text)
    assert shown == {
        "Written in English.": ("en", None),
        "Escrito en español.": ("es", "(in Spanish)"),
        "Escrito en la página.": ("es", "(in Spanish)"),
        # Stored without a language: its panelist's preferred one (Spanish) stands in.
        "Old row.": ("es", "(in Spanish)"),
    }


def test_rationales_in_another_language_are_marked_for_a_spanish_reader(
    client, make_study, make_panel, post_answers
):
    _, links = _two_rounds(make_study, make_panel, post_answers)
    enter(client, links[1].token, lang="es")
    page = client.get("/e/").text
    assert '<html lang="es"' in page
    shown = _rationales(page)
    assert shown["Written in English."][0] == "en"
    assert shown["Written in English."][1] not in (None, "(in Spanish)")
    assert shown["Escrito en español."] == ("es", None)
    assert shown["Escrito en la página."] == ("es", None)


def test_a_round_closed_before_feedback_records_gets_them_from_its_answers(
    client, make_study, make_panel, post_answers
):
    """Pages read the feedback records written at close, not the summary; a round
    closed before they existed gets them, languages included, on the first page."""
    study, links = _two_rounds(make_study, make_panel, post_answers)
    summary = study.rounds[0].summary
    assert summary is not None
    # Sorted by text, as the close stores them; "Old row." in its panelist's language.
    assert summary.statistics["rationale_languages"]["trust_now"] == ["es", "es", "es", "en"]
    db.session.execute(db.delete(FeedbackReason))
    db.session.execute(db.delete(ItemFeedback))
    db.session.commit()
    enter(client, links[0].token, lang="en")
    shown = _rationales(client.get("/e/").text)
    assert shown == {
        "Written in English.": ("en", None),
        "Escrito en español.": ("es", "(in Spanish)"),
        "Escrito en la página.": ("es", "(in Spanish)"),
        "Old row.": ("es", "(in Spanish)"),
    }
    stored = db.session.execute(db.select(db.func.count()).select_from(FeedbackReason))
    assert stored.scalar_one() == 4


def test_the_responses_export_carries_each_answers_language(
    client, make_study, make_panel, post_answers
):
    study, links = _two_rounds(make_study, make_panel, post_answers)
    responses = export_tables(db.session, get_study(db.session, study.slug)).responses
    assert list(responses.columns).index("rationale_language") == (
        list(responses.columns).index("rationale") + 1
    )
    languages = dict(zip(responses["pseudonym"], responses["rationale_language"], strict=True))
    assert languages == {
        links[0].pseudonym: "en",
        links[1].pseudonym: "es",
        links[2].pseudonym: "es",
        links[3].pseudonym: "es",  # no language stored: the panelist's preferred one
    }
