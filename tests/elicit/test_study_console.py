"""The console pages that shape a study: create it (upload, paste, demo), change its
settings, and curate its items between rounds."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest

from elicit.extensions import db
from surveys.demo import demo_source
from surveys.models import Item, Membership, Response, Study
from surveys.rounds import close_round, open_round
from surveys.studies import find_study
from tests.conftest import NEW_ITEM, csrf_token, enter, log_in

SLUG = "us-mexico-intelligence"


def listing_line(html: str, number: int) -> str:
    """The text of line ``number`` of a source listing, with the problems under it."""
    match = re.search(rf'<li id="source-listing-{number}"[^>]*>(.*?)</li>', html, re.S)
    assert match, f"no line {number} in the listing"
    return unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


@pytest.fixture
def lead(make_user):
    """A facilitator who is a member of no study yet."""
    return make_user("lead@example.org")


@pytest.fixture
def study(make_study, make_user):
    """The demo study with a member facilitator and researcher, not started."""
    study = make_study()
    make_user("lead@example.org", studies=[study])
    make_user("analyst@example.org", role="researcher", studies=[study])
    return study


def test_a_pasted_definition_with_an_error_is_shown_line_by_line_then_loads(client, lead):
    log_in(client, "lead@example.org")
    page = client.get("/console/studies/new")
    assert page.status_code == 200
    broken = demo_source().replace("max_rounds = 3", "max_rounds = 30")
    line = broken.splitlines().index("max_rounds = 30") + 1
    refused = client.post(
        "/console/studies/new",
        data={"csrf_token": csrf_token(page.text), "source": broken, "anonymity": "blind"},
    )
    assert refused.status_code == 422
    assert "1 problem to fix" in refused.text
    beside = listing_line(refused.text, line)
    assert "max_rounds = 30" in beside
    assert "study.max_rounds: must be between 1 and 20, not 30" in beside
    assert "must be between" not in listing_line(refused.text, line - 1)
    assert f'href="#source-listing-{line}"' in refused.text
    # Nothing is lost: the whole text is back in the text area.
    textarea = re.search(r'<textarea[^>]*name="source"[^>]*>(.*?)</textarea>', refused.text, re.S)
    assert unescape(textarea.group(1)).strip() == broken.strip()
    assert find_study(db.session, SLUG) is None

    fixed = broken.replace("max_rounds = 30", "max_rounds = 3")
    created = client.post(
        "/console/studies/new",
        data={"csrf_token": csrf_token(refused.text), "source": fixed, "anonymity": "blind"},
    )
    assert created.status_code == 303
    assert created.headers["Location"].endswith(f"/console/studies/{SLUG}")
    study = find_study(db.session, SLUG)
    assert study.anonymity == "blind"
    assert db.session.get(Membership, (lead.id, study.id)) is not None
    assert client.get(f"/console/studies/{SLUG}").status_code == 200


def test_an_uploaded_file_is_read_and_its_errors_point_at_lines(client, lead):
    log_in(client, "lead@example.org")
    page = client.get("/console/studies/new")
    broken = demo_source().replace('kind = "ranking"', 'kind = "rankin"')
    line = broken.splitlines().index('kind = "rankin"') + 1
    refused = client.post(
        "/console/studies/new",
        data={
            "csrf_token": csrf_token(page.text),
            "definition": (io.BytesIO(broken.encode()), "study.toml"),
            "anonymity": "standard",
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "unknown item kind &#39;rankin&#39;" in refused.text
    assert "unknown item kind 'rankin'" in listing_line(refused.text, line)
    assert 'kind = "rankin"' in unescape(refused.text)  # the file's text is in the text area
    created = client.post(
        "/console/studies/new",
        data={
            "csrf_token": csrf_token(refused.text),
            "definition": (io.BytesIO(demo_source().encode()), "study.toml"),
            "anonymity": "standard",
        },
        content_type="multipart/form-data",
    )
    assert created.status_code == 303
    assert find_study(db.session, SLUG).anonymity == "standard"


def test_an_empty_form_and_a_taken_slug_are_explained(client, study):
    log_in(client, "lead@example.org")
    page = client.get("/console/studies/new")
    empty = client.post("/console/studies/new", data={"csrf_token": csrf_token(page.text)})
    assert empty.status_code == 422
    assert "Choose a definition file or paste its text." in empty.text
    taken = client.post(
        "/console/studies/new", data={"csrf_token": csrf_token(page.text), "source": demo_source()}
    )
    assert taken.status_code == 409
    assert "A study with the slug us-mexico-intelligence exists already" in taken.text


def test_the_demo_study_is_created_once(client, lead):
    log_in(client, "lead@example.org")
    page = client.get("/console/studies/new")
    created = client.post(
        "/console/studies/new/demo",
        data={"csrf_token": csrf_token(page.text), "demo-anonymity": "blind"},
    )
    assert created.status_code == 303
    study = find_study(db.session, SLUG)
    assert study.anonymity == "blind"
    assert db.session.get(Membership, (lead.id, study.id)) is not None
    again = client.post("/console/studies/new/demo", data={"csrf_token": csrf_token(page.text)})
    assert again.status_code == 303
    assert "exists already" in client.get(again.headers["Location"]).text


def test_researchers_create_nothing_and_change_no_settings(client, study):
    log_in(client, "analyst@example.org")
    assert client.get("/console/studies/new").status_code == 403
    assert client.get(f"/console/studies/{SLUG}/settings").status_code == 403
    items = client.get(f"/console/studies/{SLUG}/items")
    assert items.status_code == 200  # researchers read the items and their history
    assert "Retire trust_now" not in items.text
    assert "Create a study" not in client.get("/console/").text


def settings_form(**overrides):
    """The demo's settings as the settings form posts them, with ``overrides``."""
    values = {
        "quantile_method": "linear",
        "feedback_min_n": "3",
        "rationale_outside_iqr": "optional",
        "max_rounds": "3",
        "cannot_judge": "y",
        "anonymity": "standard",
        "consensus": '[consensus]\ncriteria = [{ kind = "iqr", max = 1 }]\n',
        "consensus_items": "stay",
        "carry_over": "previous",
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def test_settings_are_validated_and_saved(client, study):
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}/settings")
    assert page.status_code == 200
    # The consensus rules are summarised in words, and changed in the rule editor.
    assert f'href="/console/studies/{SLUG}/rules"' in page.text
    assert 'name="consensus"' not in page.text
    rules_before = dict(study.consensus)
    token = csrf_token(page.text)
    bad = client.post(
        f"/console/studies/{SLUG}/settings",
        data={"csrf_token": token, **settings_form(feedback_min_n="0")},
    )
    assert bad.status_code == 422
    assert "Minimum number of answers for feedback" in bad.text
    saved = client.post(
        f"/console/studies/{SLUG}/settings",
        data={"csrf_token": token, **settings_form(max_rounds="5", anonymity="blind")},
    )
    assert saved.status_code == 303
    db.session.expire_all()
    assert (study.max_rounds, study.anonymity) == (5, "blind")
    assert study.consensus == rules_before  # a consensus field posted here changes nothing
    lowered = client.post(
        f"/console/studies/{SLUG}/settings",
        data={"csrf_token": token, **settings_form(max_rounds="5", anonymity="standard")},
    )
    assert lowered.status_code == 422
    assert "can be raised but never lowered" in lowered.text
    db.session.expire_all()
    assert study.anonymity == "blind"
    assert "study.settings" in client.get(f"/console/studies/{SLUG}").text


def test_settings_that_experts_see_wait_for_the_round_to_close(client, study):
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}/settings")
    assert "A round is open." in page.text
    refused = client.post(
        f"/console/studies/{SLUG}/settings",
        data={"csrf_token": csrf_token(page.text), **settings_form(cannot_judge=None)},
    )
    assert refused.status_code == 422
    assert "change it once the open round is closed" in refused.text
    db.session.expire_all()
    assert study.cannot_judge is True


def run_round_one(study, make_panel, post_answers, answers):
    """Round 1 with one panelist per answer to the open question, then closed."""
    links = make_panel(study, len(answers))
    open_round(db.session, study)
    for link, text in zip(links, answers, strict=True):
        assert post_answers(link.token, {"trust_now": "3", "missing_factors": text}).status_code
    close_round(db.session, study)
    return links


def test_an_open_text_answer_is_curated_into_a_new_item(client, study, make_panel, post_answers):
    run_round_one(study, make_panel, post_answers, ["Cyberattacks on infrastructure.", "Drones."])
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}/items/add")
    assert page.status_code == 200
    answers = page.text[page.text.index('id="answers-missing_factors"') :]
    assert "Cyberattacks on infrastructure." in answers and "Drones." in answers
    assert "Expert Number" not in page.text and "example.org</" not in page.text
    assert page.text.index("Cyberattacks on infrastructure.") < page.text.index('name="item"')

    missing_spanish = NEW_ITEM.replace("text.es =", "# text.es =")
    refused = client.post(
        f"/console/studies/{SLUG}/items/add",
        data={"csrf_token": csrf_token(page.text), "item": missing_spanish, "note": "round 1"},
    )
    assert refused.status_code == 422
    assert "missing the &#39;es&#39; text" in refused.text
    assert "Cyberattacks on infrastructure." in refused.text  # still side by side
    added = client.post(
        f"/console/studies/{SLUG}/items/add",
        data={"csrf_token": csrf_token(page.text), "item": NEW_ITEM, "note": "from round 1"},
    )
    assert added.status_code == 303
    items = client.get(added.headers["Location"]).text
    assert 'id="item-trigger_cyberattack"' in items
    assert "from round 1" in items


def test_items_cannot_change_while_a_round_is_open(client, study):
    open_round(db.session, study)
    log_in(client, "lead@example.org")
    items = client.get(f"/console/studies/{SLUG}/items")
    assert "its items cannot change until it closes" in items.text
    assert "Retire trust_now" not in items.text
    page = client.get(f"/console/studies/{SLUG}/items/add")
    refused = client.post(
        f"/console/studies/{SLUG}/items/add",
        data={"csrf_token": csrf_token(page.text), "item": NEW_ITEM},
    )
    assert refused.status_code == 409
    assert "an open round&#39;s items cannot change" in refused.text
    assert "trigger_cyberattack" in refused.text  # the text typed is kept
    retired = client.post(
        f"/console/studies/{SLUG}/items/trust_now/retire",
        data={"csrf_token": csrf_token(page.text), "reason": "consensus"},
    )
    assert retired.status_code == 303
    db.session.expire_all()
    assert (
        db.session.execute(db.select(Item.retired_at).where(Item.key == "trust_now")).scalar()
        is None
    )


def test_reword_then_history_lists_every_version(client, study, make_panel, post_answers):
    (link,) = run_round_one(study, make_panel, post_answers, ["Drones."])
    log_in(client, "lead@example.org")
    items = client.get(f"/console/studies/{SLUG}/items")
    assert "today between the two governments" in items.text
    page = client.get(f"/console/studies/{SLUG}/items/trust_now/reword")
    assert page.status_code == 200
    assert "key = &#34;trust_now&#34;" in page.text  # the current TOML, ready to edit
    current = unescape(
        re.search(r'<textarea[^>]*name="item"[^>]*>(.*?)</textarea>', page.text, re.S).group(1)
    )
    reworded = current.replace("today", "at present")
    changed = client.post(
        f"/console/studies/{SLUG}/items/trust_now/reword",
        data={"csrf_token": csrf_token(page.text), "item": reworded, "note": "clearer"},
    )
    assert changed.status_code == 303
    history = client.get(f"/console/studies/{SLUG}/items").text
    section = history[history.index('id="item-trust_now"') :]
    section = section[: section.index("</section>")]
    assert 'id="item-trust_now-v1"' in section and 'id="item-trust_now-v2"' in section
    assert "at present between" in section and "today between" in section
    assert "clearer" in section
    assert "answered in round(s) 1" in section

    open_round(db.session, study)
    post_answers(link.token, {"trust_now": "4"})
    versions = db.session.execute(
        db.select(Response.item_version)
        .join(Item)
        .where(Item.key == "trust_now")
        .order_by(Response.id)
    ).scalars()
    assert list(versions) == [1, 2]


def test_a_retired_item_leaves_the_next_round(client, study, make_panel, post_answers):
    (link,) = run_round_one(study, make_panel, post_answers, ["Drones."])
    log_in(client, "lead@example.org")
    items = client.get(f"/console/studies/{SLUG}/items")
    empty = client.post(
        f"/console/studies/{SLUG}/items/trust_now/retire",
        data={"csrf_token": csrf_token(items.text), "reason": " "},
    )
    assert empty.status_code == 422
    assert 'id="reason-trust_now-error"' in empty.text
    retired = client.post(
        f"/console/studies/{SLUG}/items/trust_now/retire",
        data={"csrf_token": csrf_token(items.text), "reason": "reached consensus in round 1"},
    )
    assert retired.status_code == 303
    listing = client.get(f"/console/studies/{SLUG}/items").text
    assert "Consensus in round 1" in items.text
    assert "reached consensus in round 1" in listing
    assert "Retire trust_now" not in listing
    open_round(db.session, study)
    enter(client, link.token)
    expert = client.get("/e/").text
    assert 'name="trust_now"' not in expert
    assert 'name="trust_horizon"' in expert


def test_unknown_items_are_not_found(client, study):
    log_in(client, "lead@example.org")
    assert client.get(f"/console/studies/{SLUG}/items/nothing/reword").status_code == 404
    assert isinstance(find_study(db.session, SLUG), Study)
