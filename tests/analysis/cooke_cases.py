"""Published expert-judgment cases (5/50/95 quantiles) and ANDURYL run on them.

The cases are transcribed in ``data/cooke/`` from the TU Delft expert judgment database
as ANDURYL's repository distributes it; see each file's header.
"""

from __future__ import annotations

import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from scipy import stats

CASES_DIRECTORY = Path(__file__).parent / "data" / "cooke"


@dataclass(frozen=True)
class Case:
    """One case: experts × items × (5th, 50th, 95th) and the seed items' realizations."""

    name: str
    experts: tuple[str, ...]
    items: tuple[str, ...]
    scales: tuple[str, ...]
    realizations: np.ndarray
    assessments: np.ndarray

    @property
    def published_background(self) -> tuple[str, ...]:
        """The case's own background per item."""
        return tuple("log-uniform" if scale == "log" else "uniform" for scale in self.scales)

    @property
    def log_where_possible(self) -> tuple[str, ...]:
        """Log-uniform on every item whose answers and realization are all positive."""
        positive = (np.nan_to_num(self.assessments, nan=1.0) > 0).all(axis=(0, 2)) & (
            np.nan_to_num(self.realizations, nan=1.0) > 0
        )
        return tuple("log-uniform" if flag else "uniform" for flag in positive)


def load_case(name: str) -> Case:
    """Read ``data/cooke/<name>.txt``."""
    header: dict[str, list[str]] = {}
    experts, rows = [], []
    for line in (CASES_DIRECTORY / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if "|" not in line:
            key, _, rest = line.partition(":")
            header[key.strip()] = rest.split()
            continue
        expert, *answers = (part.strip() for part in line.split("|"))
        experts.append(expert)
        rows.append([[float(number) for number in answer.split()] for answer in answers])
    assessments = np.array(rows, dtype=float)
    items = tuple(header["items"])
    assert assessments.shape == (len(experts), len(items), 3), assessments.shape
    return Case(
        name=name,
        experts=tuple(experts),
        items=items,
        scales=tuple(header["scales"]),
        realizations=np.array([float(value) for value in header["realizations"]]),
        assessments=assessments,
    )


def run_anduryl(
    assessments: np.ndarray,
    realizations: np.ndarray,
    background: tuple[str, ...],
    *,
    weight_type: str = "global",
    alpha: float | None = None,
    overshoot: float = 0.1,
    exact: bool = True,
) -> dict[str, Any]:
    """Compute a decision maker with ANDURYL (``alpha=None`` optimises the cut-off).

    With ``exact`` (the default), two of ANDURYL's numerical shortcuts are replaced, as
    :func:`analysis.classical_model` documents: its χ² CDF approximation by
    ``scipy.stats.chi2.cdf``, and its calibration scores are rounded to 13 decimals so
    that experts whose scores are equal in exact arithmetic (same or mirror-image hit
    counts) are equal in floating point too.  Everything else is ANDURYL's own code.
    """
    with warnings.catch_warnings():
        # ANDURYL 1.2.2 imports numpy.core and declares pydantic-1 models.
        warnings.simplefilter("ignore")
        from anduryl.core import experts as experts_module
        from anduryl.core.main import Project

    experts, items, _ = assessments.shape
    seeds = ~np.isnan(realizations)
    project = Project()
    project.initialize(
        nexperts=experts, nseed=int(seeds.sum()), ntarget=int((~seeds).sum()), nquantiles=3
    )
    project.experts.ids[:] = [f"e{index}" for index in range(experts)]
    project.experts.names[:] = list(project.experts.ids)
    project.experts.actual_experts[:] = list(range(experts))
    project.assessments.array[:, :, :] = np.transpose(assessments, (0, 2, 1))
    del project.assessments.quantiles[:]
    project.assessments.quantiles.extend([0.05, 0.5, 0.95])
    project.items.ids[:] = [f"i{index}" for index in range(items)]
    project.items.realizations[:] = realizations
    project.items.scales[:] = ["log" if name == "log-uniform" else "uni" for name in background]
    project.items.units[:] = [""] * items
    project.items.questions[:] = [""] * items
    project.items.bounds[:, :] = np.nan
    project.items.overshoots[:, :] = np.nan
    project.items.use_quantiles[:, :] = True
    with ExitStack() as stack:
        if exact:
            original = experts_module.Experts.calibration_score

            def rounded(self: Any, *arguments: Any, **keywords: Any) -> np.ndarray:
                return np.round(original(self, *arguments, **keywords), 13)

            stack.enter_context(
                mock.patch.object(
                    experts_module,
                    "chi2cdf",
                    lambda x, df, iterations=100: stats.chi2.cdf(x, df),
                )
            )
            stack.enter_context(
                mock.patch.object(experts_module.Experts, "calibration_score", rounded)
            )
        # ANDURYL divides 0 by 0 when nobody with weight answered an item (its DM is
        # then NaN there, as ours is).
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", RuntimeWarning)
        project.calculate_decision_maker(
            weight_type=weight_type, overshoot=overshoot, exp_id="DM", alpha=alpha
        )
    scores = project.experts
    dm = scores.ids.index("DM")
    cut = project.main_results.alpha_opt
    combined = scores.comb_score[:experts].copy()
    kept = np.where(scores.calibration[:experts] >= cut, np.nan_to_num(combined), 0.0)
    return {
        "calibration": scores.calibration[:experts].copy(),
        "information": scores.info_real[:experts].copy(),
        "information_all": scores.info_total[:experts].copy(),
        "combined": combined,
        "weights": kept / kept.sum(),
        "alpha": float(cut),
        "dm": project.assessments.array[dm].T.copy(),
        "dm_calibration": float(scores.calibration[dm]),
        "dm_information": float(scores.info_real[dm]),
    }
