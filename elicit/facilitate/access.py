"""Who may see and do what in the console.

Every console route loads its study through :func:`study_for`, which answers 404 for a
study the user is not a member of (its existence is not revealed) and 403 when a
researcher asks to change something.  Exporting is reading: :func:`may_export` names
the roles that may download a study's data and report, and the pages show the download
links to them only.
"""

from __future__ import annotations

from flask import abort
from flask_babel import gettext
from flask_login import current_user

from elicit.extensions import db
from surveys.accounts import is_member
from surveys.models import Role, Study, User
from surveys.studies import find_study


def console_user() -> User:
    """The logged-in user's account (routes are guarded by ``login_required``)."""
    return current_user.account  # type: ignore[no-any-return]


def study_for(slug: str, *, change: bool = False) -> Study:
    """The study ``slug`` if the user may see it (and change it, with ``change``)."""
    user = console_user()
    study = find_study(db.session, slug)
    if study is None or not is_member(db.session, user, study):
        abort(404, gettext("There is no study at this address, or you are not a member of it."))
    if change and user.role != Role.FACILITATOR:
        abort(403, gettext("Researchers can read and export a study but not change it."))
    return study


#: The roles that may download the data of the studies they are a member of.
EXPORTING_ROLES = frozenset({Role.FACILITATOR, Role.RESEARCHER})


def may_export(user: User) -> bool:
    """Whether ``user`` may download the exports of the studies they are a member of."""
    return user.role in EXPORTING_ROLES
