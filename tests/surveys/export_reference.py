"""The export as it was written before the exports streamed (commit 01354ae), kept to
check the streaming writers against (tests/surveys/test_streaming_exports.py).

The responses table and the writers below are the code of ``surveys/exports.py`` at
that commit, copied unchanged but for their names: the whole responses table built in
one DataFrame, and each file made in memory (the CSV files as bytes, the workbook by
pandas' ExcelWriter, the JSON document by one ``json.dumps``).  The small tables
(summaries, subgroups, items, codebook, methods) and the settings come from the
current module's builders, which the streaming change left as they were.

Do not "fix" this file: its whole purpose is to stay what the exports used to be.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from surveys.calibration import classical_model_table
from surveys.exports import README as EXPORT_README
from surveys.exports import (
    REPRODUCE_SCRIPT,
    RESPONSE_COLUMNS,
    SPREADSHEET_FOLDER,
    Disclosure,
    ExportTables,
    _codebook,
    _items,
    _methods,
    _stored_summaries,
    _summary_table,
    disclosure,
    observation_table,
    reproduction_settings,
    resolution_table,
    score_table,
    spreadsheet_text,
)
from surveys.models import Item, Panelist, Response, Round, RoundStatus, Study
from surveys.panel import MASKED_GROUP
from surveys.protocol import protocol_record


def reference_export_tables(session: Session, study: Study) -> ExportTables:
    """``export_tables`` as it was: the responses built whole."""
    languages = list(study.languages["codes"])
    shown = disclosure(session, study)
    summaries = _stored_summaries(session, study)
    settings = reproduction_settings(session, study)
    settings["masked_group"] = MASKED_GROUP if shown.small_groups else None
    responses = _reference_responses(session, study, shown)
    return ExportTables(
        study=study.slug,
        responses=responses,
        summaries=_summary_table(summaries, "rows"),
        subgroups=_summary_table(summaries, "groups", shown),
        items=_items(study, languages),
        codebook=_codebook(study, languages),
        methods=_methods(study, summaries, settings, shown, protocol_record(session, study)),
        settings=settings,
        # Tables added after that commit (issue 16), from the current builders.
        resolutions=resolution_table(session, study),
        scores=score_table(session, study),
        classical_model=classical_model_table(session, study),
        observations=observation_table(session, study),
    )


def _response_query(study: Study, shown: Disclosure) -> Select[Any]:
    """Every response of ``study`` with what its export row needs, in a stable order
    (in a blind study, those of closed rounds only)."""
    query = (
        select(
            Round.number,
            Item.key,
            Item.kind,
            Response.item_version,
            Panelist.pseudonym,
            Panelist.group,
            Panelist.language,
            Response.answer,
            Response.rationale,
            func.coalesce(Response.language, Panelist.language),
            Response.status,
            Response.created_at,
            Response.updated_at,
            Response.submitted_at,
        )
        .join(Response.round)
        .join(Response.item)
        .join(Response.panelist)
        .where(Round.study_id == study.id)
        .order_by(Round.number, Item.position, Panelist.pseudonym)
    )
    if shown.blind:
        query = query.where(Round.status == RoundStatus.CLOSED)
    return query


def _response_record(study: Study, row: Any, shown: Disclosure) -> dict[str, Any]:
    """One response as a record: the export's columns but the answer's, and under
    ``"values"`` its (component, value, text, cannot judge) rows."""
    (number, key, kind, version, pseudonym, group, language, answer, *rest) = row
    rationale, rationale_language, status, created, updated, submitted = rest
    if shown.blind:
        created = updated = submitted = None
    return {
        "study": study.slug,
        "round": number,
        "item": key,
        "item_version": version,
        "item_kind": kind,
        "pseudonym": pseudonym,
        "group": shown.group(group),
        "language": language,
        "values": _answer_rows(answer),
        "rationale": rationale,
        "rationale_language": rationale_language,
        "status": str(status.value if hasattr(status, "value") else status),
        "created_at": created,
        "updated_at": updated,
        "submitted_at": submitted,
    }


def _reference_responses(session: Session, study: Study, shown: Disclosure) -> pd.DataFrame:
    """Every response (draft or submitted) in long format: one row per number."""
    records = []
    for row in session.execute(_response_query(study, shown)):
        record = _response_record(study, row, shown)
        values = record.pop("values")
        tail = {
            name: record.pop(name)
            for name in (
                "rationale",
                "rationale_language",
                "status",
                "created_at",
                "updated_at",
                "submitted_at",
            )
        }
        for component, value, text, cannot_judge in values:
            records.append(
                {
                    **record,
                    "component": component,
                    "value": value,
                    "text": text,
                    "cannot_judge": cannot_judge,
                    **tail,
                }
            )
    frame = pd.DataFrame.from_records(records, columns=list(RESPONSE_COLUMNS))
    frame["round"] = frame["round"].astype("int64")
    frame["item_version"] = frame["item_version"].astype("int64")
    frame["value"] = frame["value"].astype(float)
    frame["cannot_judge"] = frame["cannot_judge"].astype(bool)
    for column in ("created_at", "updated_at", "submitted_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _answer_rows(answer: dict[str, Any]) -> list[tuple[str, float | None, str | None, bool]]:
    """(component, value, text, cannot judge) rows of one stored answer, as
    :func:`surveys.rounds.responses_frame` reads it."""
    rows: list[tuple[str, float | None, str | None, bool]] = []
    if "value" in answer:
        rows.append(("", float(answer["value"]), None, False))
    elif answer.get("cannot_judge"):
        rows.append(("", None, None, True))
    for component, value in answer.get("components", {}).items():
        rows.append((str(component), float(value), None, False))
    if "text" in answer:
        rows.append(("", None, str(answer["text"]), False))
    return rows


def _as_text_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every timestamp column as ISO 8601 text (missing stays missing)."""
    result = frame.copy()
    for column in result.columns:
        if isinstance(result[column].dtype, pd.DatetimeTZDtype):
            result[column] = [
                None if pd.isna(value) else value.isoformat() for value in result[column]
            ]
    return result


def reference_csv_zip(tables: ExportTables, stream: io.BufferedIOBase | io.BytesIO) -> None:
    """Write the files of :func:`write_csv` as a zip archive into ``stream``."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in reference_csv_files(tables).items():
            archive.writestr(f"{tables.study}/{name}", payload)


def reference_csv_files(tables: ExportTables) -> dict[str, bytes]:
    """The CSV export's files by name (a path relative to the export's folder).

    The raw tables are UTF-8 as written; their spreadsheet copies pass every cell
    through :func:`spreadsheet_text` and start with a byte-order mark, without which
    Excel reads UTF-8 as the system's legacy encoding.
    """
    files = {}
    for name, frame in tables.tables().items():
        text = _as_text_timestamps(frame)
        files[f"{name}.csv"] = _csv_bytes(text, "utf-8")
        safe = text.map(spreadsheet_text)
        files[f"{SPREADSHEET_FOLDER}/{name}.csv"] = _csv_bytes(safe, "utf-8-sig")
    files["settings.json"] = (json.dumps(tables.settings, indent=2) + "\n").encode("utf-8")
    files["reproduce.py"] = REPRODUCE_SCRIPT.read_bytes()
    files["README.txt"] = EXPORT_README.format(
        study=tables.study, version=tables.settings["software_version"]
    ).encode("utf-8")
    return files


def _csv_bytes(frame: pd.DataFrame, encoding: str) -> bytes:
    """``frame`` as CSV with CRLF line ends (RFC 4180).

    Python's CSV writer quotes a field holding a character of the line terminator, so
    with CRLF a text holding a lone carriage return is quoted; with a bare LF it was
    written unquoted, and every reader split the row there.
    """
    return frame.to_csv(index=False, lineterminator="\r\n").encode(encoding)


def reference_xlsx(tables: ExportTables, path: Path | str | io.BytesIO) -> None:
    """Write an Excel workbook with one sheet per table (methods last).

    Every text is stored as a string cell with its text unchanged: openpyxl turns a
    text starting with "=" into a formula and one such as "#N/A" into an error value,
    so each text cell is typed as a string again before the workbook is saved (no
    spreadsheet evaluates a string cell).  Characters that the file format cannot
    store (C0 controls other than tab, line feed and carriage return) are dropped.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in tables.tables().items():
            sheet = _as_text_timestamps(frame).map(
                lambda value: (
                    ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value
                )
            )
            sheet.to_excel(writer, sheet_name=name, index=False)
        for worksheet in writer.book.worksheets:
            for row in worksheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        cell.data_type = "s"


def reference_json(tables: ExportTables, path: Path | str | io.BytesIO) -> None:
    """Write one JSON document: ``{"study", "settings", <table>: [records…]}``.

    Missing values are ``null``; timestamps ISO 8601 text in UTC.  Texts are exactly as
    typed: JSON is read by programs, which evaluate nothing (no spreadsheet opens it
    without an import that types each value).
    """
    document: dict[str, Any] = {"study": tables.study, "settings": tables.settings}
    for name, frame in tables.tables().items():
        document[name] = [
            {key: _json_value(value) for key, value in record.items()}
            for record in _as_text_timestamps(frame).to_dict(orient="records")
        ]
    payload = (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    if isinstance(path, io.BytesIO):
        path.write(payload)
    else:
        Path(path).write_bytes(payload)


def _json_value(value: Any) -> Any:
    """A cell as a plain JSON value: NaN and NA become ``None``."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def reference_open_text_counts(responses: pd.DataFrame) -> dict[str, dict[int, int]]:
    """The report's open-text counts as ``surveys.report._open_text`` took them from the
    export's responses: submitted answers with a text, by item key and round."""
    answered = responses[
        (responses["item_kind"] == "open_text")
        & (responses["status"] == "submitted")
        & responses["text"].notna()
    ]
    counts = {}
    for key, group in answered.groupby("item"):
        by_round = group.groupby("round")["text"].count()
        counts[str(key)] = {int(number): int(count) for number, count in by_round.items()}
    return counts
