"""A panelist's time zone (issue 14, point 3): an optional ``time_zone`` column of the
panel file, checked by name; the invitation writes the deadline in it, in the
panelist's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.messaging import queue_invitations
from surveys.models import OutboxMessage
from surveys.panel import InvalidPanel, add_panelists, parse_panel_csv
from surveys.rounds import open_round


def test_the_column_is_optional_and_checked():
    plain = parse_panel_csv("name,email,group,language\nAna,ana@x.org,,es\n", ["en", "es"])
    assert plain[0].time_zone == ""
    zoned = parse_panel_csv(
        "name,email,group,language,time_zone\n"
        "Ana,ana@x.org,,es, America/Mexico_City \n"
        "Bo,bo@x.org,,en,\n",
        ["en", "es"],
    )
    assert [entry.time_zone for entry in zoned] == ["America/Mexico_City", ""]
    with pytest.raises(InvalidPanel) as refused:
        parse_panel_csv(
            "name,email,group,language,time_zone\nAna,ana@x.org,,es,Mars/Olympus\n"
            "Bo,bo@x.org,,en,../../etc/passwd\n",
            ["en", "es"],
        )
    assert refused.value.errors == [
        "line 2: time_zone: 'Mars/Olympus' is not a time zone name such as America/Mexico_City",
        "line 3: time_zone: '../../etc/passwd' is not a time zone name such as America/Mexico_City",
    ]


def test_the_invitation_writes_the_deadline_in_the_panelist_s_zone(make_study, link_keys):
    study = make_study()
    entries = parse_panel_csv(
        "name,email,group,language,time_zone\n"
        "Ana,ana@x.org,,es,America/Mexico_City\n"
        "Bo,bo@x.org,,en,\n",
        ["en", "es"],
    )
    add_panelists(db.session, study, entries, keys=link_keys)
    deadline = (datetime.now(UTC) + timedelta(days=10)).replace(
        hour=23, minute=0, second=0, microsecond=0
    )
    round_ = open_round(db.session, study, deadline=deadline)
    queue_invitations(db.session, study, round_, "https://elicit.example", keys=link_keys)
    bodies = {
        message.recipient: message.body
        for message in db.session.execute(select(OutboxMessage)).scalars()
    }
    assert "17:00 (hora estándar central)" in bodies["ana@x.org"]
    assert "11:00\u202fPM (Coordinated Universal Time)" in bodies["bo@x.org"]
