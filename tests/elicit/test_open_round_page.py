"""Opening a round from the console goes through a confirmation that says what will
happen (issue 13, point 1); the CLI and the API open directly but share the domain's
refusals (no item, texts not translated)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from elicit.extensions import db
from surveys import builder
from surveys.api_tokens import create_token
from surveys.definition import ItemDefinition, LocalizedText
from surveys.demo import demo_source
from surveys.models import RoundStatus, utcnow
from surveys.rounds import NotTheNextRound, close_round, latest_round, open_round
from tests.conftest import csrf_token, enter, log_in, round_form

SLUG = "us-mexico-intelligence"
STUDY = f"/console/studies/{SLUG}"
OPEN = f"{STUDY}/rounds/open"
NEXT_YEAR = utcnow().year + 1
LEAVING = demo_source().replace(
    'slug = "us-mexico-intelligence"', 'slug = "us-mexico-intelligence"\nconsensus_items = "leave"'
)


class _ElementText(HTMLParser):
    """Collects the text inside the element with a given id, nested elements included."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0
        self.found = False
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag not in VOID_ELEMENTS
        elif ("id", self.element_id) in attrs:
            self.depth, self.found = 1, True

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


VOID_ELEMENTS = {"br", "hr", "img", "input", "link", "meta", "source", "wbr"}


def text_of(page: str, element_id: str) -> str:
    """The text inside the element with ``element_id``, spaces collapsed."""
    parser = _ElementText(element_id)
    parser.feed(page)
    assert parser.found, f"no element #{element_id}"
    return " ".join("".join(parser.parts).split())


@pytest.fixture
def study(make_study, make_user):
    """The demo study, not started, with its facilitator."""
    created = make_study()
    make_user("lead@example.org", studies=[created])
    return created


def test_the_study_page_asks_first_and_the_confirmation_says_what_will_happen(
    client, study, make_panel
):
    make_panel(study, 5, groups=("academic", "official"))
    log_in(client, "lead@example.org")
    page = client.get(STUDY).text
    # The study page's button only leads to the confirmation (a GET, no token in it).
    form = re.search(
        r'<form method="get" action="([^"]+)"[^>]*id="open-round">(.*?)</form>', page, re.S
    )
    assert form and form.group(1) == OPEN
    assert "Open round 1…" in form.group(2) and "csrf_token" not in form.group(2)
    confirmation = client.get(OPEN)
    assert confirmation.status_code == 200
    assert latest_round(db.session, study) is None  # shown, not opened
    shown = confirmation.text
    assert "Open round 1?" in shown
    assert text_of(shown, "plan-panel").startswith("5 panelists with a working link: academic: 3")
    assert "Groups of fewer than 3, together: 2" in text_of(shown, "plan-panel")
    assert "official" not in text_of(shown, "plan-panel")  # too small to name
    assert "None: the round stays open until you close it." in text_of(shown, "plan-deadline")
    items = re.findall(r'<li data-item="([a-z0-9_]+)">', shown.split('id="plan-items"')[1])
    assert items[:2] == ["trust_now", "trust_horizon"] and len(items) == len(study.items)
    assert "trust_now How much trust is there today" in text_of(shown, "plan-items")
    assert 'id="plan-left"' not in shown  # nothing has left yet
    assert "Opening round 1 fixes the items" in shown
    assert 'id="stop-recommended"' not in shown and "acknowledge_stop" not in shown
    opened = client.post(OPEN, data=round_form(shown))
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith(STUDY)
    assert latest_round(db.session, study).status == RoundStatus.OPEN
    assert "Round 1 is open." in client.get(STUDY).text


def test_the_deadline_chosen_on_the_study_page_is_stated_and_kept(client, study):
    log_in(client, "lead@example.org")
    shown = client.get(OPEN, query_string={"deadline": f"{NEXT_YEAR}-01-31T18:00"}).text
    assert f"Jan 31, {NEXT_YEAR}" in text_of(shown, "plan-deadline")
    assert "6:00:00" in text_of(shown, "plan-deadline") and "UTC" in text_of(shown, "plan-deadline")
    assert f'type="hidden" value="{NEXT_YEAR}-01-31T18:00"' in shown
    opened = client.post(OPEN, data={**round_form(shown), "deadline": f"{NEXT_YEAR}-01-31T18:00"})
    assert opened.status_code == 303
    db.session.expire_all()
    assert latest_round(db.session, study).deadline.isoformat() == (
        f"{NEXT_YEAR}-01-31T18:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("deadline", "message"),
    [
        ("2001-01-01T00:00", "The deadline must lie in the future."),
        ("9999-12-31T23:59", "The deadline must be at most 5 years ahead."),
        ("not a date", "Not a valid datetime value."),
    ],
)
def test_a_deadline_that_cannot_be_used_is_named_on_its_field(client, study, deadline, message):
    log_in(client, "lead@example.org")
    shown = client.get(OPEN, query_string={"deadline": deadline})
    assert shown.status_code == 422
    assert 'id="error-summary"' in shown.text
    assert f'<p class="field-error" id="deadline-error">{message}</p>' in shown.text
    # The field is shown to correct, with what was typed in it.
    assert f'type="datetime-local" value="{deadline}"' in html.unescape(shown.text)
    refused = client.post(OPEN, data={**round_form(shown.text), "deadline": deadline})
    assert refused.status_code == 422
    assert message in refused.text
    assert latest_round(db.session, study) is None


def stopped_after_round_one(study, make_panel, post_answers):
    """Round 1 closed with its only answered item at consensus: the rule says stop."""
    links = make_panel(study, 4)
    open_round(db.session, study)
    for link, value in zip(links, (4, 4, 4, 5), strict=True):
        post_answers(link.token, {"trust_now": str(value)})
    close_round(db.session, study)


def test_against_a_recommendation_to_stop_the_round_opens_only_when_acknowledged(
    client, make_study, make_user, make_panel, post_answers
):
    study = make_study(LEAVING)
    make_user("lead@example.org", studies=[study])
    stopped_after_round_one(study, make_panel, post_answers)
    log_in(client, "lead@example.org")
    shown = client.get(OPEN).text
    warning = text_of(shown, "stop-recommended")
    assert "The stopping rule recommends stopping the study" in warning
    assert "At the close of round 1:" in warning
    # What left: trust_now reached consensus at the close and left ("leave").
    assert 'data-item="trust_now"' in shown.split('id="plan-left"')[1]
    assert "Reached consensus in round 1 and left." in text_of(shown, "plan-left")
    assert 'data-item="trust_now"' not in shown.split('id="plan-items"')[1].split("</ol>")[0]
    label = re.search(r'<label for="acknowledge_stop">(.*?)</label>', shown, re.S)
    assert label and "I open round 2 anyway" in label.group(1)
    assert "recommends stopping" in label.group(1)
    form = round_form(shown)
    refused = client.post(OPEN, data=form)
    assert refused.status_code == 422
    assert "tick this box to open round 2 anyway" in refused.text
    assert 'href="#acknowledge_stop"' in refused.text
    assert latest_round(db.session, study).number == 1
    opened = client.post(OPEN, data={**form, "acknowledge_stop": "y"})
    assert opened.status_code == 303
    db.session.expire_all()
    assert (latest_round(db.session, study).number, latest_round(db.session, study).status) == (
        2,
        RoundStatus.OPEN,
    )


def test_without_a_recommendation_to_stop_nothing_needs_ticking(
    client, study, make_panel, post_answers
):
    links = make_panel(study, 4)
    open_round(db.session, study)
    for link, value in zip(links, (1, 2, 4, 5), strict=True):
        post_answers(link.token, {"trust_now": str(value)})  # IQR 2.5 > 1: continue
    close_round(db.session, study)
    log_in(client, "lead@example.org")
    shown = client.get(OPEN).text
    assert 'id="stop-recommended"' not in shown
    assert client.post(OPEN, data=round_form(shown)).status_code == 303
    assert latest_round(db.session, study).number == 2


@pytest.fixture
def untranslated(app, make_user):
    """A bilingual draft whose one item and section title are written in English only."""
    draft = builder.create_study(
        db.session, slug="water", languages=["en", "es"], anonymity="standard", title="Water"
    )
    builder.update_texts(db.session, draft, title={"en": "Water", "es": "Agua"}, introduction={})
    builder.add_section(db.session, draft, {"en": "Weather"})
    text = LocalizedText((("en", "Will it rain?"),))
    builder.add_item(db.session, draft, ItemDefinition(key="rain", kind="probability", text=text))
    user = make_user("lead@example.org", studies=[draft])
    return draft, user


def test_missing_translations_are_listed_with_links_and_opening_is_refused(client, untranslated):
    draft, _ = untranslated
    log_in(client, "lead@example.org")
    shown = client.get("/console/studies/water/rounds/open")
    assert shown.status_code == 200
    assert "Round 1 cannot open" in shown.text
    missing = text_of(shown.text, "missing-translations")
    assert "2 texts are not translated yet" in missing
    assert "Section weather: Spanish missing" in missing
    assert "Item rain (question): Spanish missing" in missing
    assert 'href="/console/studies/water/build/items/rain"' in shown.text
    assert "Open round 1</button>" not in shown.text  # no way to open from here
    refused = client.post(
        "/console/studies/water/rounds/open",
        data={"csrf_token": csrf_token(shown.text), "round": "1"},  # no form: forced
        follow_redirects=True,
    )
    assert "The round could not be opened: texts not translated yet: section weather (title) " in (
        html.unescape(refused.text)
    )
    assert latest_round(db.session, draft) is None


def test_a_study_without_items_says_so(client, app, make_user):
    draft = builder.create_study(
        db.session, slug="empty", languages=["en"], anonymity="standard", title="Empty"
    )
    make_user("lead@example.org", studies=[draft])
    log_in(client, "lead@example.org")
    shown = client.get("/console/studies/empty/rounds/open").text
    assert "The study has no item: there is nothing to ask." in text_of(shown, "no-items")
    assert 'href="/console/studies/empty/build"' in shown


def test_the_cli_and_the_api_get_the_same_refusal(app, client, untranslated):
    draft, user = untranslated
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["round", "open", "water"])
    assert refused.exit_code == 1
    assert "error: texts not translated yet: section weather (title) in es; item rain" in (
        refused.output
    )
    secret = create_token(db.session, user, "notebook", "write").secret
    answer = client.post(
        "/api/v1/studies/water/rounds", json={}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 409
    assert answer.json["detail"].startswith("Texts not translated yet: section weather (title)")
    assert latest_round(db.session, draft) is None


def test_only_the_study_facilitators_open_rounds(client, study, make_user, make_panel):
    make_user("analyst@example.org", role="researcher", studies=[study])
    make_user("rival@example.org")
    (link,) = make_panel(study, 1)
    # An expert's session (their personal link, with its own CSRF token) is no console
    # session: sent to the login, round 2 not opened.
    open_round(db.session, study)
    enter(client, link.token)
    expert_token = csrf_token(client.get("/e/").text)
    close_round(db.session, study)
    assert client.get(OPEN).status_code == 302
    assert client.post(OPEN, data={"csrf_token": expert_token}).status_code == 302
    # A researcher of the study reads it but is offered no button and refused.
    log_in(client, "analyst@example.org")
    assert client.get(OPEN).status_code == 403
    page = client.get(STUDY).text
    assert 'id="open-round"' not in page
    assert client.post(OPEN, data={"csrf_token": csrf_token(page)}).status_code == 403
    # A facilitator of other studies does not even learn that it exists.
    log_in(client, "rival@example.org")
    assert client.get(OPEN).status_code == 404
    rounds = latest_round(db.session, study)
    assert (rounds.number, rounds.status) == (1, RoundStatus.CLOSED)
    # The study's own facilitator is offered the button.
    log_in(client, "lead@example.org")
    assert 'id="open-round"' in client.get(STUDY).text


def test_a_confirmation_kept_while_its_round_opened_and_closed_opens_nothing(client, study):
    """Round 1's confirmation posted after a colleague opened and closed round 1 opens
    nothing (not round 2, which nobody confirmed): the confirmation of round 2 is shown,
    with why, to be read before confirming.  A form without its round is refused."""
    log_in(client, "lead@example.org")
    kept = client.get(OPEN).text
    open_round(db.session, study)
    close_round(db.session, study)
    answer = client.post(OPEN, data=round_form(kept))
    assert answer.status_code == 409
    assert "Nothing was opened: round 1 was opened meanwhile. This page now shows round 2" in (
        html.unescape(answer.text)
    )
    assert "Open round 2?" in answer.text and round_form(answer.text)["round"] == "2"
    db.session.expire_all()
    rounds = latest_round(db.session, study)
    assert (rounds.number, rounds.status) == (1, RoundStatus.CLOSED)
    with pytest.raises(NotTheNextRound):
        open_round(db.session, study, expected=1)
    assert client.post(OPEN, data={"csrf_token": csrf_token(kept)}).status_code == 400
    assert client.post(OPEN, data=round_form(answer.text)).status_code == 303
    assert latest_round(db.session, study).number == 2


def test_opening_needs_the_csrf_token(client, study):
    log_in(client, "lead@example.org")
    assert client.post(OPEN, data={}).status_code == 400
    assert client.post(OPEN, data={"csrf_token": "forged"}).status_code == 400
    assert latest_round(db.session, study) is None


def test_while_a_round_is_open_or_after_the_last_the_confirmation_says_why_not(client, study):
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    shown = client.get(OPEN).text
    assert "Round 1 cannot open" in shown
    assert "Round 1 is still open: close it before opening the next one." in text_of(
        shown, "refusal"
    )
    assert f'href="{STUDY}/rounds/close"' in shown
    assert "Open round 1</button>" not in shown
    close_round(db.session, study)
    for _ in range(2):
        open_round(db.session, study)
        close_round(db.session, study)
    shown = client.get(OPEN).text
    assert "Round 4 cannot open" in shown
    assert "The study has held its 3 rounds, the most its protocol allows." in text_of(
        shown, "refusal"
    )
    assert "</button>" not in shown.split('id="refusal"')[1].split("</main>")[0]
