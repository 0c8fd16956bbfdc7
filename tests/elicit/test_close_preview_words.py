"""The close preview names each item's state in words ("no consensus"), as the items
page does, not by the analysis's code ("no_consensus") that a facilitator never typed."""

from __future__ import annotations

import re

from elicit.extensions import db
from surveys.rounds import open_round
from tests.conftest import log_in

SLUG = "us-mexico-intelligence"


def test_the_close_preview_names_states_in_words(
    client, make_study, make_panel, make_user, post_answers
):
    study = make_study()
    links = make_panel(study, 3)
    open_round(db.session, study)
    # trust_now: 4, 4, 4 (consensus); trust_horizon: 1, 3, 5 (no consensus).
    for now, horizon, link in zip(("4", "4", "4"), ("1", "3", "5"), links, strict=True):
        post_answers(link.token, {"trust_now": now, "trust_horizon": horizon})
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")

    page = client.get(f"/console/studies/{SLUG}/rounds/close").text

    states = dict(
        re.findall(r'<th scope="row">(\w+)</th>(?:<td>[^<]*</td>\s*){4}<td>([^<]*)</td>', page)
    )
    assert states["trust_now"] == "consensus"
    assert states["trust_horizon"] == "no consensus"
    assert "no_consensus" not in page
