"""A Delphi study run by a script through the API (issue 6), checked from outside.

- The demo study runs three rounds entirely through ``/api/v1`` with a facilitator's
  bearer token: the definition is loaded, the panel added, each round opened and
  closed; the experts answer on their own pages through the links the API returned.
  The CSV and Excel exports, downloaded through the API and read back with pandas and
  openpyxl, agree with the round summaries the API returns, and those with what the
  experts typed; the responses table agrees with the paginated responses; the shipped
  ``reproduce.py`` recomputes the summaries from the CSV export.
- At both anonymity levels, no API response (every GET of the OpenAPI document, every
  page, every write) and no export (every file of the zip, every cell of the workbook,
  the JSON) holds a panelist's name or email; a personal link's token appears only in
  the one answer that issues it.
"""

from __future__ import annotations

import io
import json
import math
import random
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import openpyxl
import pandas as pd
import pytest

from elicit.extensions import db
from surveys.api_tokens import create_token
from surveys.definition import parse_definition
from surveys.demo import demo_source
from surveys.exports import TABLES
from surveys.panel import hash_token, panelist_for_token
from surveys.simulation import simulated_answers
from tests.conftest import BASE_URL, csrf_token, enter, run_reproduce

GROUPS = ("us_official", "mx_official", "academic")
#: Twelve panelists whose names and emails occur nowhere else (checked below).
PANEL = [
    ("Zebulon Quarrington", "zebulon.quarrington@wexfordmail.example"),
    ("Ysolde Fenwickham", "ysolde.f@brackenhurst.example"),
    ("Xanthe Ollerenshaw", "x.ollerenshaw@marlpit.example"),
    ("Wystan Beauchamp-Tully", "wystan@tullyholdings.example"),
    ("Valérie Ñúñez-Öberg", "valerie.nunez.oberg@correo-seguro.example"),
    ("Ulrich Grimsditch", "ugrimsditch@fenland.example"),
    ("Theodora Pevensey", "theodora.pevensey@cairnbrook.example"),
    ("Septimus Arkwright", "septimus.arkwright@mossgiel.example"),
    ("Rosamund Quennell", "rquennell@heatherfield.example"),
    ("Peregrine Thistlewood", "peregrine@thistlewood-family.example"),
    ("Ottilie Varnavides", "ottilie.varnavides@lindisfarne.example"),
    ("Nathaniel Cobbleditch", "n.cobbleditch@orchardvale.example"),
]
#: Every statistic compared between the API's summaries and the exports.
COMPARED = ("n", "n_cannot_judge", "mean", "median", "q1", "q3", "iqr", "min", "max", "state")


# -- a client that goes through the API and keeps every answer -------------------------------


class Api:
    """Calls ``/api/v1`` with a bearer token; remembers every response it got."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.seen: list[tuple[str, object]] = []

    def call(self, method: str, path: str, body: object = None, status: int = 200):
        url = path if path.startswith("/api/v1") else f"/api/v1{path}"
        response = self.client.open(url, method=method, headers=self.headers, json=body)
        self.seen.append((f"{method} {url}", response))
        assert response.status_code == status, (method, url, response.status_code, response.text)
        return response

    def get(self, path: str, status: int = 200):
        return self.call("GET", path, status=status)

    def post(self, path: str, body: object = None, status: int = 200):
        return self.call("POST", path, {} if body is None else body, status=status)

    def pages(self, path: str) -> list[dict[str, object]]:
        """Every page of a paginated listing, following ``next``."""
        pages = [self.get(path).get_json()]
        while pages[-1]["next"] is not None:
            following = pages[-1]["next"]
            assert following.startswith("/api/v1/"), following
            pages.append(self.get(following).get_json())
        return pages


@pytest.fixture
def api(client, make_user) -> Api:
    """A facilitator's write token, as a script would use it; the user is a member of
    no study yet."""
    lead = make_user("lead@example.org", "facilitator")
    return Api(client, create_token(db.session, lead, "delphi script", "write").secret)


def _panelists() -> list[dict[str, str]]:
    return [
        {"name": name, "email": email, "group": GROUPS[i % 3], "language": ("en", "es")[i % 2]}
        for i, (name, email) in enumerate(PANEL)
    ]


def _token_of(link: str) -> str:
    """The token of a personal link ``BASE_URL/e/<token>``."""
    assert link.startswith(f"{BASE_URL}/e/"), link
    return urlsplit(link).path.removeprefix("/e/")


def _demo_source(slug: str | None = None) -> str:
    source = demo_source()
    if slug is None:
        return source
    line = f'slug = "{parse_definition(source, name="demo").slug}"'
    assert line in source
    return source.replace(line, f'slug = "{slug}"', 1)


# -- reading exports back ----------------------------------------------------------------------


def _extract(content: bytes, folder: Path) -> Path:
    """Unpack the CSV export's zip; return the folder holding its files."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        archive.extractall(folder)
    (top,) = {name.split("/")[0] for name in names}
    return folder / top


def _sheet_records(workbook, name: str) -> list[dict[str, object]]:
    rows = workbook[name].iter_rows(values_only=True)
    header = next(rows)
    return [dict(zip(header, row, strict=True)) for row in rows]


def _same(exported: object, served: object) -> bool:
    """An exported cell equals the API's value (missing: NaN, None or empty)."""
    missing = (None, "")
    if served is None or (isinstance(served, float) and math.isnan(served)):
        return exported in missing or (isinstance(exported, float) and math.isnan(exported))
    if isinstance(served, bool | str):
        return str(exported) == str(served)
    return exported not in missing and float(exported) == pytest.approx(float(served))


def _summary_rows(api: Api, slug: str, rounds: int) -> dict[tuple[int, str, str], dict]:
    rows = {}
    for number in range(1, rounds + 1):
        for row in api.get(f"/studies/{slug}/rounds/{number}/summary").get_json()["rows"]:
            key = (number, row["item"], row["component"])
            assert key not in rows
            rows[key] = row
    return rows


# -- the study, run by a script ----------------------------------------------------------------


def _answer(client, link: str, answers: dict[str, str], *, save: bool = False) -> None:
    """An expert opens their link and sends the form, as their browser would: submits
    it, or only saves it as a draft."""
    enter(client, _token_of(link))
    page = client.get("/e/")
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_token(page.text), **answers}
    if save:
        data["action"] = "save"
    response = client.post("/e/", data=data)
    assert response.status_code == 302, response.text


def test_a_three_round_study_run_through_the_api(api, client, tmp_path):
    created = api.post("/studies", {"definition": _demo_source()}, status=201)
    study = created.get_json()
    slug = study["slug"]
    assert created.headers["Location"].endswith(f"/api/v1/studies/{slug}")
    assert api.get(f"/studies/{slug}").get_json()["rounds"] == []
    assert study["quantile_method"] == "linear"  # numpy's default, used below

    issued = api.post(f"/studies/{slug}/panelists", {"panelists": _panelists()}, status=201)
    links = issued.get_json()["panelists"]
    assert [link["group"] for link in links] == [p["group"] for p in _panelists()]
    assert [link["index"] for link in links] == list(range(len(PANEL)))
    assert "pseudonym" not in issued.get_data(as_text=True)
    # The answer names no pseudonym; the test reads each link's from the database.
    pseudonym_of = {
        link["link"]: panelist_for_token(db.session, link["link"].rsplit("/", 1)[1]).pseudonym
        for link in links
    }

    definition = parse_definition(_demo_source(), name="demo")
    kinds = {item.key: item.kind for item in definition.items}
    rng = random.Random(6)
    #: round → pseudonym → what they submitted (drafts are not in the summaries).
    submitted: dict[int, dict[str, dict[str, str]]] = {}
    for number in (1, 2, 3):
        opened = api.post(f"/studies/{slug}/rounds", status=201)
        assert opened.get_json()["number"] == number
        assert opened.get_json()["status"] == "open"
        submitted[number] = {}
        for index, link in enumerate(links):
            if number == 2 and index == 11:
                continue  # one expert skips round 2
            answers = simulated_answers(rng, definition)
            draft_only = number == 3 and index == 10
            _answer(client, link["link"], answers, save=draft_only)
            if not draft_only:
                submitted[number][pseudonym_of[link["link"]]] = answers
        closed = api.post(f"/studies/{slug}/rounds/{number}/close").get_json()
        assert closed["respondents"] == len(submitted[number])
        assert api.get(f"/studies/{slug}/rounds/{number}/summary").get_json() == closed
    # The study has run its course: a fourth round is refused.
    api.post(f"/studies/{slug}/rounds", status=409)
    rounds = api.get(f"/studies/{slug}/rounds").get_json()["rounds"]
    assert [(r["number"], r["status"]) for r in rounds] == [(n, "closed") for n in (1, 2, 3)]

    summaries = _summary_rows(api, slug, 3)
    # The API's summaries are what the experts typed: n, median and quartiles (linear
    # interpolation, numpy's default) of every single-number item.
    for (number, item, _), row in summaries.items():
        if kinds[item] not in ("likert", "probability"):
            continue
        typed = [float(a[item]) for a in submitted[number].values() if item in a]
        assert row["n"] == len(typed), (number, item)
        q1, median, q3 = np.percentile(typed, [25, 50, 75])
        assert (row["q1"], row["median"], row["q3"]) == pytest.approx((q1, median, q3))
    assert {number for number, _, _ in summaries} == {1, 2, 3}

    # The CSV export, read back with pandas, holds the same summaries.
    csv_zip = api.get(f"/studies/{slug}/export/csv")
    assert csv_zip.mimetype == "application/zip"
    folder = _extract(csv_zip.data, tmp_path / "csv")
    csv_summaries = pd.read_csv(folder / "summaries.csv")
    assert len(csv_summaries) == len(summaries)
    for record in csv_summaries.to_dict(orient="records"):
        row = summaries[(record["round"], record["item"], _text(record["component"]))]
        for column in COMPARED:
            assert _same(record[column], row[column]), (record["item"], column)
    # Subgroup rows too (small groups masked in both).
    csv_groups = pd.read_csv(folder / "subgroups.csv", keep_default_na=False)
    served_groups = {
        (number, row["group"], row["item"], row["component"]): row
        for number in (1, 2, 3)
        for row in api.get(f"/studies/{slug}/rounds/{number}/summary").get_json()["groups"]
    }
    assert len(csv_groups) == len(served_groups) > 0
    for record in csv_groups.to_dict(orient="records"):
        key = (record["round"], record["group"], record["item"], _text(record["component"]))
        assert str(record["masked"]) == str(served_groups[key]["masked"])
        for column in ("n", "median", "iqr"):
            assert _same(_number(record[column]), served_groups[key][column]), key

    # The Excel export, read back with openpyxl, holds them too.
    xlsx = api.get(f"/studies/{slug}/export/xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.data), read_only=True)
    xlsx_summaries = _sheet_records(workbook, "summaries")
    assert len(xlsx_summaries) == len(summaries)
    for record in xlsx_summaries:
        row = summaries[(record["round"], record["item"], _text(record["component"]))]
        for column in COMPARED:
            assert _same(record[column], row[column]), (record["item"], column)

    # The responses table is every response the API pages through, once each.
    pages = api.pages(f"/studies/{slug}/responses?per_page=13")
    total = pages[0]["total"]
    assert len(pages) == math.ceil(total / 13) > 3
    assert [page["page"] for page in pages] == list(range(1, len(pages) + 1))
    assert all(len(page["responses"]) == 13 for page in pages[:-1])
    served: dict[tuple[int, str, str], dict] = {}
    for page in pages:
        for response in page["responses"]:
            key = (response["round"], response["item"], response["pseudonym"])
            assert key not in served, f"{key} on two pages"
            served[key] = response
    assert len(served) == total
    # Whoever submitted a round has responses in it, submitted ones; nobody else has.
    for number, by_pseudonym in submitted.items():
        answered = {
            r["pseudonym"]
            for r in served.values()
            if r["round"] == number and r["status"] == "submitted"
        }
        assert answered == set(by_pseudonym), number
    csv_responses = pd.read_csv(
        folder / "responses.csv", keep_default_na=False, na_values={"value": [""]}
    )
    xlsx_responses = pd.read_excel(io.BytesIO(xlsx.data), sheet_name="responses")
    assert len(xlsx_responses) == len(csv_responses)
    assert list(xlsx_responses["pseudonym"]) == list(csv_responses["pseudonym"])
    exported_keys = set()
    for record in csv_responses.to_dict(orient="records"):
        key = (record["round"], record["item"], record["pseudonym"])
        exported_keys.add(key)
        response = served[key]
        for column in ("item_version", "item_kind", "group", "language", "status"):
            assert str(record[column]) == str(response[column]), (key, column)
        assert _text(record["rationale"]) == (response["rationale"] or "")
        (value,) = [v for v in response["values"] if v["component"] == _text(record["component"])]
        assert _same(record["value"], value["value"]), key
        assert _text(record["text"]) == (value["text"] or "")
        assert str(record["cannot_judge"]) == str(value["cannot_judge"])
    assert exported_keys == set(served)
    # Each submitted number is in the export under its expert's pseudonym.
    for number, by_pseudonym in submitted.items():
        for pseudonym, answers in list(by_pseudonym.items())[:3]:
            for field, typed in answers.items():
                item, _, component = field.partition(".")
                if item == "rationale" or kinds[item] == "open_text":
                    continue
                row = csv_responses[
                    (csv_responses["round"] == number)
                    & (csv_responses["pseudonym"] == pseudonym)
                    & (csv_responses["item"] == item)
                    & (csv_responses["component"].map(_text) == component)
                ]
                assert row["value"].tolist() == [float(typed)], (number, pseudonym, field)

    # The shipped script recomputes every summary from the exported responses.
    result = run_reproduce(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "FAIL" not in result.stdout, result.stdout


def _text(value: object) -> str:
    """A text cell as text: missing (NaN, None) is empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _number(value: object) -> object:
    """A cell read as text (keep_default_na=False) as a number; empty is missing."""
    if value == "":
        return None
    return float(value) if isinstance(value, str) else value


# -- nothing personal in any answer or export ------------------------------------------------


def _texts_of_export(fmt: str, content: bytes) -> list[tuple[str, str]]:
    """Every text in an export: each file of the zip, each cell of each sheet, the JSON."""
    if fmt == "json":
        document = json.loads(content)
        return [
            ("json", content.decode("utf-8")),
            ("json", json.dumps(document, ensure_ascii=False)),
        ]
    texts = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            texts.append((f"{fmt}:{name}", archive.read(name).decode("utf-8")))
    if fmt == "xlsx":
        workbook = openpyxl.load_workbook(io.BytesIO(content))
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        texts.append((f"xlsx:{sheet.title}!{cell.coordinate}", str(cell.value)))
    return texts


def _texts_of_response(response) -> list[str]:
    """A response's body as sent, and, for JSON, with its non-ASCII characters unescaped."""
    texts = [response.get_data(as_text=True)]
    if response.is_json:
        texts.append(json.dumps(response.get_json(), ensure_ascii=False))
    return texts


def _run_study(api: Api, client, slug: str, anonymity: str) -> tuple[list[str], int]:
    """Load a study at ``anonymity``, add the panel, run round 1 (closed in the
    background) and round 2 (open, a draft among the answers); return the panel's link
    tokens and round 1's close."""
    body = {"definition": _demo_source(slug), "anonymity": anonymity}
    assert api.post("/studies", body, status=201).get_json()["anonymity"] == anonymity
    issued = api.post(f"/studies/{slug}/panelists", {"panelists": _panelists()}, status=201)
    links = [entry["link"] for entry in issued.get_json()["panelists"]]
    # Adding someone again is refused, and the refusal does not name them either.
    api.post(f"/studies/{slug}/panelists", {"panelists": _panelists()[:1]}, status=422)
    definition = parse_definition(_demo_source(slug), name="demo")
    rng = random.Random(anonymity)
    for number in (1, 2):
        api.post(f"/studies/{slug}/rounds", status=201)
        for index, link in enumerate(links[:8]):
            answers = simulated_answers(rng, definition)
            answers["rationale.trust_now"] = "My reasons, which name nobody."
            _answer(client, link, answers, save=index == 0)
        if number == 1:
            closing = api.post(f"/studies/{slug}/rounds/{number}/closing", status=202)
    return [_token_of(link) for link in links], closing.get_json()["id"]


def _every_get(api: Api, slug: str, closings: list[int]) -> dict[str, str]:
    """GET every path of the OpenAPI document, for every round and export format,
    every page of the responses (whole and filtered), every prepared export, each
    format prepared first (the test app writes it at once), and each of ``closings``;
    return the address of each prepared file → its format."""
    document = api.get("/openapi.json").get_json()
    still_open = api.get(f"/studies/{slug}/rounds/2").get_json()["status"] == "open"
    prepared = {
        fmt: api.post(f"/studies/{slug}/exports", {"format": fmt}, status=202).get_json()
        for fmt in ("csv", "xlsx", "json")
    }
    assert {state["status"] for state in prepared.values()} == {"ready"}
    values = {
        "slug": [slug],
        "number": [1, 2],
        "fmt": ["csv", "xlsx", "json"],
        "export_id": [state["id"] for state in prepared.values()],
        "closing_id": closings,
    }
    for path, methods in document["paths"].items():
        if "get" not in methods:
            continue
        urls = [path]
        for name, choices in values.items():
            urls = [u.replace(f"{{{name}}}", str(c)) for u in urls for c in choices]
        for url in dict.fromkeys(urls):
            if url.endswith("/rounds/2/summary") and still_open:
                api.get(url, status=404)  # no summary yet
            elif url.endswith("/responses"):
                api.pages(f"{url}?per_page=9")
                api.pages(f"{url}?per_page=50&round=2")
            else:
                api.get(url)
    return {f"GET {state['file']}": fmt for fmt, state in prepared.items()}


@pytest.mark.parametrize("anonymity", ["standard", "blind"])
def test_no_answer_and_no_export_names_a_panelist(api, client, anonymity):
    forbidden = [text for entry in PANEL for text in entry]
    forbidden += [entry[0].split()[-1] for entry in PANEL]  # the surnames alone
    forbidden += [entry[1].split("@")[0] for entry in PANEL]  # the emails' local parts
    assert not any(text.lower() in demo_source().lower() for text in forbidden)

    slug = f"privacy-{anonymity}"
    tokens, first = _run_study(api, client, slug, anonymity)
    prepared_files = _every_get(api, slug, [first])
    api.post(f"/studies/{slug}/rounds/2/close")
    prepared_files |= _every_get(api, slug, [first])  # with both rounds closed
    secrets = tokens + [hash_token(token) for token in tokens]
    secrets.append(api.headers["Authorization"].removeprefix("Bearer "))

    scanned = 0
    issuing = f"POST /api/v1/studies/{slug}/panelists"
    for label, response in api.seen:
        if "/export/" in label or label in prepared_files:
            fmt = prepared_files.get(label) or label.rsplit("/", 1)[1]
            sources, texts = zip(*_texts_of_export(fmt, response.data), strict=True)
            if fmt == "csv":  # every file: each table, the settings, the script
                files = {source.rsplit("/", 1)[-1] for source in sources}
                assert {f"{table}.csv" for table in TABLES} | {"reproduce.py"} <= files
            if fmt == "xlsx":  # every cell of every sheet
                sheets = {source.split(":")[1].split("!")[0] for source in sources if "!" in source}
                assert sheets == set(TABLES)
        else:
            texts = _texts_of_response(response)
        for text in texts:
            lowered = text.lower()
            for personal in forbidden:
                assert personal.lower() not in lowered, (label, personal)
            if label == issuing and response.status_code == 201:
                continue  # the one answer that issues the links
            for secret in secrets:
                assert secret.lower() not in lowered, (label, "a token")
        scanned += 1
    # The links were in the answer that issued them (so the scan can find a token).
    (issued,) = [r for label, r in api.seen if label == issuing and r.status_code == 201]
    assert all(token in issued.get_data(as_text=True) for token in tokens)
    labels = {label.split("?")[0] for label, _ in api.seen}
    for fmt in ("csv", "xlsx", "json"):
        assert f"GET /api/v1/studies/{slug}/export/{fmt}" in labels
    assert len(prepared_files) == 6 and set(prepared_files) <= labels  # both states
    assert f"GET /api/v1/studies/{slug}/rounds/1/summary" in labels
    assert f"GET /api/v1/studies/{slug}/panelists" in labels
    assert f"GET /api/v1/studies/{slug}/closings/{first}" in labels
    assert scanned > 40
