"""Build tidy frames of multi-component items (scenario sets, estimates, matrix items)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from .conftest import frame_from


def components_frame(item: str, cells: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """Rows of one item: component → the values of panelists p0, p1, … (round 1)."""
    return pd.concat(
        [frame_from({item: values}, component=component) for component, values in cells.items()],
        ignore_index=True,
    )
