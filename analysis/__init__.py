"""Pure statistics for Delphi studies over one tidy pandas frame.

No Flask, no SQLAlchemy, no I/O: importable and testable on its own.  The round
lifecycle calls :func:`summarize_round` when a round closes; the other names are the
documented building blocks, usable from a notebook.

Every name below is imported from its module on first use (PEP 562), so that importing
one light part (the consensus rules a study definition names, the quantile methods) does
not load pandas and scipy: the command line and the web service start without them.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.agreement import LEVELS, KendallW, kendalls_w, krippendorff_alpha
    from analysis.classical import (
        BACKGROUNDS,
        QUANTILE_COLUMNS,
        WEIGHTINGS,
        ClassicalModel,
        classical_model,
        estimate_quantiles,
        quantile_array,
    )
    from analysis.consensus import (
        CRITERIA,
        STATES,
        ConsensusRule,
        Criterion,
        consensus,
        rand_ucla,
    )
    from analysis.cross_impact import (
        COHERENCE_COLUMNS,
        IMPACT_COLUMNS,
        CrossImpact,
        cross_impact,
    )
    from analysis.describe import DESCRIBE_COLUMNS, bootstrap_median_ci, describe
    from analysis.estimates import (
        DEFAULT_ESTIMATE_LEVEL,
        ESTIMATE_COMPONENTS,
        aggregate_estimates,
        standardise_intervals,
    )
    from analysis.frame import COLUMNS, FrameError, empty_frame, validate_frame
    from analysis.grouping import Prepared, prepare
    from analysis.pooling import POOLING_METHODS, normalise_scenarios, pool_probabilities
    from analysis.quantiles import QUANTILE_METHODS
    from analysis.scales import KINDS, PROBABILITY_SCALE, Scale
    from analysis.scenario_sets import CELL_SEPARATOR, cell_component, pooled_scenarios
    from analysis.scoring import (
        CALIBRATION_COLUMNS,
        POOL_COMPARISON_COLUMNS,
        SCORE_SUMMARY_COLUMNS,
        ForecastScores,
        brier_score,
        calibration_table,
        categorical_brier_score,
        categorical_log_score,
        log_score,
        pool_versus_panelists,
        score_forecasts,
    )
    from analysis.signposts import (
        LIKELIHOOD_COLUMNS,
        RANKING_COLUMNS,
        SignpostDiagnostics,
        signpost_diagnostics,
    )
    from analysis.stability import WILCOXON_METHODS, ZERO_METHODS, StabilityRule, stability
    from analysis.stopping import StoppingDecision, stopping_decision
    from analysis.summary import SUMMARY_COLUMNS, summarize_groups, summarize_round
    from analysis.tracking import (
        OBSERVATION_KINDS,
        TIMELINE_COLUMNS,
        Observation,
        ScenarioTracking,
        update_scenarios,
    )

#: Each exported name → the module that defines it (read from the imports above, which
#: only the type checker runs).
_EXPORTS: dict[str, str] = {}

__all__ = [
    "BACKGROUNDS",
    "CALIBRATION_COLUMNS",
    "CELL_SEPARATOR",
    "COHERENCE_COLUMNS",
    "COLUMNS",
    "CRITERIA",
    "DEFAULT_ESTIMATE_LEVEL",
    "DESCRIBE_COLUMNS",
    "ESTIMATE_COMPONENTS",
    "IMPACT_COLUMNS",
    "KINDS",
    "LEVELS",
    "LIKELIHOOD_COLUMNS",
    "OBSERVATION_KINDS",
    "POOLING_METHODS",
    "POOL_COMPARISON_COLUMNS",
    "PROBABILITY_SCALE",
    "QUANTILE_COLUMNS",
    "QUANTILE_METHODS",
    "RANKING_COLUMNS",
    "SCORE_SUMMARY_COLUMNS",
    "STATES",
    "SUMMARY_COLUMNS",
    "TIMELINE_COLUMNS",
    "WEIGHTINGS",
    "WILCOXON_METHODS",
    "ZERO_METHODS",
    "ClassicalModel",
    "ConsensusRule",
    "Criterion",
    "CrossImpact",
    "ForecastScores",
    "FrameError",
    "KendallW",
    "Observation",
    "Prepared",
    "Scale",
    "ScenarioTracking",
    "SignpostDiagnostics",
    "StabilityRule",
    "StoppingDecision",
    "aggregate_estimates",
    "bootstrap_median_ci",
    "brier_score",
    "calibration_table",
    "categorical_brier_score",
    "categorical_log_score",
    "cell_component",
    "classical_model",
    "consensus",
    "cross_impact",
    "describe",
    "empty_frame",
    "estimate_quantiles",
    "kendalls_w",
    "krippendorff_alpha",
    "log_score",
    "normalise_scenarios",
    "pool_probabilities",
    "pool_versus_panelists",
    "pooled_scenarios",
    "prepare",
    "quantile_array",
    "rand_ucla",
    "score_forecasts",
    "signpost_diagnostics",
    "stability",
    "standardise_intervals",
    "stopping_decision",
    "summarize_groups",
    "summarize_round",
    "update_scenarios",
    "validate_frame",
]


def _exports() -> dict[str, str]:
    """Name → module of every export, from this file's own ``if TYPE_CHECKING`` imports."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("analysis."):
            for alias in node.names:
                found[alias.asname or alias.name] = node.module or ""
    return found


def __getattr__(name: str) -> Any:
    """Import an exported name's module on first use and keep the name."""
    if not _EXPORTS:
        _EXPORTS.update(_exports())
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The exported names."""
    return sorted(__all__)


class _Package(types.ModuleType):
    """This package, whose exported functions keep their names when a module of the
    same name is imported (``analysis.describe`` is the function, as it always was,
    not the module :mod:`analysis.describe`, which the import system would otherwise
    set as the package's attribute when it first loads it)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            exported = _EXPORTS or _exports()
            if exported.get(name) == value.__name__ and hasattr(value, name):
                value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
