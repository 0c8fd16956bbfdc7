"""The message catalogues: complete, compiled, and used by the pages.

These tests fail when someone adds interface text and forgets to translate it. The
fix is the workflow at the top of ``babel.cfg``: extract, update, translate the new
entries in ``elicit/translations/es/LC_MESSAGES/messages.po``, compile, commit.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from elicit.extensions import db
from surveys.rounds import open_round
from tests.conftest import csrf_token, enter

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "elicit" / "translations"
LOCALES = ("en", "es")
WORKFLOW = "run the extract/update/compile commands at the top of babel.cfg"

PERCENT_NAMED = re.compile(r"%\((\w+)\)[sdif]")
BRACE_NAMED = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")

#: Interface text that must not appear on the Spanish expert page.
ENGLISH_INTERFACE = (
    "Review and submit",
    "Save draft",
    "Why? (optional)",
    "questions answered",
    "Round 1 of at most",
    "Skip to content",
    "I can't judge this",
    "Place…",
    "characters.",
    "Rescale proportionally",
    "Lowest plausible value",
    "Best guess",
    "Probability slider",
    "must add up to 100",
    "Saving…",
)


def _catalogue(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _messages(catalog: Catalog) -> dict[str | tuple[str, ...], Message]:
    """The catalogue's messages (not the header, not obsolete ones) by id."""
    return {_key(message.id): message for message in catalog if message.id}


def _key(message_id: str | tuple[str, ...] | list[str]) -> str | tuple[str, ...]:
    return message_id if isinstance(message_id, str) else tuple(message_id)


def _strings(message: Message) -> tuple[str, ...]:
    return (message.string,) if isinstance(message.string, str) else tuple(message.string)


def _ids(message: Message) -> tuple[str, ...]:
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def _compiled(catalog: Catalog) -> dict[str | tuple[str, ...], str | tuple[str, ...]]:
    """``{id: string}`` of a catalogue as it is (or would be) compiled to a ``.mo``."""
    return {
        _key(message.id): _key(message.string)
        for message in catalog
        if message.id and not message.fuzzy
    }


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The messages of the current sources, extracted exactly as ``babel.cfg`` says."""
    output = tmp_path_factory.mktemp("i18n") / "messages.pot"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-o",
            str(output),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    with output.open("rb") as handle:
        catalog = read_po(handle)
    assert len(_messages(catalog)) > 50, "extraction found almost nothing; is babel.cfg right?"
    return catalog


# -- complete -----------------------------------------------------------------------


def test_every_message_is_translated_into_spanish(extracted):
    spanish = _messages(_catalogue("es"))
    problems = []
    for key, source in _messages(extracted).items():
        message = spanish.get(key)
        where = ", ".join(f"{path}:{line}" for path, line in source.locations)
        if message is None:
            problems.append(f"missing: {key!r} ({where})")
        elif message.fuzzy:
            problems.append(f"fuzzy: {key!r} ({where})")
        elif source.pluralizable != message.pluralizable:
            problems.append(f"singular/plural mismatch: {key!r} ({where})")
        elif not all(string.strip() for string in _strings(message)):
            problems.append(f"untranslated: {key!r} ({where})")
    assert not problems, f"Spanish catalogue incomplete ({WORKFLOW}):\n" + "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogues_and_template_know_every_message(extracted, locale):
    """The committed template and both catalogues were updated after the last extraction,
    so that 'en' is a known locale with the same messages."""
    current = set(_messages(extracted))
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        template = set(_messages(read_po(handle)))
    assert current <= template, (
        f"messages.pot is stale ({WORKFLOW}): {sorted(current - template, key=str)}"
    )
    catalogue = set(_messages(_catalogue(locale)))
    assert current <= catalogue, (
        f"{locale} is stale ({WORKFLOW}): {sorted(current - catalogue, key=str)}"
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_plural_forms_are_the_two_of_english_and_spanish(locale):
    catalog = _catalogue(locale)
    assert catalog.num_plurals == 2
    assert catalog.plural_expr == "(n != 1)"


# -- compiled -----------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalogue_is_up_to_date(locale):
    """The committed ``.mo`` says what compiling the committed ``.po`` says now."""
    source = _catalogue(locale)
    fresh = io.BytesIO()
    write_mo(fresh, source)
    fresh.seek(0)
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        committed = _compiled(read_mo(handle))
    assert committed == _compiled(read_mo(fresh)), f"{locale} .mo is stale ({WORKFLOW})"


# -- placeholders -------------------------------------------------------------------


def _placeholders(text: str) -> tuple[set[str], set[str], int]:
    return set(PERCENT_NAMED.findall(text)), set(BRACE_NAMED.findall(text)), text.count("%%")


def _formats(text: str, names: set[str]) -> bool:
    try:
        text % dict.fromkeys(names, "1")
    except (ValueError, TypeError, KeyError):
        return False
    return True


def test_translations_keep_the_placeholders():
    problems = []
    for key, message in _messages(_catalogue("es")).items():
        ids = _ids(message)
        names, braces, escapes = _placeholders(ids[0])
        for plural_id in ids[1:]:
            more_names, more_braces, _ = _placeholders(plural_id)
            names, braces = names | more_names, braces | more_braces
        for string in _strings(message):
            if not string:
                continue
            got_names, got_braces, got_escapes = _placeholders(string)
            if (got_names, got_braces, got_escapes) != (names, braces, escapes):
                problems.append(f"{key!r} -> {string!r}")
            elif _formats(ids[0], names) and not _formats(string, names):
                problems.append(f"{key!r} -> {string!r} (a stray % breaks formatting)")
    assert not problems, "placeholders differ:\n" + "\n".join(problems)


# -- used by the pages --------------------------------------------------------------


@pytest.fixture
def expert_token(app, make_study, make_panel) -> str:
    """A demo study with round 1 open and one panelist's token."""
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    return link.token


def test_spanish_expert_page_has_no_english_interface_text(client, expert_token):
    enter(client, expert_token)
    page = client.get("/e/?lang=es").text
    assert '<html lang="es">' in page
    assert "Revisar y enviar" in page
    assert "Guardar borrador" in page
    leftovers = [text for text in ENGLISH_INTERFACE if text in page]
    assert not leftovers, f"English on the Spanish page: {leftovers}"


def test_english_expert_page_keeps_the_source_text(client, expert_token):
    enter(client, expert_token)
    page = client.get("/e/?lang=en").text
    assert '<html lang="en">' in page
    assert "Review and submit" in page
    assert "Revisar y enviar" not in page


def test_spanish_error_messages(client, expert_token):
    enter(client, expert_token)
    page = client.get("/e/?lang=es").text
    response = client.post("/e/", data={"csrf_token": csrf_token(page), "trigger_tariffs": "150"})
    assert response.status_code == 422
    assert "Sus respuestas aún no se han enviado" in response.text
    assert "Escriba un porcentaje de 0 a 100." in response.text
