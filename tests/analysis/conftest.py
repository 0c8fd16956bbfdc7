"""Fixtures for the analysis tests: build tidy frames from plain Python data."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from analysis import COLUMNS


def frame_from(
    ratings: Mapping[str, Sequence[float]],
    *,
    round_number: int = 1,
    component: str = "",
    groups: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A tidy frame with one row per rating: item key → ratings of panelists p0, p1, …."""
    rows = []
    for item, values in ratings.items():
        for position, value in enumerate(values):
            rows.append(
                {
                    "panelist": f"p{position}",
                    "group": groups[position] if groups is not None else "",
                    "round": round_number,
                    "item": item,
                    "component": component,
                    "value": float(value),
                }
            )
    if not rows:
        return pd.DataFrame({column: [] for column in COLUMNS})
    return pd.DataFrame(rows, columns=list(COLUMNS))


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    """Return :func:`frame_from`, so tests build frames the same way."""
    return frame_from


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: tests are reproducible."""
    return np.random.default_rng(20261127)
