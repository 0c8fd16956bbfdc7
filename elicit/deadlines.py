"""How far ahead a round's deadline may lie: the console's forms and the API both
refuse a deadline beyond :data:`MAX_YEARS_AHEAD` years (no Delphi round lasts that
long, so it is a typo), and one that no UTC date can represent.  That it lies in the
future is the domain's rule (:func:`surveys.rounds.open_round`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_YEARS_AHEAD = 5
_HORIZON = timedelta(days=round(365.25 * MAX_YEARS_AHEAD))


def latest_deadline(now: datetime | None = None) -> datetime:
    """The latest deadline accepted now (UTC)."""
    return (now or datetime.now(UTC)) + _HORIZON


def in_utc(deadline: datetime) -> datetime | None:
    """``deadline`` (which carries a zone) in UTC; ``None`` when that falls outside the
    years 1–9999 that dates can hold (``9999-12-31T23:59-12:00``)."""
    try:
        return deadline.astimezone(UTC)
    except OverflowError:
        return None
