"""Dates the console writes in records (protocol stamp, amendments, audit log) read the
same everywhere: a short date and time is ISO-style in every language, never the
locale's ``12/3/26``, which a reader in Mexico takes for 12 March."""

from __future__ import annotations

import datetime

import pytest
from flask_babel import force_locale, format_datetime

MOMENT = datetime.datetime(2026, 3, 12, 18, 10, tzinfo=datetime.UTC)


@pytest.mark.parametrize("locale", ["en", "es"])
def test_short_date_and_time_is_iso_in_every_language(app, locale):
    with app.test_request_context(), force_locale(locale):
        assert format_datetime(MOMENT, "short") == "2026-03-12 18:10"


def test_other_formats_stay_the_locales_own(app):
    with app.test_request_context():
        with force_locale("en"):
            assert format_datetime(MOMENT, "medium") == "Mar 12, 2026, 6:10:00\u202fPM"
        with force_locale("es"):
            assert format_datetime(MOMENT, "medium") == "12 mar 2026, 18:10:00"
