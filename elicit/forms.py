"""The base of every console form: Flask-WTF (a CSRF token on each) that also refuses
control characters in any text, with a message on the field.

PostgreSQL cannot store NUL, and no other C0 control character belongs in a name, an
email, a reason or a definition: they come from pasted binary or hostile input, and a
line break in a one-line field would reach an email header.  Refused here, they get the
field's own message and everything else typed stays in the form; let through, a NUL in
the login's email made PostgreSQL answer 500.  Multi-line fields (``TextAreaField``)
keep tab and line breaks; one-line fields keep tab only.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import Field, TextAreaField

#: C0 controls but tab, line feed and carriage return, and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: The same, plus line breaks of every kind (one-line fields).
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")

CONTROL_MESSAGE = lazy_gettext("This field must not contain control characters.")
BREAK_MESSAGE = lazy_gettext("This field must be one line, without control characters.")


def control_character_problem(field: Field) -> Any:
    """The message for ``field`` if its text holds a character it must not, else None."""
    if not isinstance(field.data, str):
        return None
    if isinstance(field, TextAreaField):
        return CONTROL_MESSAGE if _CONTROL.search(field.data) else None
    return BREAK_MESSAGE if _CONTROL_OR_BREAK.search(field.data) else None


class SafeForm(FlaskForm):
    """A Flask-WTF form whose text fields refuse control characters (see above)."""

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields' own validators, then the control-character rule on every one."""
        valid = super().validate(extra_validators=extra_validators)
        for field in self:
            problem = control_character_problem(field)
            if problem is not None:
                field.errors = [*field.errors, problem]
                valid = False
        return valid
