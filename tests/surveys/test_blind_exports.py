"""A blind study's exports join no person to a pseudonym: small groups' labels are
masked, the open round's answers and every answer's time are withheld, and the
shipped ``reproduce.py`` still checks every statistic it can."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from elicit.extensions import current_link_keys, db
from surveys.exports import export_tables, write_csv
from surveys.models import Panelist
from surveys.panel import MASKED_GROUP, NewPanelist, add_panelists
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import run_reproduce


@pytest.fixture
def study_with_a_lone_member(make_study, make_panel, post_answers):
    """Groups "a" and "b" of three, "solo" of one; round 1 closed, round 2 open with
    answers of two panelists."""

    def make(anonymity: str):
        study = make_study()
        study.anonymity = anonymity
        db.session.commit()
        links = make_panel(study, 6, groups=("a", "b"))
        links += add_panelists(
            db.session,
            study,
            [NewPanelist("Solo", "solo@x.org", "solo", "en")],
            keys=current_link_keys(),
        )
        open_round(db.session, study)
        rng = random.Random(11)
        answers = [simulated_answers(rng, study_definition(study)) for _ in links]
        for link, form in zip(links, answers, strict=True):
            assert post_answers(link.token, form).status_code == 302
        close_round(db.session, study)
        open_round(db.session, study)
        for link, form in zip(links[:2], answers[:2], strict=True):
            assert post_answers(link.token, form).status_code == 302
        solo = db.session.execute(
            db.select(Panelist.pseudonym).where(Panelist.group == "solo")
        ).scalar_one()
        return study, solo

    return make


def test_a_blind_export_masks_small_groups_withholds_the_open_round_and_times(
    study_with_a_lone_member, tmp_path
):
    study, solo = study_with_a_lone_member("blind")
    tables = export_tables(db.session, study)
    responses = tables.responses
    assert set(responses["round"]) == {1}  # round 2 is open
    assert set(responses["group"]) == {"a", "b", MASKED_GROUP}
    assert set(responses.loc[responses["pseudonym"] == solo, "group"]) == {MASKED_GROUP}
    for column in ("created_at", "updated_at", "submitted_at"):
        assert responses[column].isna().all(), column
    assert "solo" not in set(tables.subgroups["group"])
    assert tables.subgroups["masked"].any()  # beside the small group, secondary suppression
    methods = dict(zip(tables.methods["key"], tables.methods["value"], strict=True))
    assert methods["disclosure"].startswith("blind: answers of closed rounds only")
    folder = tmp_path / "export"
    write_csv(tables, folder)
    assert "solo" not in (folder / "responses.csv").read_text(encoding="utf-8")
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


def test_reproduce_still_finds_a_changed_statistic_in_a_blind_export(
    study_with_a_lone_member, tmp_path
):
    study, _solo = study_with_a_lone_member("blind")
    folder = tmp_path / "export"
    write_csv(export_tables(db.session, study), folder)
    groups = pd.read_csv(folder / "subgroups.csv", keep_default_na=False, dtype=str)
    shown = groups.index[groups["masked"] == "False"][0]
    groups.loc[shown, "median"] = "99.5"
    hidden = groups.index[groups["masked"] == "True"][0]
    groups.loc[hidden, "mean"] = "1.0"
    groups.to_csv(folder / "subgroups.csv", index=False)
    result = run_reproduce(folder)
    assert result.returncode == 1
    assert "median: exported 99.5" in result.stdout
    assert "masked but shows mean" in result.stdout


def test_a_standard_export_keeps_every_answer_time_and_group(study_with_a_lone_member):
    study, solo = study_with_a_lone_member("standard")
    tables = export_tables(db.session, study)
    responses = tables.responses
    assert set(responses["round"]) == {1, 2}
    assert set(responses.loc[responses["pseudonym"] == solo, "group"]) == {"solo"}
    assert responses["submitted_at"].notna().any()
    assert "solo" in set(tables.subgroups["group"])


def test_the_api_shows_a_blind_study_as_its_export_does(
    study_with_a_lone_member, client, make_user
):
    from surveys.api_tokens import create_token

    study, solo = study_with_a_lone_member("blind")
    user = make_user("analyst@example.org", role="researcher", studies=[study])
    bearer = {"Authorization": f"Bearer {create_token(db.session, user, 't', 'read').secret}"}
    page = client.get(f"/api/v1/studies/{study.slug}/responses?per_page=500", headers=bearer).json
    records = page["responses"]
    assert records and {record["round"] for record in records} == {1}
    assert {record["group"] for record in records if record["pseudonym"] == solo} == {MASKED_GROUP}
    assert all(record["submitted_at"] is None for record in records)
    summary = client.get(f"/api/v1/studies/{study.slug}/rounds/1/summary", headers=bearer).json
    assert "solo" not in {row["group"] for row in summary["groups"]}
