"""``blind`` holds through every channel: nothing joins a person (a name, an email, a
position in a list they sent) to a pseudonym or a link, and no group label singles
out a panelist.

The attack these tests replay: read everything the console and the API show, add one
person, read it all again, and look for what changed.  A pseudonym that appears only
afterwards is the newcomer's.
"""

from __future__ import annotations

import re

import pytest

from elicit.extensions import current_link_keys, db
from surveys.api_tokens import create_token
from surveys.panel import NewPanelist, add_panelists
from surveys.rounds import close_round, open_round
from tests.conftest import csrf_token, log_in

SLUG = "us-mexico-intelligence"
PSEUDONYM = re.compile(r"P-[A-Z2-9]{6}")
LINK = re.compile(r"/e/[A-Za-z0-9_-]{20,}")


@pytest.fixture
def blind_study(make_study, make_panel, make_user, post_answers):
    """A blind study whose round 1 closed with answers and whose round 2 is open;
    groups "a" and "b" have three panelists each, group "solo" one."""
    study = make_study()
    study.anonymity = "blind"
    db.session.commit()
    links = make_panel(study, 6, groups=("a", "b"))
    links += make_panel_member(study, "Solo Person", "solo@example.org", "solo")
    open_round(db.session, study)
    for link in links:
        post_answers(link.token, {"trust_now": "3", "missing_factors": "a reason"})
    close_round(db.session, study)
    open_round(db.session, study)
    lead = make_user("lead@example.org", studies=[study])
    return {"study": study, "token": create_token(db.session, lead, "t", "write").secret}


def make_panel_member(study, name: str, email: str, group: str):
    return add_panelists(
        db.session, study, [NewPanelist(name, email, group, "en")], keys=current_link_keys()
    )


def _everything_shown(app, client, token: str) -> str:
    """The text of every console GET page and every API GET answer of the study."""
    from flask import url_for

    texts = []
    values = {"slug": SLUG, "key": "trust_now", "number": 1, "fmt": "json"}
    with app.test_request_context():
        urls = [
            (rule.endpoint, url_for(rule.endpoint, **{a: values[a] for a in rule.arguments}))
            for rule in app.url_map.iter_rules()
            if "GET" in rule.methods
            and rule.endpoint.split(".")[0] in {"facilitate", "api"}
            and set(rule.arguments) <= set(values)
        ]
    for endpoint, url in urls:
        headers = {"Authorization": f"Bearer {token}"} if endpoint.startswith("api.") else {}
        response = client.get(url, headers=headers)
        # The mail-merge file holds links: a blind study refuses it.
        expected = 403 if endpoint == "facilitate.mail_merge" else 200
        assert response.status_code == expected, (url, response.status_code)
        texts.append(response.get_data(as_text=True))
    return "\n".join(texts)


def test_adding_one_person_reveals_their_pseudonym_nowhere(app, client, blind_study):
    log_in(client, "lead@example.org")
    before = set(PSEUDONYM.findall(_everything_shown(app, client, blind_study["token"])))
    page = client.get(f"/console/studies/{SLUG}/panel")
    added = client.post(
        f"/console/studies/{SLUG}/panel/add",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "Newcomer Person",
            "email": "new@example.org",
            "group": "a",
            "language": "en",
        },
    )
    assert added.status_code == 200
    assert not PSEUDONYM.search(added.text) and not LINK.search(added.text)
    by_api = client.post(
        f"/api/v1/studies/{SLUG}/panelists",
        json={"panelists": [{"name": "Second Newcomer", "email": "new2@example.org"}]},
        headers={"Authorization": f"Bearer {blind_study['token']}"},
    )
    assert by_api.status_code == 201
    assert by_api.json == {"added": 1, "panelists": []}
    after = set(PSEUDONYM.findall(_everything_shown(app, client, blind_study["token"])))
    assert after == before


def test_the_panel_is_counts_only_and_small_groups_are_not_named(app, client, blind_study):
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}/panel").text
    assert not PSEUDONYM.search(page)
    assert "solo" not in page  # alone in the group: the label would name them
    assert "Groups of fewer than 3, together" in page
    listed = client.get(
        f"/api/v1/studies/{SLUG}/panelists",
        headers={"Authorization": f"Bearer {blind_study['token']}"},
    ).json
    assert listed["panelists"] == []
    groups = {entry["group"]: entry for entry in listed["counts"]["groups"]}
    assert set(groups) == {"a", "b", None}
    assert groups[None]["panelists"] == 1 and groups[None]["submitted"] == [1, 0]
    assert groups["a"]["panelists"] == 3 and groups["a"]["submitted"] == [3, 0]
    assert listed["counts"]["rounds"][0]["submitted"] == 7
    assert "solo" not in str(listed)


def test_a_person_is_acted_on_by_email_and_the_answer_names_no_pseudonym(app, client, blind_study):
    log_in(client, "lead@example.org")
    page = client.get(f"/console/studies/{SLUG}/panel")
    unknown = client.post(
        f"/console/studies/{SLUG}/panel/person",
        data={"csrf_token": csrf_token(page.text), "email": "nobody@x.org", "action": "revoke"},
    )
    assert unknown.status_code == 422
    assert "Nobody on the panel has this email address." in unknown.text
    withdrawn = client.post(
        f"/console/studies/{SLUG}/panel/person",
        data={"csrf_token": csrf_token(page.text), "email": "Solo@Example.org", "action": "revoke"},
        follow_redirects=True,
    )
    assert "The link of that person is withdrawn." in withdrawn.text
    assert not PSEUDONYM.search(withdrawn.text)
    # The row ids of a standard study's actions do not work on a blind study's panel.
    assert (
        client.post(
            f"/console/studies/{SLUG}/panel/1/revoke",
            data={"csrf_token": csrf_token(page.text)},
        ).status_code
        == 404
    )
