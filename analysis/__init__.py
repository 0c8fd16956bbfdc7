"""Pure statistics for Delphi studies over one tidy pandas frame.

No Flask, no SQLAlchemy, no I/O: importable and testable on its own.
"""

from analysis.consensus import CRITERIA, ConsensusRule, Criterion
from analysis.describe import QUANTILE_METHODS, describe
from analysis.frame import COLUMNS, FrameError, empty_frame, validate_frame
from analysis.summary import summarize_round

__all__ = [
    "COLUMNS",
    "CRITERIA",
    "QUANTILE_METHODS",
    "ConsensusRule",
    "Criterion",
    "FrameError",
    "describe",
    "empty_frame",
    "summarize_round",
    "validate_frame",
]
