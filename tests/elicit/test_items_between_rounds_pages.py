"""The console pages that change items between rounds, through forms: tagging the last
round's open-text answers into groups, an item made from a group and placed where the
facilitator chooses, a rewording beside the wording now, a retirement with a reason;
every problem on its field and everything typed kept."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest
from werkzeug.datastructures import MultiDict

from elicit.extensions import db
from surveys.curation import answer_reference
from surveys.models import AnswerTag, Item
from surveys.protocol import amendments
from surveys.rounds import close_round, open_round
from surveys.studies import active_items
from tests.conftest import log_in

SLUG = "us-mexico-intelligence"
ITEMS = f"/console/studies/{SLUG}/items"
ADD = f"{ITEMS}/add"
ANSWERS = ["Cyberattacks on ports.", "Drones at the border.", "Port security.", "Remittances."]


class FormReader(HTMLParser):
    """What a browser would post from the page's form whose action is ``action``: every
    enabled control with a name (ticked boxes only, each select's chosen option)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.data = MultiDict()
        self.textarea: str | None = None
        self.select: str | None = None
        self.first_option: str | None = None
        self.chosen = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.inside = attributes.get("action") == self.action
        if not self.inside or "disabled" in attributes:
            return
        name = attributes.get("name")
        if tag == "input" and name and attributes.get("type") not in ("submit", "button"):
            if attributes.get("type") in ("checkbox", "radio") and "checked" not in attributes:
                return
            self.data.add(name, attributes.get("value", ""))
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""
        elif tag == "select" and name:
            self.select, self.first_option, self.chosen = name, None, False
        elif tag == "option" and self.select:
            value = attributes.get("value", "")
            if self.first_option is None:
                self.first_option = value
            if "selected" in attributes:
                self.data.add(self.select, value)
                self.chosen = True

    def handle_data(self, data):
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self.textarea is not None:
            text = unescape(self.text).replace("\r\n", "\n")
            self.data.add(self.textarea, text.removeprefix("\n"))
            self.textarea = None
        elif tag == "select" and self.select:
            if not self.chosen and self.first_option is not None:
                self.data.add(self.select, self.first_option)
            self.select = None
        elif tag == "form":
            self.inside = False


def form_of(html: str, action: str) -> MultiDict:
    """The data a browser would post from the form of ``action`` in ``html``."""
    reader = FormReader(action)
    reader.feed(html)
    assert reader.data, f"no form posts to {action}"
    return reader.data


def press(client, url: str, html: str, button: str | None, **changes: str):
    """Post the form of ``url`` as shown in ``html``, with ``changes`` typed and the
    button ``button`` (its ``action`` value) pressed."""
    data = form_of(html, url)
    for name, value in changes.items():
        data.setlist(name, [value])
    if button is not None:
        data["action"] = button
    return client.post(url, data=data)


def tag_field(item: str, text: str) -> str:
    """The name of the tag field of an answer."""
    return f"tag-{item}-{answer_reference(text)}"


def error_of(html: str, field_id: str) -> list[str]:
    """The problems written under a field."""
    return [
        unescape(message)
        for message in re.findall(rf'id="{re.escape(field_id)}-error">([^<]*)<', html)
    ]


@pytest.fixture
def study(make_study, make_user, make_panel, post_answers):
    """The demo after round 1 (so the protocol is stamped), whose open question got
    four answers, with the lead facilitator."""
    study = make_study()
    make_user("lead@example.org", studies=[study])
    links = make_panel(study, len(ANSWERS))
    open_round(db.session, study)
    for link, text in zip(links, ANSWERS, strict=True):
        assert post_answers(link.token, {"missing_factors": text, "trust_now": "4"})
    close_round(db.session, study)
    return study


@pytest.fixture
def console(client, study):
    """The lead facilitator's console session."""
    assert log_in(client, "lead@example.org").status_code == 302
    return client


def order(study) -> list[str]:
    """The active items' keys in the experts' order."""
    db.session.expire_all()
    return [stored.definition.key for stored in active_items(study)]


def test_answers_are_tagged_into_a_group_that_starts_an_item_placed_after_a_chosen_one(
    console, study
):
    page = console.get(ADD)
    assert page.status_code == 200
    listed = page.text[page.text.index('id="answers-missing_factors"') :]
    assert [text in listed for text in ANSWERS] == [True] * 4
    assert "Expert Number" not in page.text and "expert.number" not in page.text
    # Two answers tagged into one group (spelled two ways), one into another.
    saved = press(
        console,
        ADD,
        page.text,
        "tags",
        **{
            tag_field("missing_factors", ANSWERS[0]): "Ports",
            tag_field("missing_factors", ANSWERS[2]): " ports ",
            tag_field("missing_factors", ANSWERS[1]): "Borders",
        },
    )
    assert saved.status_code == 200
    groups = saved.text[saved.text.index('id="groups-title"') :]
    assert re.findall(r"<h4>([^<]*) <", groups) == ["Borders", "Ports"]
    assert db.session.query(AnswerTag).count() == 3

    made = press(console, ADD, saved.text, "group:Ports")
    assert made.status_code == 200
    assert form_of(made.text, ADD)["text_en"] == "Ports"
    note = form_of(made.text, ADD)["note"]
    assert "Ports" in note and "round 1" in note and "2 answers" in note
    # Written in both languages, placed after a chosen item of its section.
    added = press(
        console,
        ADD,
        made.text,
        "save",
        text_en="A cartel attack on a port's systems?",
        text_es="¿Un ataque de un cártel contra los sistemas de un puerto?",
        section="triggers",
        place="after:trigger_tariffs",
    )
    assert added.status_code == 303, added.text
    keys = order(study)
    assert keys[keys.index("trigger_tariffs") + 1] == "a_cartel_attack_on_a_port_s"
    (amendment,) = amendments(db.session, study)
    assert amendment.what == "items.a_cartel_attack_on_a_port_s" and "Ports" in amendment.reason


def test_a_problem_keeps_the_tags_the_texts_and_the_place_typed(console, study):
    page = console.get(ADD)
    typed = {
        tag_field("missing_factors", ANSWERS[3]): "Money",
        "text_en": "Remittances are taxed?",
        "section": "drivers",
        "place": "after:trigger_tariffs",
        "note": "",
    }
    refused = press(console, ADD, page.text, "save", **typed)
    assert refused.status_code == 422
    shown = form_of(refused.text, ADD)
    assert {name: shown[name] for name in typed} == {
        **typed,
        tag_field("missing_factors", ANSWERS[3]): "Money",
    }
    assert "missing the 'es' text" in " ".join(error_of(refused.text, "text_es"))
    assert "trigger_tariffs is in section triggers" in " ".join(error_of(refused.text, "place"))
    assert "say why it changes" in " ".join(error_of(refused.text, "note"))
    summary = refused.text[refused.text.index('id="error-summary"') :]
    assert 'href="#text_es"' in summary and 'href="#place"' in summary
    assert "Remittances" not in order(study)
    # The tag typed was saved by the same press, so it is not lost either.
    assert [row.tag for row in db.session.query(AnswerTag)] == ["Money"]


def test_a_tag_too_long_is_refused_on_its_field_and_nothing_is_lost(console, study):
    page = console.get(ADD)
    field = tag_field("missing_factors", ANSWERS[0])
    refused = press(console, ADD, page.text, "tags", **{field: "x" * 81, "text_en": "Kept?"})
    assert refused.status_code == 422
    assert error_of(refused.text, field)
    assert form_of(refused.text, ADD)[field] == "x" * 81
    assert form_of(refused.text, ADD)["text_en"] == "Kept?"
    assert db.session.query(AnswerTag).count() == 0


def test_changing_the_kind_keeps_the_texts_typed(console, study):
    page = console.get(ADD)
    shown = press(console, ADD, page.text, "kind", kind="likert", text_en="How likely?")
    assert shown.status_code == 200
    data = form_of(shown.text, ADD)
    assert (data["shown_kind"], data["text_en"]) == ("likert", "How likely?")
    assert data["label_1_en"] == "Strongly disagree"  # a likert item's own fields
    more = press(console, ADD, shown.text, "kind", kind="scenario_set")
    more = press(console, ADD, more.text, "add_choice")
    assert form_of(more.text, ADD)["choice_count"] == "3"
    assert form_of(more.text, ADD)["text_en"] == "How likely?"


def test_the_reword_page_shows_the_wording_now_and_changes_texts_only(console, study):
    url = f"{ITEMS}/trust_now/reword"
    page = console.get(url)
    assert page.status_code == 200
    now = re.search(r'id="text_en-now">(.*?)</p>', page.text, re.S).group(1)
    assert "How much trust is there today" in unescape(now)
    assert "scale_max" not in form_of(page.text, url)  # shown, disabled: not posted
    # A forged scale in the post is not read: the item's own stays.
    changed = press(
        console,
        url,
        page.text,
        "save",
        text_en="How much trust is there at present between them?",
        label_5_es="Altísima",
        scale_max="7",
        note="plainer",
    )
    assert changed.status_code == 303, changed.text
    trust = next(item for item in study.items if item.key == "trust_now")
    db.session.refresh(trust)
    assert trust.version == 2
    assert (trust.spec["scale"]["min"], trust.spec["scale"]["max"]) == (1, 5)
    assert trust.spec["scale"]["labels"]["es"][-1] == "Altísima"
    history = console.get(ITEMS).text
    section = history[history.index('id="item-trust_now"') :]
    section = section[: section.index("</section>")]
    assert "at present between them" in section and "today between" in section
    assert "Altísima" in section


def test_a_rewording_without_its_reason_keeps_what_was_typed(console, study):
    url = f"{ITEMS}/trust_now/reword"
    page = console.get(url)
    refused = press(console, url, page.text, "save", text_en="Trust now?", note="")
    assert refused.status_code == 422
    assert form_of(refused.text, url)["text_en"] == "Trust now?"
    assert "say why it changes" in " ".join(error_of(refused.text, "note"))
    same = press(console, url, page.text, "save", note="no change")
    assert same.status_code == 409
    assert "this is the wording of version 1 already" in unescape(same.text)


def test_a_rewording_written_against_an_older_version_saves_nothing(console, study):
    """Two facilitators open the reword page of version 1; the second to save is told
    that the first's wording is now version 2 (shown above each field), and keeps what
    they typed; saving again makes theirs version 3.  Nothing is replaced unseen."""
    url = f"{ITEMS}/trust_now/reword"
    first, second = console.get(url).text, console.get(url).text
    saved = press(console, url, first, "save", text_en="How much trust is there now?", note="a")
    assert saved.status_code == 303, saved.text
    refused = press(console, url, second, "save", text_en="Trust today, in a word?", note="b")
    assert refused.status_code == 409
    shown = unescape(refused.text)
    assert (
        "Nothing was saved: trust_now was reworded meanwhile and is now at version 2. Its "
        "wording now is shown above each field, and what you typed is kept: save again to "
        "make yours version 3." in shown
    )
    now = re.search(r'id="text_en-now">(.*?)</p>', refused.text, re.S).group(1)
    assert "How much trust is there now?" in unescape(now)
    assert form_of(refused.text, url)["text_en"] == "Trust today, in a word?"
    trust = next(item for item in study.items if item.key == "trust_now")
    db.session.refresh(trust)
    assert (trust.version, trust.spec["text"]["en"]) == (2, "How much trust is there now?")
    again = press(console, url, refused.text, "save", note="b, having read a")
    assert again.status_code == 303, again.text
    db.session.refresh(trust)
    assert (trust.version, trust.spec["text"]["en"]) == (3, "Trust today, in a word?")


def test_retiring_keeps_a_refused_reason_and_the_items_page_shows_consensus(console, study):
    items = console.get(ITEMS)
    assert items.status_code == 200
    assert "Reached consensus in round 1 and still asked: trust_now" in unescape(items.text)
    row = re.search(r'<a href="#item-trust_now">.*?</tr>', items.text, re.S).group(0)
    assert 'class="at-consensus">consensus<' in row
    url = f"{ITEMS}/trust_now/retire"
    too_long = press(console, url, items.text, None, reason="r" * 501)
    assert too_long.status_code == 422
    assert error_of(too_long.text, "reason-trust_now")
    assert 'value="' + "r" * 501 + '"' in too_long.text
    retired = press(console, url, items.text, None, reason="reached consensus in round 1")
    assert retired.status_code == 303
    assert db.session.query(Item).filter_by(key="trust_now").one().retired_reason == (
        "reached consensus in round 1"
    )
    reasons = [amendment.reason for amendment in amendments(db.session, study)]
    assert reasons == ["reached consensus in round 1"]
