"""The console's pre-registration: the stamp on the study page and as a file, reasons on
the settings page, rules fixed while a round is open, items at consensus at the close,
and the amendments in the report."""

from __future__ import annotations

import hashlib
import re
from html import unescape

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.definition import parse_definition
from surveys.models import Amendment, User
from surveys.protocol import amendments, protocol_stamp
from surveys.rounds import close_round, open_round
from surveys.settings import consensus_text, update_settings
from surveys.studies import find_study
from tests.conftest import NEW_ITEM, csrf_token, log_in, round_form

SLUG = "us-mexico-intelligence"
SETTINGS = f"/console/studies/{SLUG}/settings"
CLOSE = f"/console/studies/{SLUG}/rounds/close"
DEMO_SETTINGS = {
    "quantile_method": "linear",
    "feedback_min_n": "3",
    "rationale_outside_iqr": "optional",
    "max_rounds": "3",
    "cannot_judge": "y",
    "anonymity": "standard",
    "consensus_items": "stay",
    "carry_over": "previous",
}
"""The demo's settings as the settings form posts them, but its consensus rule."""
TRUST_NOW = "How much trust is there today between the two governments' security leaders?"


@pytest.fixture
def study(make_study, make_user):
    """The demo study with a member facilitator and researcher, not started."""
    study = make_study()
    make_user("lead@example.org", studies=[study])
    make_user("analyst@example.org", role="researcher", studies=[study])
    return study


def text_of(html: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (to its first closing tag of that name)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element #{element_id}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(2))).split())


def post_settings(client, study, reason=None, **changes):
    """Post the settings form with the demo's values, ``changes`` and ``reason``."""
    page = client.get(SETTINGS)
    data = {
        "csrf_token": csrf_token(page.text),
        **DEMO_SETTINGS,
        "consensus": consensus_text(study),
        **changes,
    }
    if reason is not None:
        data["reason"] = reason
    return client.post(SETTINGS, data=data)


def test_the_study_page_shows_the_stamp_and_serves_the_stamped_file(client, study):
    log_in(client, "lead@example.org")
    before = client.get(f"/console/studies/{SLUG}")
    assert "Not stamped yet" in text_of(before.text, "protocol-unstamped")
    assert client.get(f"/console/studies/{SLUG}/protocol.toml").status_code == 404
    page = client.get(f"/console/studies/{SLUG}")
    opened = client.post(
        f"/console/studies/{SLUG}/rounds/open",
        data={"csrf_token": csrf_token(page.text), "round": "1"},
    )
    assert opened.status_code == 303
    stamp = protocol_stamp(db.session, study)
    assert stamp is not None
    page = client.get(f"/console/studies/{SLUG}")
    shown = text_of(page.text, "protocol-stamp")
    assert "by lead@example.org" in shown
    assert f"{stamp.sha256[:12]}…" in shown
    assert f'title="{stamp.sha256}"' in page.text
    assert text_of(page.text, "protocol-sha256") == stamp.sha256
    assert "No amendment" in text_of(page.text, "no-amendments")
    log_in(client, "analyst@example.org")  # researchers read it too
    download = client.get(f"/console/studies/{SLUG}/protocol.toml")
    assert download.status_code == 200
    assert download.mimetype == "application/toml"
    assert f"{SLUG}-protocol-{stamp.sha256[:12]}.toml" in download.headers["Content-Disposition"]
    assert hashlib.sha256(download.data).hexdigest() == stamp.sha256


def test_items_at_consensus_set_in_the_settings_travel_in_every_definition_file(client, study):
    """The setting chosen in the settings form is in the builder's definition file,
    which loads back with it as a new study and into a draft through the builder's
    import, and in the stamped file of round 1."""
    log_in(client, "lead@example.org")
    assert post_settings(client, study, consensus_items="ask").status_code == 303
    written = client.get(f"/console/studies/{SLUG}/build/definition.toml")
    assert written.status_code == 200
    assert parse_definition(written.text).consensus_items == "ask"
    copy = written.text.replace(f'slug = "{SLUG}"', 'slug = "copy-of-demo"', 1)
    page = client.get("/console/studies/new")
    created = client.post(
        "/console/studies/new",
        data={"csrf_token": csrf_token(page.text), "source": copy, "anonymity": "standard"},
    )
    assert created.status_code == 303
    assert find_study(db.session, "copy-of-demo").consensus_items == "ask"
    import_url = "/console/studies/copy-of-demo/build/import"
    leave = copy.replace('consensus_items = "ask"', 'consensus_items = "leave"', 1)
    for source, policy in ((leave, "leave"), (copy, "ask")):
        page = client.get(import_url)
        replaced = client.post(
            import_url, data={"csrf_token": csrf_token(page.text), "source": source}
        )
        assert replaced.status_code == 303
        db.session.expire_all()
        assert find_study(db.session, "copy-of-demo").consensus_items == policy
    page = client.get(f"/console/studies/{SLUG}")
    opened = client.post(
        f"/console/studies/{SLUG}/rounds/open",
        data={"csrf_token": csrf_token(page.text), "round": "1"},
    )
    assert opened.status_code == 303
    stamped = client.get(f"/console/studies/{SLUG}/protocol.toml")
    assert stamped.text == written.text
    assert hashlib.sha256(stamped.data).hexdigest() == protocol_stamp(db.session, study).sha256


def test_after_the_stamp_the_settings_page_asks_for_a_reason(client, study):
    open_round(db.session, study)
    close_round(db.session, study)
    log_in(client, "lead@example.org")
    page = client.get(SETTINGS)
    assert "Every change is now an amendment" in text_of(page.text, "amendment-notice")
    assert 'name="reason"' in page.text
    refused = post_settings(client, study, feedback_min_n="5")
    assert refused.status_code == 422
    summary = text_of(refused.text, "error-summary")
    assert "Reason for the change: the protocol is stamped: say why it changes" in summary
    assert 'value="5"' in refused.text  # what was typed stays
    db.session.expire_all()
    assert study.feedback_min_n == 3
    assert db.session.query(Amendment).count() == 0
    saved = post_settings(client, study, reason="Only four experts answered.", feedback_min_n="4")
    assert saved.status_code == 303
    (amendment,) = amendments(db.session, study)
    assert (amendment.what, amendment.old_value, amendment.new_value) == (
        "settings.feedback_min_n",
        "3",
        "4",
    )
    assert (amendment.first_round, amendment.user_email) == (2, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}")
    row = text_of(page.text, "amendments")
    assert "settings.feedback_min_n" in row and "Only four experts answered." in row
    assert re.search(r'<td class="first-round">2</td>', page.text)
    log = text_of(page.text, "audit-log")
    assert "feedback_min_n: {'from': 3, 'to': 4}" in log
    assert "reason: Only four experts answered." in log


def test_before_the_stamp_the_settings_page_asks_no_reason(client, study):
    log_in(client, "lead@example.org")
    page = client.get(SETTINGS)
    assert 'name="reason"' not in page.text
    assert 'id="amendment-notice"' not in page.text
    assert post_settings(client, study, consensus_items="leave").status_code == 303
    db.session.expire_all()
    assert study.consensus_items == "leave"


def test_a_kept_settings_page_saves_only_what_it_changed(client, study):
    """Two facilitators open the settings; the first raises the maximum number of
    rounds.  The second, from the page kept since, changes the quantile method: it is
    saved, and the first's maximum stands (it was reverted to the kept page's value
    before).  The second then asks for another maximum: refused (409), both values
    named, nothing saved; saving again from that answer sets it."""
    log_in(client, "lead@example.org")
    first = client.get(SETTINGS).text
    kept = client.get(SETTINGS).text

    def post(page: str, **changes: str):
        shown = unescape(re.search(r'name="shown" value="([^"]*)"', page).group(1))
        data = {
            "csrf_token": csrf_token(page),
            "shown": shown,
            **DEMO_SETTINGS,
            "consensus": consensus_text(study),
            **changes,
        }
        return client.post(SETTINGS, data=data)

    assert post(first, max_rounds="4").status_code == 303
    assert post(kept, quantile_method="weibull").status_code == 303
    db.session.expire_all()
    assert (study.max_rounds, study.quantile_method) == (4, "weibull")
    clash = post(kept, max_rounds="5")
    assert clash.status_code == 409
    assert (
        "Changed meanwhile (by a colleague, or through the API) to 4; your page showed 3. "
        "Nothing was saved: choose again, and save." in unescape(clash.text)
    )
    assert 'value="5"' in clash.text  # what was typed stays
    db.session.expire_all()
    assert study.max_rounds == 4
    assert post(clash.text, max_rounds="5", quantile_method="weibull").status_code == 303
    db.session.expire_all()
    assert (study.max_rounds, study.quantile_method) == (5, "weibull")


def test_while_a_round_is_open_the_rule_cannot_change_after_the_preview(client, study):
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    assert client.get(CLOSE).status_code == 200  # the preview was seen
    # The rules change in the rule editor (the settings page links to it).
    editor = f"/console/studies/{SLUG}/rules/default"
    page = client.get(editor)
    assert "cannot change until it closes" in text_of(page.text, "rules-locked")
    stricter = {"combine": "all", "criteria-0-kind": "iqr", "criteria-0-max": "0.5"}
    refused = client.post(
        editor,
        data={"csrf_token": csrf_token(page.text), "action": "save", "reason": "looks better"}
        | stricter,
    )
    assert refused.status_code == 409
    assert "consensus rules cannot change until it closes" in text_of(refused.text, "error-summary")
    settings = client.get(SETTINGS)
    assert "cannot change while a round is open" in text_of(settings.text, "rules-locked")
    db.session.expire_all()
    assert study.consensus["default"]["criteria"] == [{"kind": "iqr", "max": 1}]
    assert db.session.query(Amendment).count() == 0


def test_after_the_stamp_adding_an_item_without_a_note_keeps_what_was_typed(client, study):
    open_round(db.session, study)
    close_round(db.session, study)
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}/items/add")
    refused = client.post(
        f"/console/studies/{SLUG}/items/add",
        data={"csrf_token": csrf_token(page.text), "item": NEW_ITEM, "note": ""},
    )
    assert refused.status_code == 422
    assert "the protocol is stamped: say why it changes" in refused.text
    assert "trigger_cyberattack" in refused.text
    assert all(item.key != "trigger_cyberattack" for item in study.items)


# -- items at consensus at the close -------------------------------------------------------


def answered(study, make_panel, post_answers, policy):
    """Round 1 open, four panelists agreeing on trust_now and not on trust_horizon."""
    update_settings(db.session, study, {"consensus_items": policy})
    open_round(db.session, study)
    for link, now, horizon in zip(make_panel(study, 4), [4, 4, 4, 5], [1, 2, 4, 5], strict=True):
        answers = {"trust_now": str(now), "trust_horizon": str(horizon)}
        assert post_answers(link.token, answers).status_code == 302


def retired(study):
    """``{key: reason}`` of the study's retired items."""
    db.session.expire_all()
    return {item.key: item.retired_reason for item in study.items if item.retired_at is not None}


def close(client, **data):
    """Confirm the close on the close page, with ``data`` (e.g. ticked items)."""
    page = client.get(CLOSE)
    return page, client.post(CLOSE, data={**round_form(page.text), **data}, follow_redirects=True)


def test_close_with_leave_lists_the_items_that_leave_and_retires_them(
    client, study, make_panel, post_answers
):
    answered(study, make_panel, post_answers, "leave")
    log_in(client, "lead@example.org")
    page, closed = close(client)
    assert text_of(page.text, "leaving") == f"trust_now : {TRUST_NOW}"
    assert 'name="retire"' not in page.text
    assert "left the next round (retired): trust_now." in closed.text
    assert retired(study) == {"trust_now": "reached consensus in round 1"}
    assert "reason: reached consensus in round 1" in text_of(closed.text, "audit-log")


def test_close_with_ask_offers_a_checkbox_per_item_and_retires_the_ticked(
    client, study, make_panel, post_answers
):
    answered(study, make_panel, post_answers, "ask")
    log_in(client, "lead@example.org")
    page, _ = close(client, retire=["trust_now", "trust_horizon"])
    assert re.findall(r'name="retire" value="(\w+)"', page.text) == ["trust_now"]
    assert '<label for="retire-trust_now">' in page.text
    assert retired(study) == {"trust_now": "reached consensus in round 1"}


def test_close_with_ask_and_nothing_ticked_keeps_every_item(
    client, study, make_panel, post_answers
):
    answered(study, make_panel, post_answers, "ask")
    log_in(client, "lead@example.org")
    close(client)
    assert retired(study) == {}


def test_close_with_stay_names_the_items_and_keeps_them(client, study, make_panel, post_answers):
    answered(study, make_panel, post_answers, "stay")
    log_in(client, "lead@example.org")
    page, closed = close(client, retire="trust_now")  # a forged tick changes nothing
    assert text_of(page.text, "staying") == f"trust_now : {TRUST_NOW}"
    assert "Round 1 is closed" in closed.text
    assert retired(study) == {}


# -- the report ----------------------------------------------------------------------------


def test_the_report_states_the_stamp_and_each_amendment_with_its_first_round(client, study):
    lead = db.session.execute(select(User).where(User.email == "lead@example.org")).scalar_one()
    open_round(db.session, study, actor=lead)
    close_round(db.session, study, actor=lead)
    update_settings(db.session, study, {"feedback_min_n": 4}, lead, reason="small panel")
    open_round(db.session, study, actor=lead)
    update_settings(db.session, study, {"anonymity": "blind"}, lead, reason="asked by an expert")
    log_in(client, "analyst@example.org")
    page = client.get(f"/console/studies/{SLUG}/report")
    assert page.status_code == 200
    stamp = protocol_stamp(db.session, study)
    assert stamp is not None
    assert text_of(page.text, "protocol-sha256") == stamp.sha256
    rows = re.findall(
        r'<tr data-what="([\w.]+)">.*?<td class="first-round">(\d+)</td>'
        r'<td class="reason">([^<]*)</td>',
        page.text,
        re.S,
    )
    assert rows == [
        ("settings.feedback_min_n", "2", "small panel"),
        ("settings.anonymity", "2", "asked by an expert"),
    ]
    assert "lead@example.org" not in page.text
