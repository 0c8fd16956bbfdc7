"""Text typed by experts, made safe to store on every database.

PostgreSQL cannot store NUL (U+0000) in a text column nor convert a JSON ``\\u0000``
to text, so a NUL pasted into a rationale made the whole submission fail there, draft
included, while SQLite stored it.  The other C0 control characters are stored by both
databases but are never meant: they come from pasted binary, terminal escapes or
hostile input, and render as nothing or as garbage in pages, exports and reports.

Expert input is therefore *cleaned*, not refused: an expert never loses an answer for
an invisible character they did not mean to type.  Tab, line feed and carriage return
stay (a rationale has paragraphs); every other C0 control character (U+0000–U+001F)
and DEL (U+007F) is removed.  The same function runs on every database, so what is
stored does not depend on which one a study runs on.  Surrogate code points (which a
JSON body can carry, and which neither database can store as UTF-8) are replaced by
U+FFFD.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_UNWANTED_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_typed_text(text: str) -> str:
    """``text`` without the control characters described above (tab, line feed and
    carriage return kept) and with surrogates replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", _UNWANTED_CONTROLS.sub("", text))


def clean_typed_form(form: Mapping[str, str]) -> dict[str, str]:
    """A posted form (field name → typed text) with every name and value cleaned."""
    return {
        clean_typed_text(str(name)): clean_typed_text(str(value))
        for name, value in form.items()
        if value is not None
    }
