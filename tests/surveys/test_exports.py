"""Exports: a two-round demo study exported as CSV, xlsx and JSON, read back, checked
against the stored summaries and the submitted answers, reproduced by the shipped
script, and scanned for every name, email and token of the panel."""

from __future__ import annotations

import io
import json
import math
import random
import zipfile

import openpyxl
import pandas as pd
import pytest

from elicit.extensions import current_link_keys, db
from surveys.exports import TABLES, export_file, export_tables, write_csv, write_json, write_xlsx
from surveys.models import Panelist, Study
from surveys.panel import NewPanelist, add_panelists
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from surveys.text import clean_typed_text
from tests.conftest import run_reproduce

NAMES = [
    ("Zelda Quixote", "zelda.quixote@nowhere.example"),
    ("Barnaby Fitzwilliam", "barnaby.f@hidden.example"),
    ("Ottoline Marchbanks", "o.marchbanks@secret.example"),
    ("Cornelius Vexley", "vexley@private.example"),
    ("Philippa Tumbledown", "ptumbledown@unseen.example"),
    ("Hortensia Blackwood", "hortensia@covert.example"),
]
GROUPS = ("us_official", "mx_official", "academic")


@pytest.fixture
def finished_study(app, make_study, post_answers, built_once):
    """The demo study after two rounds answered through the expert pages; returns the
    study, the issued links and what each token submitted per round (built once a
    run: :func:`tests.conftest.built_once`)."""
    study_id, links, given = built_once(lambda: _finished_study(make_study, post_answers))
    return db.session.get(Study, study_id), links, given


def _finished_study(make_study, post_answers):
    study = make_study()
    links = add_panelists(
        db.session,
        study,
        [
            NewPanelist(name, email, GROUPS[i % 3], ("en", "es")[i % 2])
            for i, (name, email) in enumerate(NAMES)
        ],
        keys=current_link_keys(),
    )
    definition = study_definition(study)
    rng = random.Random(6)
    given: dict[int, dict[str, dict[str, str]]] = {}
    for number in (1, 2):
        open_round(db.session, study)
        given[number] = {}
        for index, link in enumerate(links):
            answers = simulated_answers(rng, definition)
            if number == 1 and index == 0:
                answers["trust_now"] = "cannot_judge"
                answers["rationale.trust_horizon"] = '=HYPERLINK("x") with\x0b odd text'
            if number == 2 and index == 5:
                continue  # one expert skips round 2
            given[number][link.token] = answers
            assert post_answers(link.token, answers).status_code == 302
        close_round(db.session, study)
    return study.id, links, given


def test_tables_match_the_stored_summaries_and_the_answers(finished_study):
    study, links, given = finished_study
    tables = export_tables(db.session, study)
    responses = tables.responses
    assert list(tables.tables()) == list(TABLES)
    assert set(responses["round"]) == {1, 2}
    assert (responses["status"] == "submitted").all()
    # One row per number: every typed number is there, under its item and component.
    pseudonyms = {p.id: p.pseudonym for p in db.session.execute(db.select(Panelist)).scalars()}
    tokens = {link.token: link.pseudonym for link in links}
    for number, answers_by_token in given.items():
        for token, answers in answers_by_token.items():
            mine = responses[
                (responses["round"] == number) & (responses["pseudonym"] == tokens[token])
            ]
            for field, typed in answers.items():
                if field.startswith("rationale."):
                    rows = mine[mine["item"] == field.removeprefix("rationale.")]
                    # Stored as typed, but for control characters (surveys.text).
                    assert (rows["rationale"] == clean_typed_text(typed)).all()
                    continue
                item, _, component = field.partition(".")
                row = mine[(mine["item"] == item) & (mine["component"] == component)]
                assert len(row) == 1, (field, row)
                if typed == "cannot_judge":
                    assert bool(row["cannot_judge"].iloc[0])
                    assert math.isnan(row["value"].iloc[0])
                elif item == "missing_factors":
                    assert row["text"].iloc[0] == typed
                else:
                    assert row["value"].iloc[0] == float(typed)
    assert len(pseudonyms) == len(NAMES)
    # The summaries are exactly the stored rows.
    stored = [
        {**row}
        for summary in (r.summary for r in sorted(study.rounds, key=lambda r: r.number))
        for row in summary.statistics["rows"]
    ]
    assert len(tables.summaries) == len(stored)
    exported = tables.summaries.set_index(["round", "item", "component"])
    for row in stored:
        line = exported.loc[(row["round"], row["item"], row["component"])]
        for column in ("n", "median", "q1", "q3", "iqr", "state", "wilcoxon_p"):
            expected = row[column]
            if expected is None:
                assert line[column] is None or pd.isna(line[column])
            else:
                assert line[column] == expected, (row["item"], column)
    assert set(tables.summaries["quantile_method"]) == {"linear"}
    groups = study.rounds[0].summary.statistics["groups"]
    assert len(tables.subgroups) == sum(len(r.summary.statistics["groups"]) for r in study.rounds)
    assert tables.subgroups["masked"].any()  # groups of two are masked
    assert tables.subgroups.loc[tables.subgroups["masked"], "median"].isna().all()
    assert len(groups) > 0
    # Every column of every table is described in the codebook; every item is there.
    codebook = tables.codebook
    described = codebook[codebook["entry"] == "column"]
    for name, frame in tables.tables().items():
        columns = set(described.loc[described["table"] == name, "column"])
        assert set(frame.columns) == columns, name
    assert described["description"].str.len().gt(0).all()
    items = codebook[codebook["entry"] == "item"].set_index("column")
    assert set(items.index) == {item.key for item in study.items}
    assert items.loc["trust_now", "labels_es"].startswith("1=Muy baja | 2=Baja")
    assert items.loc["trust_now", "scale_max"] == 5
    assert "rift=" in items.loc["scenarios", "choices_en"]
    # Items: every version in every language.
    assert len(tables.items) == 2 * len(study.items)
    assert set(tables.items["language"]) == {"en", "es"}
    methods = dict(zip(tables.methods["key"], tables.methods["value"], strict=True))
    assert methods["quantile_method"] == "linear"
    assert methods["hyndman_fan_type"] == "7"
    assert methods["software_version"] == "0.1.0"
    assert methods["consensus_rule.default"].startswith("all of:")
    assert methods["feedback_min_n"] == "3"
    assert methods["rationale_outside_iqr"] == "optional"
    assert methods["round.2.consensus_rules"] == (
        "all of: cv <= 0.5 | all of: iqr <= 1 | all of: iqr <= 20"
    )
    assert methods["round.1.min_group_size"] == "3"


def test_csv_xlsx_and_json_read_back(finished_study, tmp_path):
    study, _, _ = finished_study
    tables = export_tables(db.session, study)
    folder = tmp_path / "csv"
    write_csv(tables, folder)
    assert {p.name for p in folder.iterdir()} == {
        *(f"{name}.csv" for name in TABLES),
        "settings.json",
        "reproduce.py",
        "README.txt",
        "spreadsheet",  # the copies for spreadsheets (tests/surveys/test_spreadsheet_safety.py)
    }
    responses = pd.read_csv(
        folder / "responses.csv", keep_default_na=False, na_values={"value": [""]}
    )
    assert len(responses) == len(tables.responses)
    assert responses["created_at"].str.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").all()
    summaries = pd.read_csv(folder / "summaries.csv")
    assert summaries["median"].tolist() == pytest.approx(
        tables.summaries["median"].astype(float).tolist(), nan_ok=True
    )

    xlsx = tmp_path / "export.xlsx"
    write_xlsx(tables, xlsx)
    workbook = openpyxl.load_workbook(xlsx)
    assert workbook.sheetnames == list(TABLES)
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert sheets["summaries"]["iqr"].tolist() == pytest.approx(
        tables.summaries["iqr"].astype(float).tolist(), nan_ok=True
    )
    assert len(sheets["responses"]) == len(tables.responses)
    # A rationale that looks like a formula stays text; characters Excel refuses go.
    cells = [cell.value for row in workbook["responses"].iter_rows() for cell in row]
    assert '=HYPERLINK("x") with odd text' in cells
    assert not any(
        cell.data_type == "f" for sheet in workbook for row in sheet.iter_rows() for cell in row
    )

    path = tmp_path / "export.json"
    write_json(tables, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert set(document) == {"study", "settings", *TABLES}
    assert len(document["summaries"]) == len(tables.summaries)
    first = document["responses"][0]
    assert first["created_at"].endswith("+00:00")
    assert "NaN" not in path.read_text(encoding="utf-8")
    judged = [r for r in document["responses"] if r["cannot_judge"]]
    assert judged and all(r["value"] is None for r in judged)


def test_the_shipped_script_reproduces_the_summaries_and_catches_a_change(finished_study, tmp_path):
    study, _, _ = finished_study
    folder = tmp_path / "csv"
    write_csv(export_tables(db.session, study), folder)
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout

    summaries = pd.read_csv(folder / "summaries.csv", keep_default_na=False, dtype=str)
    row = summaries.index[(summaries["item"] == "trust_horizon") & (summaries["round"] == "2")][0]
    summaries.loc[row, "median"] = str(float(summaries.loc[row, "median"]) + 0.5)
    summaries.to_csv(folder / "summaries.csv", index=False)
    result = run_reproduce(folder)
    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert "'trust_horizon', '') median" in result.stdout


def test_no_export_holds_a_name_an_email_or_a_token(finished_study, tmp_path):
    study, links, _ = finished_study
    hashes = [p.token_hash for p in db.session.execute(db.select(Panelist)).scalars()]
    forbidden = [*(n for n, _ in NAMES), *(e for _, e in NAMES)]
    forbidden += [link.token for link in links] + hashes
    for anonymity in ("standard", "blind"):
        study.anonymity = anonymity
        db.session.commit()
        tables = export_tables(db.session, study)
        texts = []
        for format_name in ("csv", "xlsx", "json"):
            content, _, _ = export_file(tables, format_name)
            if format_name == "json":
                texts.append(content.decode("utf-8"))
                continue
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                for name in archive.namelist():
                    member = archive.read(name)
                    if name.endswith(".xml") or format_name == "csv":
                        texts.append(member.decode("utf-8"))
        assert len(texts) > len(TABLES)
        for text in texts:
            for secret in forbidden:
                assert secret not in text
                assert secret.lower() not in text.lower()


def test_a_study_without_rounds_exports_empty_tables(app, make_study, tmp_path):
    study = make_study()
    tables = export_tables(db.session, study)
    assert tables.responses.empty and tables.summaries.empty and tables.subgroups.empty
    assert list(tables.summaries.columns)[:3] == ["round", "item", "component"]
    folder = tmp_path / "csv"
    write_csv(tables, folder)
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    write_xlsx(tables, tmp_path / "empty.xlsx")
    write_json(tables, tmp_path / "empty.json")


def test_reproduction_survives_changed_rules_and_items_between_rounds(
    app, make_study, post_answers, tmp_path
):
    from surveys.curation import add_item, retire_item, reword_item
    from surveys.settings import update_settings

    study = make_study()
    links = add_panelists(
        db.session,
        study,
        [NewPanelist(f"Panelist {i}", f"p{i}@example.org", "", "en") for i in range(5)],
        keys=current_link_keys(),
    )
    rng = random.Random(11)
    open_round(db.session, study)
    for link in links:
        answers = simulated_answers(rng, study_definition(study))
        assert post_answers(link.token, answers).status_code == 302
    close_round(db.session, study)
    # Between rounds: new rules, a reworded item, a retired one and a new one.
    update_settings(
        db.session,
        study,
        {"consensus": '[consensus]\ncombine = "all"\ncriteria = [{ kind = "iqr", max = 0.5 }]\n'},
        reason="stricter after round 1",
    )
    reword_item(
        db.session,
        study,
        "trust_now",
        '[[items]]\nkey = "trust_now"\nkind = "likert"\nsection = "drivers"\n'
        "scale = { min = 1, max = 5 }\n"
        'text.en = "Trust today, reworded?"\ntext.es = "¿Confianza hoy?"\n'
        'labels.en = ["1", "2", "3", "4", "5"]\nlabels.es = ["1", "2", "3", "4", "5"]\n',
        note="clearer",
    )
    retire_item(db.session, study, "agenda_now", "consensus reached")
    add_item(
        db.session,
        study,
        '[[items]]\nkey = "new_trigger"\nkind = "probability"\nsection = "triggers"\n'
        'text.en = "A new trigger?"\ntext.es = "¿Un nuevo detonante?"\n',
        note="suggested in round 1",
    )
    open_round(db.session, study)
    for link in links:
        answers = simulated_answers(rng, study_definition(study))
        assert post_answers(link.token, answers).status_code == 302
    close_round(db.session, study)

    tables = export_tables(db.session, study)
    round_one, round_two = tables.settings["rounds"]
    assert round_one["rules"]["trust_now"]["criteria"][0]["max"] == 1
    assert round_two["rules"]["trust_now"]["criteria"][0]["max"] == 0.5
    assert "agenda_now" in round_one["scales"] and "agenda_now" not in round_two["scales"]
    versions = tables.items[
        (tables.items["item"] == "trust_now") & (tables.items["language"] == "en")
    ]
    assert versions["version"].tolist() == [1, 2]
    assert versions["text"].iloc[1] == "Trust today, reworded?"
    assert versions["version_note"].iloc[1] == "clearer"
    retired = tables.items[tables.items["item"] == "agenda_now"]
    assert (retired["retired_reason"] == "consensus reached").all()
    answered = tables.responses[tables.responses["item"] == "trust_now"]
    assert set(zip(answered["round"], answered["item_version"], strict=True)) == {(1, 1), (2, 2)}
    folder = tmp_path / "csv"
    write_csv(tables, folder)
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr


def test_summaries_stored_before_their_settings_are_reproduced_too(finished_study, tmp_path):
    study, _, _ = finished_study
    for round_ in study.rounds:  # as closed before summaries recorded their settings
        statistics = dict(round_.summary.statistics)
        del statistics["settings"]
        round_.summary.statistics = statistics
    db.session.commit()
    folder = tmp_path / "csv"
    write_csv(export_tables(db.session, study), folder)
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_tampered_subgroup_row_fails(finished_study, tmp_path):
    study, _, _ = finished_study
    folder = tmp_path / "csv"
    write_csv(export_tables(db.session, study), folder)
    groups = pd.read_csv(folder / "subgroups.csv", keep_default_na=False, dtype=str)
    row = groups.index[groups["masked"] == "True"][0]
    groups.loc[row, "masked"] = "False"
    groups.to_csv(folder / "subgroups.csv", index=False)
    result = run_reproduce(folder)
    assert result.returncode == 1
    assert "masked: exported False, recomputed True" in result.stdout
