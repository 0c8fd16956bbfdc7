"""Every console page fits a 375 px phone (issue 13, point 5): the document is never
wider than the window.  A wide table scrolls inside its own box (a focusable, named
region), so the page around it does not scroll sideways and hide its own edges."""

from __future__ import annotations

import random

import pytest

from elicit.extensions import db
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import PASSWORD
from tests.e2e.support import horizontal_overflow, save_screenshot

pytestmark = pytest.mark.e2e

WIDTH = 375
SLUG = "us-mexico-intelligence"
STUDY = f"/console/studies/{SLUG}"
#: Every console page a facilitator reaches in a study whose round 1 closed and round 2
#: is open (the pages with the most to show), and the pages outside any study.
PAGES = (
    "/console/",
    "/console/studies/new",
    "/console/tokens",
    "/console/password",
    STUDY,
    f"{STUDY}/panel",
    f"{STUDY}/outbox",
    f"{STUDY}/results",
    f"{STUDY}/report",
    f"{STUDY}/items",
    f"{STUDY}/items/add",
    f"{STUDY}/items/trust_now/reword",
    f"{STUDY}/settings",
    f"{STUDY}/rules",
    f"{STUDY}/rules/items/trigger_tariffs",
    f"{STUDY}/rounds/close",
    f"{STUDY}/build",
)


def test_every_console_page_fits_a_375_pixel_window(
    live_server, new_page, artifacts, make_study, make_panel, make_user, post_answers
):
    study = make_study()
    links = make_panel(study, 6)
    open_round(db.session, study)
    definition = study_definition(study)
    for index, link in enumerate(links):
        post_answers(link.token, simulated_answers(random.Random(index), definition))
    close_round(db.session, study)
    open_round(db.session, study)
    make_user("lead@example.org", studies=[study])

    page = new_page(viewport={"width": WIDTH, "height": 740})
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/console/")

    too_wide = []
    for path in PAGES:
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 200, f"{path}: {response}"
        scroll_width, offenders = horizontal_overflow(page, WIDTH)
        if scroll_width > WIDTH:
            name = path.strip("/").replace("/", "-") or "console"
            save_screenshot(page, artifacts, f"too-wide-{name}")
            too_wide.append(f"{path}: {scroll_width} px, " + "; ".join(offenders[:2]))
    assert not too_wide, f"wider than {WIDTH} px:\n" + "\n".join(too_wide)
