"""Expert pages and submissions follow changes to the study between rounds, although
each worker keeps the study parsed in memory (``surveys.snapshots``)."""

from __future__ import annotations

from sqlalchemy import select

from elicit.extensions import db
from surveys.curation import add_item, retire_item, reword_item
from surveys.models import Item, Response
from surveys.rounds import close_round, open_round
from surveys.serialization import item_to_toml
from surveys.settings import update_settings
from surveys.studies import active_items
from tests.conftest import NEW_ITEM, enter

OLD_TEXT = "How much trust is there today between"
NEW_TEXT = "How much trust is there at present between"


def versions(key: str) -> list[tuple[int, int]]:
    """``(round number, item version)`` of every response to item ``key``."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Response).join(Item).where(Item.key == key).order_by(Response.id)
    ).scalars()
    return [(row.round.number, row.item_version) for row in rows]


def test_curation_between_rounds_reaches_the_next_page_and_submission(
    client, make_study, make_panel, post_answers
):
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    assert post_answers(link.token, {"trust_now": "3", "trigger_tariffs": "20"}).status_code == 302
    page = client.get("/e/").text
    assert OLD_TEXT in page and 'value="cannot_judge"' in page
    close_round(db.session, study)

    (trust,) = [stored for stored in active_items(study) if stored.definition.key == "trust_now"]
    reworded = item_to_toml(trust.definition).replace("today between", "at present between")
    reword_item(db.session, study, "trust_now", reworded, None, "clearer")
    retire_item(db.session, study, "trigger_tariffs", "reached consensus", None)
    add_item(db.session, study, NEW_ITEM, None, "suggested in round 1")
    update_settings(db.session, study, {"cannot_judge": False}, reason="rarely used")
    open_round(db.session, study)

    enter(client, link.token)
    page = client.get("/e/").text
    assert NEW_TEXT in page and OLD_TEXT not in page
    assert 'name="trigger_tariffs"' not in page
    assert 'name="trigger_cyberattack"' in page
    assert 'value="cannot_judge"' not in page
    answers = {"trust_now": "4", "trigger_tariffs": "50", "trigger_cyberattack": "30"}
    assert post_answers(link.token, answers).status_code == 302
    assert versions("trust_now") == [(1, 1), (2, 2)]
    assert versions("trigger_tariffs") == [(1, 1)]  # retired: not answered in round 2
    assert versions("trigger_cyberattack") == [(2, 1)]


def test_cannot_judge_is_refused_once_the_setting_is_off(
    client, make_study, make_panel, post_answers
):
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    assert post_answers(link.token, {"trust_now": "cannot_judge"}).status_code == 302
    close_round(db.session, study)
    update_settings(db.session, study, {"cannot_judge": False}, reason="rarely used")
    open_round(db.session, study)
    assert post_answers(link.token, {"trust_now": "cannot_judge"}).status_code == 422
