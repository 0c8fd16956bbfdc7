"""What the analysis needs to know about an item beyond its answers: kind and scale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analysis.deferred import deferred

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = deferred("numpy")
    pd = deferred("pandas")

KINDS: tuple[str, ...] = (
    "likert",
    "probability",
    "scenario_set",
    "numeric_estimate",
    "ranking",
    "cross_impact",
)
"""Item kinds whose answers are numbers (open text carries none).  A ``cross_impact``
item's parts are conditional probabilities in percent, one scenario set per trigger
(see :mod:`analysis.cross_impact`)."""


@dataclass(frozen=True)
class Scale:
    """An item's kind and answer scale, as written in the study definition.

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    minimum, maximum
        The ends of the answer scale (e.g. 1 and 9 for a 9-point rating, 0 and 100 for a
        probability in percent).  ``None`` when the scale is open (numeric estimates).
    options
        A, the number of equally spaced answer options of a rating scale (5 for 1–5).
        Defaults to ``maximum − minimum + 1`` for ``likert`` items with whole-number ends;
        ``None`` for a continuous scale.  rwg and the AD cut-off need A.
    band
        The agreement band ``(low, high)`` whose share of ratings is reported as
        ``share`` (e.g. ``(4, 5)``, the top two boxes of a 1–5 scale); ends included.
    """

    kind: str = "likert"
    minimum: float | None = None
    maximum: float | None = None
    options: int | None = None
    band: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown item kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if (self.minimum is None) != (self.maximum is None):
            raise ValueError("give both minimum and maximum of a scale, or neither")
        if self.minimum is not None and self.maximum is not None:
            if not self.minimum < self.maximum:
                raise ValueError(f"scale minimum {self.minimum} must be below {self.maximum}")
            if (
                self.options is None
                and self.kind == "likert"
                and float(self.minimum).is_integer()
                and float(self.maximum).is_integer()
            ):
                object.__setattr__(self, "options", int(self.maximum - self.minimum) + 1)
        if self.options is not None and self.options < 2:
            raise ValueError(f"a scale needs at least 2 options, not {self.options}")
        if self.band is not None:
            low, high = self.band
            if low > high:
                raise ValueError(f"band {self.band} must be (low, high) with low ≤ high")

    @property
    def step(self) -> float | None:
        """Distance between adjacent options of a discrete scale, else ``None``."""
        if self.options is None or self.minimum is None or self.maximum is None:
            return None
        return (self.maximum - self.minimum) / (self.options - 1)


PROBABILITY_SCALE = Scale(kind="probability", minimum=0.0, maximum=100.0)
"""Probabilities in percent, the convention of probability and scenario-set items."""


def scale_columns(items: pd.Series, scales: Mapping[str, Scale] | None) -> pd.DataFrame:
    """Per-row scale attributes for a Series of item keys (NaN / "" where unknown)."""
    scales = scales or {}
    unique = pd.unique(items)
    table = pd.DataFrame(
        {
            "kind": [scales[key].kind if key in scales else "" for key in unique],
            "scale_min": [_number(scales.get(key), "minimum") for key in unique],
            "scale_max": [_number(scales.get(key), "maximum") for key in unique],
            "options": [_number(scales.get(key), "options") for key in unique],
            "band_low": [_band(scales.get(key), 0) for key in unique],
            "band_high": [_band(scales.get(key), 1) for key in unique],
        },
        index=pd.Index(unique, dtype=object),
    )
    result = table.reindex(np.asarray(items, dtype=object))
    result.index = items.index
    return result


def _number(scale: Scale | None, attribute: str) -> float:
    value = None if scale is None else getattr(scale, attribute)
    return np.nan if value is None else float(value)


def _band(scale: Scale | None, end: int) -> float:
    if scale is None or scale.band is None:
        return np.nan
    return float(scale.band[end])
