"""Before round 1 the study page says the study is a draft and leads to the builder,
for the facilitator who may change it; once round 1 opens the builder is closed and the
page no longer offers it."""

from __future__ import annotations

from elicit.extensions import db
from surveys.rounds import open_round
from tests.conftest import log_in

SLUG = "us-mexico-intelligence"
STUDY = f"/console/studies/{SLUG}"
BUILDER_LINK = f'href="{STUDY}/build"'


def test_a_draft_study_page_leads_the_facilitator_to_the_builder(
    app, client, make_study, make_user
):
    study = make_study()
    make_user("lead@example.org", studies=[study])
    make_user("analyst@example.org", role="researcher", studies=[study])
    log_in(client, "lead@example.org")
    page = client.get(STUDY).text
    assert 'id="draft-notice"' in page and BUILDER_LINK in page.split('id="draft-notice"')[1]

    # A researcher may read the study but not change it: no way to the builder.
    researcher = app.test_client()
    log_in(researcher, "analyst@example.org")
    page = researcher.get(STUDY).text
    assert "<h1>" in page and 'id="draft-notice"' not in page

    open_round(db.session, study)
    assert 'id="draft-notice"' not in client.get(STUDY).text
