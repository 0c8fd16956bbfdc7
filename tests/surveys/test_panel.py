"""The panel: reading panel files, issuing pseudonyms and personal links, checking links."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from sqlalchemy import func, select

from elicit.extensions import current_link_keys, db
from surveys.demo import demo_source
from surveys.errors import AccessRevoked, NotFound
from surveys.models import Base, Panelist, RosterEntry
from surveys.panel import (
    InvalidPanel,
    NewPanelist,
    add_panelists,
    panelist_for_token,
    parse_panel_csv,
    reissue_link,
    revoke_link,
)

HEADER = "name,email,group,language\n"
LANGUAGES = ("en", "es")


def panel_errors(text: str, languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """The errors a panel file is refused with."""
    with pytest.raises(InvalidPanel) as caught:
        parse_panel_csv(text, languages)
    return caught.value.errors


def panelist_count(study) -> int:
    """How many panelists the study has, counted in the database."""
    return db.session.execute(
        select(func.count()).select_from(Panelist).where(Panelist.study_id == study.id)
    ).scalar_one()


# -- parse_panel_csv ---------------------------------------------------------------------


def test_parse_valid_panel() -> None:
    """Rows become entries; emails are compared lower-case, spaces trimmed."""
    rows = parse_panel_csv(
        HEADER + "Ana Pérez, Ana@Example.org ,academic,es\nBob Lee,bob@example.org,us_gov,en\n",
        LANGUAGES,
    )
    assert rows == [
        NewPanelist("Ana Pérez", "ana@example.org", "academic", "es"),
        NewPanelist("Bob Lee", "bob@example.org", "us_gov", "en"),
    ]


def test_header_missing_a_column() -> None:
    """A file without the ``group`` column is refused on line 1."""
    errors = panel_errors("name,email,language\nAna,ana@example.org,es\n")
    assert errors == ["line 1: missing column(s): group"]


def test_header_is_case_and_space_insensitive() -> None:
    """``Name, Email`` is as good as ``name,email``."""
    rows = parse_panel_csv(" Name , EMAIL,Group,Language\nAna,ana@example.org,g,en\n", LANGUAGES)
    assert rows == [NewPanelist("Ana", "ana@example.org", "g", "en")]


def test_empty_name() -> None:
    """Every panelist needs a name."""
    assert panel_errors(HEADER + "  ,ana@example.org,g,en\n") == ["line 2: name: is empty"]


@pytest.mark.parametrize("email", ["not-an-email", "ana@example", "ana @example.org", ""])
def test_bad_email(email: str) -> None:
    """An address without user, ``@`` and a dotted domain is refused."""
    assert panel_errors(HEADER + f"Ana,{email},g,en\n") == [
        f"line 2: email: {email!r} is not an email address"
    ]


def test_duplicate_email_within_the_file() -> None:
    """The second row with the same address (in any case) is refused."""
    errors = panel_errors(HEADER + "Ana,ana@example.org,g,en\nAna P,ANA@example.org,g,es\n")
    assert errors == ["line 3: email: ana@example.org appears twice in the file"]


@pytest.mark.parametrize("group", ["us gov", "grupo!", "a/b", "x" * 64])
def test_bad_group(group: str) -> None:
    """Groups hold letters, digits, ``_`` and ``-`` only (at most 63)."""
    assert panel_errors(HEADER + f"Ana,ana@example.org,{group},en\n") == [
        f"line 2: group: {group!r} may hold only letters, digits, _ and -"
    ]


def test_empty_group_is_allowed() -> None:
    """A panelist need not belong to a group."""
    assert parse_panel_csv(HEADER + "Ana,ana@example.org,,en\n", LANGUAGES)[0].group == ""


def test_unknown_language() -> None:
    """A language the study does not offer is refused."""
    assert panel_errors(HEADER + "Ana,ana@example.org,g,fr\n") == [
        "line 2: language: 'fr' is not one of en, es"
    ]


def test_blank_language_means_the_studys_first() -> None:
    """An empty language falls back to the study's first language, whichever it is."""
    text = HEADER + "Ana,ana@example.org,g,\nBob,bob@example.org,g,  \n"
    assert [row.language for row in parse_panel_csv(text, ("es", "en"))] == ["es", "es"]
    assert [row.language for row in parse_panel_csv(text, ("en", "es"))] == ["en", "en"]


def test_byte_order_mark_is_tolerated() -> None:
    """Spreadsheets often save CSV with a BOM; the first column is still ``name``."""
    rows = parse_panel_csv("\ufeff" + HEADER + "Ana,ana@example.org,g,es\n", LANGUAGES)
    assert rows == [NewPanelist("Ana", "ana@example.org", "g", "es")]


def test_every_bad_row_is_reported_with_its_line() -> None:
    """All problems of all rows at once, each with the file's line number."""
    text = (
        HEADER  # line 1
        + "Ana,ana@example.org,g,en\n"  # line 2: fine
        + "Bob,bob-at-example.org,g,en\n"  # line 3: bad email
        + "Cy,cy@example.org,g,es\n"  # line 4: fine
        + ",dee@example.org,bad group,de\n"  # line 5: three problems
        + "Ann,ana@example.org,g,en\n"  # line 6: duplicate of line 2
    )
    assert panel_errors(text) == [
        "line 3: email: 'bob-at-example.org' is not an email address",
        "line 5: name: is empty",
        "line 5: group: 'bad group' may hold only letters, digits, _ and -",
        "line 5: language: 'de' is not one of en, es",
        "line 6: email: ana@example.org appears twice in the file",
    ]


def test_overlong_name_is_reported_as_a_row_error() -> None:
    """A name longer than the 200 characters the roster stores is a bad row.

    Otherwise PostgreSQL refuses the insert with a DataError (SQLite silently keeps it),
    and ``elicit panel add`` fails with a traceback instead of naming the line.
    """
    with pytest.raises(InvalidPanel) as caught:
        parse_panel_csv(HEADER + f"{'N' * 201},ana@example.org,g,en\n", LANGUAGES)
    assert [error.split(":")[0] for error in caught.value.errors] == ["line 2"]


# -- add_panelists -----------------------------------------------------------------------


def test_links_carry_enough_randomness_and_are_stored_only_hashed(make_study, make_panel):
    """Each token has ≥ 128 random bits (here 256), is unique, and only its hash is kept."""
    study = make_study()
    links = make_panel(study, 6)
    tokens = [link.token for link in links]
    assert len(set(tokens)) == 6
    for token in tokens:
        assert len(token) >= 43
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128

    stored_values = []
    for table in Base.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            stored_values.extend(str(value) for value in row)
    for token in tokens:
        assert not any(token in value for value in stored_values)

    hashes = {
        panelist.pseudonym: panelist.token_hash
        for panelist in db.session.execute(select(Panelist)).scalars()
    }
    for link in links:
        assert hashes[link.pseudonym] == hashlib.sha256(link.token.encode()).hexdigest()


def test_roster_keeps_who_the_expert_is(make_study):
    """Name and email go to the roster; group and language to the panelist."""
    study = make_study()
    (link,) = add_panelists(
        db.session,
        study,
        [NewPanelist("Ana Pérez", "ana@example.org", "academic", "es")],
        keys=current_link_keys(),
    )
    panelist = panelist_for_token(db.session, link.token)
    assert (panelist.pseudonym, panelist.group, panelist.language) == (
        link.pseudonym,
        "academic",
        "es",
    )
    assert (panelist.roster.name, panelist.roster.email) == ("Ana Pérez", "ana@example.org")
    assert link.url("http://x.test/") == f"http://x.test/e/{link.token}"


def test_pseudonyms_are_unique_random_and_reveal_nothing(make_study, make_panel):
    """``P-`` and six characters; the same names in the same order get new pseudonyms."""
    first = make_study()
    second = make_study(
        demo_source().replace('slug = "us-mexico-intelligence"', 'slug = "second-study"')
    )
    first_links = make_panel(first, 8)
    second_links = make_panel(second, 8)
    first_pseudonyms = [link.pseudonym for link in first_links]
    second_pseudonyms = [link.pseudonym for link in second_links]
    for pseudonym in first_pseudonyms + second_pseudonyms:
        assert re.fullmatch(r"P-[A-Z0-9]{6}", pseudonym), pseudonym
    assert len(set(first_pseudonyms)) == 8
    assert len(set(second_pseudonyms)) == 8
    # Identical names, emails, groups, languages and order in both studies: a pseudonym
    # derived from any of them (or from the position) would repeat.
    assert not set(first_pseudonyms) & set(second_pseudonyms)


def test_email_already_on_the_panel_refuses_the_whole_batch(make_study, make_panel):
    """One known address refuses every entry of the batch: nothing is added."""
    study = make_study()
    make_panel(study, 2)  # expert.number0@… and expert.number1@…
    batch = [
        NewPanelist("New Person", "new.person@example.org", "a", "en"),
        NewPanelist("Again", "expert.number1@example.org", "b", "es"),
    ]
    with pytest.raises(InvalidPanel) as caught:
        add_panelists(db.session, study, batch, keys=current_link_keys())
    assert caught.value.errors == ["email: expert.number1@example.org is already on the panel"]
    assert panelist_count(study) == 2
    emails = db.session.execute(select(RosterEntry.email)).scalars().all()
    assert "new.person@example.org" not in emails


def test_same_email_may_join_another_study(make_study, make_panel):
    """The duplicate check is per study."""
    first = make_study()
    second = make_study(
        demo_source().replace('slug = "us-mexico-intelligence"', 'slug = "second-study"')
    )
    make_panel(first, 1)
    make_panel(second, 1)
    assert panelist_count(first) == panelist_count(second) == 1


# -- panelist_for_token ------------------------------------------------------------------


def test_token_finds_its_panelist(make_study, make_panel):
    """Each link opens its own panelist."""
    study = make_study()
    links = make_panel(study, 3)
    for link in links:
        assert panelist_for_token(db.session, link.token).pseudonym == link.pseudonym


def test_unknown_token_is_not_found(make_study, make_panel):
    """A token nobody was given opens nothing, nor does a near miss or the stored hash."""
    study = make_study()
    (link,) = make_panel(study, 1)
    for token in ("x" * 43, link.token[:-1], link.token + "A", ""):
        with pytest.raises(NotFound):
            panelist_for_token(db.session, token)
    with pytest.raises(NotFound):
        panelist_for_token(db.session, hashlib.sha256(link.token.encode()).hexdigest())


def test_revoked_link_is_refused(make_study, make_panel):
    """A withdrawn link raises AccessRevoked, other links keep working."""
    study = make_study()
    revoked, kept = make_panel(study, 2)
    revoke_link(db.session, panelist_for_token(db.session, revoked.token))
    with pytest.raises(AccessRevoked):
        panelist_for_token(db.session, revoked.token)
    assert panelist_for_token(db.session, kept.token).pseudonym == kept.pseudonym


def test_reissued_link_replaces_the_old_one(make_study, make_panel):
    """After reissuing, the old token fails, the new one works, the pseudonym stays."""
    study = make_study()
    (old,) = make_panel(study, 1)
    panelist = panelist_for_token(db.session, old.token)
    revoke_link(db.session, panelist)
    new = reissue_link(db.session, panelist, keys=current_link_keys())
    assert new.token != old.token
    assert new.pseudonym == old.pseudonym
    with pytest.raises(NotFound):
        panelist_for_token(db.session, old.token)
    assert panelist_for_token(db.session, new.token).id == panelist.id
    assert panelist.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
