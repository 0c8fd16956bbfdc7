"""Consensus rules: criteria on an item's round statistics, combined per study or item.

A study defines its consensus rule before the first round (CREDES, Jünger et al. 2017)
and may override it per item.  Each rule combines criteria with ``"all"`` or ``"any"``;
every distribution then gets one of three states:

``"dissensus"``
    a dissensus criterion fired: the RAND/UCLA disagreement (IPR > IPRAS) or a bimodal
    split (``split``).  Dissensus wins over the other two, because a polarised panel has
    not agreed even if a dispersion threshold happens to be met.
``"consensus"``
    otherwise, when the combined consensus criteria hold;
``"no_consensus"``
    otherwise.

The rule of an item may be replaced for single parts of its answer (a scenario, a
ranking option, a numeric estimate's best guess or confidence) by a rule of that part.

A criterion whose statistic is undefined (n = 0, n < 2 for sd-based statistics, an item
without the scale a criterion needs) is never met and never signals dissensus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from analysis.deferred import deferred
from analysis.frame import KEY_COLUMNS
from analysis.grouping import prepare
from analysis.quantiles import SortedGroups, check_quantile_method
from analysis.scales import Scale, scale_columns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = deferred("numpy")
    pd = deferred("pandas")

CRITERIA: Mapping[str, tuple[str, ...]] = {
    "iqr": ("max",),
    "share": ("low", "high", "min"),
    "cv": ("max",),
    "ad_mean": ("divisor",),
    "ad_median": ("divisor",),
    "rwg": ("min",),
    "rand_ucla": (),
    "split": ("min_share",),
}
"""Known criterion kinds and the (numeric, all required) parameters each one takes.

- ``iqr``: IQR ≤ ``max`` (item units, study quantile method).
- ``share``: share of valid ratings with ``low`` ≤ x ≤ ``high`` is ≥ ``min`` (0–1);
  percent agreement, the most common definition (Diamond et al. 2014, J Clin Epidemiol
  67:401, median threshold 75 %); "cannot judge" answers are not in the denominator.
- ``iqr`` ≤ 1 on 4–5-point scales and ``cv`` ≤ 0.5 are the thresholds von der Gracht
  (2012, Technol Forecast Soc Change 79:1525) reports as common.
- ``cv``: CV = sd / mean ≤ ``max``.
- ``ad_mean`` / ``ad_median``: AD index about the mean / median ≤ h·A / ``divisor``
  (Burke & Dunlap 2002 use divisor 6; A options with step h).
- ``rwg``: rwg ≥ ``min`` (James, Demaree & Wolf 1984; 0.7 is the usual cut-off).
- ``rand_ucla``: RAND/UCLA agreement (Fitch et al. 2001); its disagreement is dissensus.
- ``split``: dissensus detector only: the shares of ratings in the lowest third and in
  the highest third of the scale are both ≥ ``min_share`` (the classic RAND panel rule
  for 9 raters, "≥ 3 in 1–3 and ≥ 3 in 7–9", is ``min_share = 1/3``).
"""

DISSENSUS_ONLY: frozenset[str] = frozenset({"split"})
"""Criterion kinds that only detect dissensus and take no part in "all"/"any"."""

STATES: tuple[str, ...] = ("consensus", "no_consensus", "dissensus")
"""The three consensus states of a distribution."""

RAND_UCLA_VERDICTS: tuple[str, ...] = ("agreement", "indeterminate", "disagreement")
"""The three RAND/UCLA verdicts."""


@dataclass(frozen=True)
class Criterion:
    """One consensus criterion, e.g. ``Criterion("iqr", {"max": 1})``.

    Raises ValueError naming the kind or parameter that is unknown, missing or out of
    range; see :data:`CRITERIA` for the definitions.
    """

    kind: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in CRITERIA:
            raise ValueError(
                f"unknown consensus criterion {self.kind!r}; choose one of " + ", ".join(CRITERIA)
            )
        expected = set(CRITERIA[self.kind])
        if set(self.params) != expected:
            raise ValueError(
                f"criterion {self.kind!r} takes {sorted(expected)}, got {sorted(self.params)}"
            )
        for name, value in self.params.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"criterion {self.kind!r}: {name} must be a number")
            if not math.isfinite(value):
                raise ValueError(f"criterion {self.kind!r}: {name} must be finite")
        params = self.params
        if self.kind in ("share", "split"):
            name = "min" if self.kind == "share" else "min_share"
            if not 0 <= params[name] <= 1:
                raise ValueError(f"criterion {self.kind!r}: {name} is a share in [0, 1]")
        if self.kind == "share" and params["low"] > params["high"]:
            raise ValueError("criterion 'share': low must not exceed high")
        if self.kind in ("ad_mean", "ad_median") and params["divisor"] <= 0:
            raise ValueError(f"criterion {self.kind!r}: divisor must be positive")
        if self.kind in ("iqr", "cv") and params["max"] < 0:
            raise ValueError(f"criterion {self.kind!r}: max must not be negative")

    def describe(self) -> str:
        """A short human-readable statement of the criterion."""
        p = self.params
        if self.kind == "share":
            return f"share in [{_number(p['low'])}, {_number(p['high'])}] >= {_number(p['min'])}"
        if self.kind in ("iqr", "cv"):
            return f"{self.kind} <= {_number(p['max'])}"
        if self.kind in ("ad_mean", "ad_median"):
            return f"{self.kind} <= A/{_number(p['divisor'])}"
        if self.kind == "rwg":
            return f"rwg >= {_number(p['min'])}"
        if self.kind == "split":
            return f"split: lowest and highest thirds each >= {_number(p['min_share'])}"
        return "rand_ucla agreement"


@dataclass(frozen=True)
class ConsensusRule:
    """Criteria combined with ``"all"`` (every one must hold) or ``"any"``.

    Dissensus-only criteria (``split``) are not combined; they can only turn the state
    into ``"dissensus"``.  At least one criterion that can establish consensus is needed.
    """

    criteria: tuple[Criterion, ...]
    combine: str = "all"

    def __post_init__(self) -> None:
        if self.combine not in ("all", "any"):
            raise ValueError(f"combine must be 'all' or 'any', not {self.combine!r}")
        if not any(criterion.kind not in DISSENSUS_ONLY for criterion in self.criteria):
            raise ValueError("a consensus rule needs at least one consensus criterion")

    def describe(self) -> str:
        """A short human-readable statement of the rule."""
        joined = "; ".join(criterion.describe() for criterion in self.criteria)
        return f"{self.combine} of: {joined}"


PartRules = Mapping[tuple[str, str], ConsensusRule | None]
"""Rules for single parts of multi-part answers, by ``(item key, component)``: a rule,
or ``None`` for a part decided by no rule (see :func:`evaluate`)."""


def rand_ucla(statistics: pd.DataFrame, shares_in_median_region: np.ndarray) -> pd.DataFrame:
    """RAND/UCLA appropriateness-method disagreement analysis of each distribution.

    Ratings are first mapped linearly onto the method's 1–9 scale,
    x' = 1 + 8(x − min) / (max − min), which leaves quantile ranks unchanged.  Then,
    following Fitch et al. (2001, *The RAND/UCLA Appropriateness Method User's Manual*,
    ch. 8), with P30 and P70 the 30th and 70th percentiles under the study's quantile
    method:

    - IPR = P70 − P30 (inter-percentile range);
    - AI = |5 − (P30 + P70) / 2| (asymmetry index);
    - IPRAS = 2.35 + 1.5·AI (IPR adjusted for symmetry);
    - ``disagreement`` when IPR > IPRAS;
    - ``agreement`` when IPR ≤ IPRAS and at least 7/9 of the ratings lie in the
      three-point region (1–3, 4–6, 7–9; boundaries at 3.5 and 6.5) containing the
      median, the manual's classic "no more than two of nine panelists outside the
      median's region";
    - ``indeterminate`` otherwise.

    Parameters
    ----------
    statistics
        Rows of :func:`analysis.describe` joined with ``scale_min``/``scale_max``.
    shares_in_median_region
        Share of ratings in the median's three-point region, aligned with ``statistics``.

    Returns
    -------
    pandas.DataFrame
        ``ipr``, ``asymmetry_index``, ``ipras`` (in 1–9 units) and ``rand_ucla``
        (verdict; missing when n = 0 or the item has no bounded scale).
    """
    low = statistics["scale_min"].to_numpy(dtype=float)
    high = statistics["scale_max"].to_numpy(dtype=float)
    # Bounds almost equal (a definition may give -2e-313 and 0) make the factor
    # overflow: the 1-9 values are then infinite or undefined, and so is the verdict.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        factor = 8 / (high - low)
        p30 = 1 + (statistics["p30"].to_numpy(dtype=float) - low) * factor
        p70 = 1 + (statistics["p70"].to_numpy(dtype=float) - low) * factor
        ipr = p70 - p30
        asymmetry = np.abs(5 - (p30 + p70) / 2)
        ipras = 2.35 + 1.5 * asymmetry
    verdict = np.where(
        ipr > ipras,
        "disagreement",
        np.where(shares_in_median_region >= 7 / 9, "agreement", "indeterminate"),
    ).astype(object)
    verdict[np.isnan(ipr)] = None
    return pd.DataFrame(
        {"ipr": ipr, "asymmetry_index": asymmetry, "ipras": ipras, "rand_ucla": verdict},
        index=statistics.index,
    )


def consensus(
    frame: pd.DataFrame,
    *,
    rules: Mapping[str, ConsensusRule],
    scales: Mapping[str, Scale] | None = None,
    quantile_method: str = "linear",
    part_rules: PartRules | None = None,
) -> pd.DataFrame:
    """Consensus state of every distribution in a tidy frame under per-item rules.

    Parameters
    ----------
    frame
        A tidy frame (:mod:`analysis.frame`).
    rules
        The :class:`ConsensusRule` of each item key (the study's default already
        merged with per-item overrides).  Items without a rule get NA.
    part_rules
        Rules for single parts of multi-part answers, by ``(item, component)`` (see
        :func:`evaluate`); each replaces its item's rule for that part alone, ``None``
        leaving the part without a rule.
    scales
        The :class:`~analysis.scales.Scale` of each item; needed by ``rwg``,
        ``ad_mean``, ``ad_median``, ``rand_ucla`` and ``split``.
    quantile_method
        The study's quantile method (numpy name) for IQR, P30 and P70.

    Returns
    -------
    pandas.DataFrame
        Indexed by (round, item, component): the statistics of :func:`analysis.describe`
        plus ``ipr``, ``asymmetry_index``, ``ipras``, ``rand_ucla`` (see
        :func:`rand_ucla`), ``consensus`` (nullable boolean: state is "consensus"),
        ``state`` (one of :data:`STATES`, missing without a rule), ``rule`` (the rule
        in words) and ``evidence`` (each criterion's value, threshold and verdict).
    """
    from analysis.describe import describe_keys

    check_quantile_method(quantile_method)
    prepared = prepare(frame)
    tidy = prepared.tidy
    codes, key_frame = prepared.group(KEY_COLUMNS)
    statistics = describe_keys(
        tidy,
        list(KEY_COLUMNS),
        quantile_method=quantile_method,
        scales=scales,
        codes=codes,
        key_frame=key_frame,
    )
    data = SortedGroups.build(tidy["value"].to_numpy(dtype=float), codes, len(key_frame))
    return evaluate(statistics, data, rules=rules, scales=scales, part_rules=part_rules)


def evaluate(
    statistics: pd.DataFrame,
    data: SortedGroups,
    *,
    rules: Mapping[str, ConsensusRule],
    scales: Mapping[str, Scale] | None,
    part_rules: PartRules | None = None,
) -> pd.DataFrame:
    """Add the RAND/UCLA columns and the consensus verdict to describe-style rows.

    ``data`` holds the ratings grouped in the same order as the rows of ``statistics``.
    The rule deciding a row (round, item, component) is ``part_rules[(item,
    component)]`` when that key is given (``None``: the part has no rule, so its state
    is missing), else ``rules[item]`` (none: missing).  A part rule is a whole rule, not
    added to the item's: a numeric estimate's best guess may need "CV ≤ 0.5" while its
    confidence needs none.  Rows sharing one rule are evaluated together, so the cost
    grows with the number of distinct rules, not of items or parts.
    """
    result = statistics.copy()
    scale = scale_columns(
        pd.Series(statistics.index.get_level_values("item"), dtype=object), scales
    )
    scale.index = statistics.index
    for column in ("scale_min", "scale_max", "options"):
        result[column] = scale[column].to_numpy()
    region_share = _median_region_share(result, data)
    result = result.join(rand_ucla(result, region_share))
    rows = len(result)
    holds = np.zeros(rows, dtype=bool)
    dissent = np.zeros(rows, dtype=bool)
    ruled = np.zeros(rows, dtype=bool)
    rule_text = np.full(rows, None, dtype=object)
    evidence = np.full(rows, None, dtype=object)
    for rule, mask in _rule_masks(result.index, rules, part_rules):
        if not mask.any():
            continue
        subset = result.loc[mask]
        verdicts = [_criterion(criterion, subset, data, mask) for criterion in rule.criteria]
        combined = [
            met
            for criterion, (met, _, _) in zip(rule.criteria, verdicts, strict=True)
            if criterion.kind not in DISSENSUS_ONLY
        ]
        stacked = np.vstack(combined)
        holds[mask] = stacked.all(axis=0) if rule.combine == "all" else stacked.any(axis=0)
        dissent[mask] = np.vstack([fired for _, fired, _ in verdicts]).any(axis=0)
        ruled[mask] = True
        rule_text[mask] = rule.describe()
        texts = np.vstack([text for _, _, text in verdicts])
        evidence[mask] = ["; ".join(column) for column in texts.T.tolist()]
    state = np.where(dissent, "dissensus", np.where(holds, "consensus", "no_consensus"))
    state = state.astype(object)
    state[~ruled] = None
    result = result.drop(columns=["scale_min", "scale_max", "options"])
    result["consensus"] = pd.array(np.where(ruled, state == "consensus", False), dtype="boolean")
    result.loc[~ruled, "consensus"] = pd.NA
    result["state"] = state
    result["rule"] = rule_text
    result["evidence"] = evidence
    return result


def _rule_masks(
    index: pd.MultiIndex,
    rules: Mapping[str, ConsensusRule],
    part_rules: PartRules | None,
) -> list[tuple[ConsensusRule, np.ndarray]]:
    """Each distinct rule with the rows it decides (disjoint masks over ``index``).

    A row is decided by its part's rule when ``part_rules`` names its (item, component),
    else by its item's rule; rules equal in value are evaluated once.
    """
    items = index.get_level_values("item").to_numpy(dtype=object)
    by_rule: dict[str, tuple[ConsensusRule, list[str], list[tuple[str, str]]]] = {}
    for key, rule in rules.items():
        by_rule.setdefault(repr(rule), (rule, [], []))[1].append(key)
    parts = pd.MultiIndex.from_arrays(
        [items, index.get_level_values("component").to_numpy(dtype=object)]
    )
    overridden = np.zeros(len(index), dtype=bool)
    if part_rules:
        overridden = parts.isin(list(part_rules))
        for part, part_rule in part_rules.items():
            if part_rule is not None:
                by_rule.setdefault(repr(part_rule), (part_rule, [], []))[2].append(part)
    masks = []
    for rule, keys, own_parts in by_rule.values():
        mask = np.isin(items, np.asarray(keys, dtype=object)) & ~overridden
        if own_parts:
            mask |= parts.isin(own_parts)
        masks.append((rule, mask))
    return masks


def _median_region_share(statistics: pd.DataFrame, data: SortedGroups) -> np.ndarray:
    """Share of each group's ratings in the 1–9 three-point region of its median."""
    low = statistics["scale_min"].to_numpy(dtype=float)
    high = statistics["scale_max"].to_numpy(dtype=float)
    median = statistics["median"].to_numpy(dtype=float)
    codes = data.codes
    # As in rand_ucla: bounds almost equal put answers at infinite 1-9 values.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        region_of_median = _region(1 + 8 * (median - low) / (high - low))
        rescaled = 1 + 8 * (data.values - low[codes]) / (high[codes] - low[codes])
        same = _region(rescaled) == region_of_median[codes]
        return np.bincount(codes, weights=same.astype(float), minlength=len(low)) / data.counts


def _region(rescaled: np.ndarray) -> np.ndarray:
    """The RAND three-point region (0: 1–3, 1: 4–6, 2: 7–9) of a 1–9 value; −1 if NaN."""
    region = np.where(rescaled < 3.5, 0, np.where(rescaled <= 6.5, 1, 2))
    return np.where(np.isnan(rescaled), -1, region)


def _criterion(
    criterion: Criterion, rows: pd.DataFrame, data: SortedGroups, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(met, dissensus, evidence text) of one criterion on the selected rows."""
    p = criterion.params
    no_dissent = np.zeros(len(rows), dtype=bool)
    # A valid AD divisor as small as 5e-324 makes the cut-off A ÷ divisor overflow to
    # +inf, which every deviation meets: the limit of a cut-off that large.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if criterion.kind in ("iqr", "cv"):
            value = rows[criterion.kind].to_numpy(dtype=float)
            threshold = np.full(len(rows), float(p["max"]))
            met = value <= threshold
            return met, no_dissent, _texts(criterion.kind, value, "<=", threshold, met)
        if criterion.kind in ("ad_mean", "ad_median"):
            value = rows[criterion.kind].to_numpy(dtype=float)
            options = rows["options"].to_numpy(dtype=float)
            step = (
                rows["scale_max"].to_numpy(dtype=float) - rows["scale_min"].to_numpy(dtype=float)
            ) / (options - 1)
            threshold = step * options / float(p["divisor"])
            met = value <= threshold
            return met, no_dissent, _texts(criterion.kind, value, "<=", threshold, met)
        if criterion.kind == "rwg":
            value = rows["rwg"].to_numpy(dtype=float)
            threshold = np.full(len(rows), float(p["min"]))
            met = value >= threshold
            return met, no_dissent, _texts("rwg", value, ">=", threshold, met)
        if criterion.kind == "share":
            value = _band_share(data, mask, float(p["low"]), float(p["high"]))
            threshold = np.full(len(rows), float(p["min"]))
            met = value >= threshold
            name = f"share[{_number(p['low'])}, {_number(p['high'])}]"
            return met, no_dissent, _texts(name, value, ">=", threshold, met)
        if criterion.kind == "split":
            lower, upper = _thirds(rows, data, mask)
            fired = (lower >= p["min_share"]) & (upper >= p["min_share"])
            texts = np.array(
                [
                    f"split lowest third {_number(a)}, highest third {_number(b)} "
                    f"(each >= {_number(p['min_share'])}: {'yes' if f else 'no'})"
                    for a, b, f in zip(lower.tolist(), upper.tolist(), fired.tolist(), strict=True)
                ],
                dtype=object,
            )
            return np.zeros(len(rows), dtype=bool), fired, texts
    verdict = rows["rand_ucla"].to_numpy(dtype=object)
    met = verdict == "agreement"
    fired = verdict == "disagreement"
    ipr = rows["ipr"].to_numpy(dtype=float)
    ipras = rows["ipras"].to_numpy(dtype=float)
    texts = np.array(
        [
            f"rand_ucla IPR {_number(a)} vs IPRAS {_number(b)}: {v if v is not None else 'n/a'}"
            for a, b, v in zip(ipr.tolist(), ipras.tolist(), verdict.tolist(), strict=True)
        ],
        dtype=object,
    )
    return met, fired, texts


def _band_share(data: SortedGroups, mask: np.ndarray, low: float, high: float) -> np.ndarray:
    """Share of ratings with low ≤ x ≤ high in the groups selected by ``mask``."""
    inside = (data.values >= low) & (data.values <= high)
    counts = np.bincount(data.codes, weights=inside.astype(float), minlength=len(mask))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts / data.counts)[mask]


def _thirds(
    rows: pd.DataFrame, data: SortedGroups, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of ratings in the lowest and highest thirds of each selected group's scale."""
    groups = len(mask)
    low = np.full(groups, np.nan)
    high = np.full(groups, np.nan)
    low[mask] = rows["scale_min"].to_numpy(dtype=float)
    high[mask] = rows["scale_max"].to_numpy(dtype=float)
    codes = data.codes
    third = (high - low) / 3
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = data.values <= (low + third)[codes]
        upper = data.values >= (high - third)[codes]
        lower_share = np.bincount(codes, weights=lower.astype(float), minlength=groups)
        upper_share = np.bincount(codes, weights=upper.astype(float), minlength=groups)
        return (lower_share / data.counts)[mask], (upper_share / data.counts)[mask]


def _texts(
    name: str, value: np.ndarray, operator: str, threshold: np.ndarray, met: np.ndarray
) -> np.ndarray:
    """Evidence strings such as ``"iqr 0.5 <= 1: met"``."""
    return np.array(
        [
            f"{name} {_number(v)} {operator} {_number(t)}: {'met' if m else 'not met'}"
            for v, t, m in zip(value.tolist(), threshold.tolist(), met.tolist(), strict=True)
        ],
        dtype=object,
    )


def _number(value: float) -> str:
    """Format a number compactly for evidence text (``n/a`` for NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}"
