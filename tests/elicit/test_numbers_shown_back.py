"""A number an expert gave is shown back in their form (a draft, a later round that
starts from their previous answer) in a form the answer parser reads back as the same
number: never refused as ambiguous or as an exponent on the next submit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elicit.expert.presenters import format_plain
from surveys.answers import LARGEST_NUMBER, parse_number


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (4.0, "4"),
        (-12.0, "-12"),
        (12.5, "12.5"),
        (28.391, "28.3910"),  # "28.391" reads as twenty-eight thousand in Spanish
        (-1.25, "-1.25"),
        (0.125, "0.1250"),
        (1234.567, "1234.567"),  # four digits before the point: not ambiguous
        (0.00001, "0.00001"),  # not "1e-05", which the parser refuses
        (123456789012.5, "123456789012.5"),
    ],
)
def test_examples(value: float, shown: str) -> None:
    assert format_plain(value) == shown
    assert parse_number(shown) == value


@given(st.floats(min_value=-LARGEST_NUMBER, max_value=LARGEST_NUMBER, allow_nan=False))
def test_every_stored_number_reads_back_as_itself(value: float) -> None:
    assert parse_number(format_plain(value)) == value
