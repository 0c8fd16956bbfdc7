"""Recompute a study's round summaries from its exported responses and compare.

Shipped as ``reproduce.py`` in every CSV export of an elicit study.  Run it in the
export's folder, with the ``analysis`` package of elicit importable (``pip install
elicit`` of the version named in ``methods.csv``)::

    python reproduce.py

It rebuilds the tidy frame of :mod:`analysis.frame` from ``responses.csv`` (submitted
answers only, "cannot judge" as a missing value, open text left out), recomputes every
closed round with the settings written to ``settings.json`` (quantile method,
consensus rules, item scales, the subgroup minimum and every other parameter) through
:func:`analysis.summarize_round` and :func:`analysis.summarize_groups`, and checks
that each statistic in ``summaries.csv`` and ``subgroups.csv`` (the ``masked`` flag
included) equals the recomputed one: numbers within 1e-9 (relative to the larger
magnitude when above 1), missing equal to missing, text and true/false exactly.  The
bootstrap confidence interval of the median (``median_ci_low``, ``median_ci_high``) is
included: it is seeded (see ``seed`` in ``settings.json``), so it reproduces exactly.

In a blind study's export, groups smaller than the minimum are masked in
``responses.csv`` and have no subgroup rows; the subgroup rows that remain are then
checked as :func:`compare_masked` says.

Prints ``PASS`` and exits 0 when every value matches; prints each mismatch, then
``FAIL``, and exits 1 otherwise.  This file imports nothing of elicit but ``analysis``.

It reads the raw CSV files of its own folder, which hold every text exactly as typed,
never the copies in ``spreadsheet/``, whose texts that a spreadsheet would run as a
formula begin with an apostrophe.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import analysis
from analysis.deferred import deferred

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

TOLERANCE = 1e-9
KEYS = ("round", "item", "component")
GROUP_KEYS = ("round", "group", "item", "component")


def tidy_frame(responses: pd.DataFrame) -> pd.DataFrame:
    """The tidy frame of :mod:`analysis.frame` from the exported long responses."""
    submitted = responses[responses["status"] == "submitted"]
    cannot_judge = submitted["cannot_judge"].astype(str).str.lower() == "true"
    numeric = submitted[submitted["value"].notna() | cannot_judge]
    frame = pd.DataFrame(
        {
            "panelist": numeric["pseudonym"].astype(str),
            "group": numeric["group"].fillna("").astype(str),
            "round": numeric["round"].astype("int64"),
            "item": numeric["item"].astype(str),
            "component": numeric["component"].fillna("").astype(str),
            "value": pd.to_numeric(numeric["value"]).astype(float),
        }
    )
    if frame.empty:
        return analysis.empty_frame()
    return frame.reset_index(drop=True)


def read_responses(path: Path) -> pd.DataFrame:
    """``responses.csv``, with empty cells missing and every text kept as written."""
    return pd.read_csv(
        path,
        keep_default_na=False,
        na_values={"value": [""]},
        dtype={"pseudonym": str, "group": str, "item": str, "component": str, "status": str},
    )


def read_summaries(path: Path) -> pd.DataFrame:
    """``summaries.csv`` or ``subgroups.csv``, with the key columns as text."""
    return pd.read_csv(
        path, dtype={"group": str, "item": str, "component": str}, keep_default_na=False
    )


def round_settings(settings: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`analysis.summarize_round` for one round: its rules
    per item and, when the study had any, per part (``part_rules``, ``None`` for a part
    given no rule), and, when some numeric estimate had a level of its own
    (``estimate_levels``), every estimate's level in place of the one default."""

    def rule_of(rule: dict[str, Any]) -> analysis.ConsensusRule:
        return analysis.ConsensusRule(
            tuple(
                analysis.Criterion(
                    criterion["kind"],
                    {name: value for name, value in criterion.items() if name != "kind"},
                )
                for criterion in rule["criteria"]
            ),
            rule["combine"],
        )

    rules = {key: rule_of(rule) for key, rule in entry["rules"].items()}
    part_rules = {
        (key, part): rule_of(rule) if rule is not None else None
        for key, parts in entry.get("part_rules", {}).items()
        for part, rule in parts.items()
    }
    scales = {
        key: analysis.Scale(
            kind=scale["kind"],
            minimum=scale["minimum"],
            maximum=scale["maximum"],
            options=scale["options"],
            band=tuple(scale["band"]) if scale["band"] is not None else None,
        )
        for key, scale in entry["scales"].items()
    }
    parameters = dict(settings["parameters"])
    parameters["stability_rule"] = analysis.StabilityRule(**parameters["stability_rule"])
    if entry.get("estimate_levels"):
        parameters["estimate_level"] = dict(entry["estimate_levels"])
    return {
        "rules": rules,
        **({"part_rules": part_rules} if part_rules else {}),
        "quantile_method": entry["quantile_method"],
        "scales": scales,
        "closing_round": entry["round"],
        **parameters,
    }


def recompute(frame: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every closed round's summary and subgroup rows, recomputed, with the key columns.

    When the export masks small groups (``masked_group`` in the settings: a blind
    study), the subgroups are recomputed without masking, for :func:`compare_masked`.
    """
    parts, groups = [], []
    masking = bool(settings.get("masked_group"))
    for entry in settings["rounds"]:
        number = entry["round"]
        rounds = frame[frame["round"].isin([number - 1, number])]
        arguments = round_settings(settings, entry)
        summary = analysis.summarize_round(rounds, **arguments)
        parts.append(summary.reset_index())
        minimum = 1 if masking else entry["min_group_size"]
        grouped = analysis.summarize_groups(
            rounds, min_group_size=minimum, **arguments
        ).reset_index()
        groups.append(grouped[grouped["round"] == number])
    if not parts:
        empty = pd.DataFrame(columns=[*KEYS, *analysis.SUMMARY_COLUMNS])
        return empty, empty.assign(group=[], masked=[])
    return pd.concat(parts, ignore_index=True), pd.concat(groups, ignore_index=True)


def plain(value: Any) -> Any:
    """A cell as ``None``, ``bool``, ``float`` or ``str``, however it was read or made."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return None if math.isnan(value) else float(value)
    text = str(value)
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        number = float(text)
    except ValueError:
        return text
    return None if math.isnan(number) else number


def equal(exported: Any, recomputed: Any) -> bool:
    """Whether two cells agree: numbers within the tolerance, missing equals missing."""
    left, right = plain(exported), plain(recomputed)
    if isinstance(left, float) and isinstance(right, float):
        return abs(left - right) <= TOLERANCE * max(1.0, abs(left), abs(right))
    return left == right and type(left) is type(right)


def compare(
    exported: pd.DataFrame, recomputed: pd.DataFrame, keys: tuple[str, ...], table: str
) -> list[str]:
    """Every difference between exported and recomputed rows of ``table``, in words."""
    problems = []
    exported = exported.copy()
    recomputed = recomputed.copy()
    for frame in (exported, recomputed):
        frame["round"] = frame["round"].astype("int64")
        for key in keys[1:]:
            frame[key] = frame[key].fillna("").astype(str)
    left = exported.set_index(list(keys))
    right = recomputed.set_index(list(keys))
    for key in left.index.difference(right.index):
        problems.append(f"{table} {key}: exported but not recomputed")
    for key in right.index.difference(left.index):
        problems.append(f"{table} {key}: recomputed but not exported")
    expected = [*analysis.SUMMARY_COLUMNS, *(["masked"] if "group" in keys else [])]
    columns = [column for column in expected if column in left.columns]
    missing = [column for column in expected if column not in left.columns]
    problems += [f"column {column!r} is missing from {table}.csv" for column in missing]
    common = left.index.intersection(right.index)
    # Row by row, not cell by cell: ``.at`` on a multi-level index cost most of the
    # script's own time.
    mine_rows = left.loc[common, columns].itertuples(index=False, name=None)
    their_rows = right.loc[common, columns].itertuples(index=False, name=None)
    for key, mine_row, their_row in zip(common, mine_rows, their_rows, strict=True):
        for column, mine, theirs in zip(columns, mine_row, their_row, strict=True):
            if not equal(mine, theirs):
                problems.append(
                    f"{table} {key} {column}: exported {plain(mine)!r}, "
                    f"recomputed {plain(theirs)!r}"
                )
    return problems


def compare_masked(
    exported: pd.DataFrame, recomputed: pd.DataFrame, masked_group: str
) -> list[str]:
    """:func:`compare` for a blind study's subgroups, whose small groups are masked.

    In ``responses.csv`` the panelists of every group smaller than the minimum carry
    one label (``masked_group``) and those groups have no subgroup rows, so their
    suppression cannot be recomputed.  What can, is checked: every exported row that
    shows statistics equals its recomputation from the responses; a row masked in the
    export (its own n below the minimum, or suppressed beside a small group) has the
    recomputed ``n`` and no statistic.  The recomputed rows of ``masked_group`` itself
    stand for several groups and are left out.
    """
    recomputed = recomputed[recomputed["group"] != masked_group]
    shown = exported[exported["masked"].astype(str).str.lower() != "true"]
    problems = compare(shown, recomputed.assign(masked=False), GROUP_KEYS, "subgroups")
    problems = [problem for problem in problems if "recomputed but not exported" not in problem]
    hidden = exported[exported["masked"].astype(str).str.lower() == "true"]
    left = recomputed.set_index(list(GROUP_KEYS))
    for _, row in hidden.iterrows():
        key = tuple(
            int(row[name]) if name == "round" else str(row[name] or "") for name in GROUP_KEYS
        )
        if key not in left.index:
            problems.append(f"subgroups {key}: exported but not recomputed")
            continue
        if not equal(row["n"], left.at[key, "n"]):
            problems.append(
                f"subgroups {key} n: exported {plain(row['n'])!r}, "
                f"recomputed {plain(left.at[key, 'n'])!r}"
            )
        statistics = [
            column
            for column in analysis.SUMMARY_COLUMNS
            if column not in ("n", "rule", "quantile_method") and column in row.index
        ]
        shown_values = [column for column in statistics if plain(row[column]) is not None]
        if shown_values:
            problems.append(f"subgroups {key}: masked but shows {', '.join(shown_values)}")
    return problems


def main(folder: Path) -> int:
    """Check the export in ``folder``; print the verdict; return the exit status."""
    settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    frame = tidy_frame(read_responses(folder / "responses.csv"))
    exported = read_summaries(folder / "summaries.csv")
    exported_groups = read_summaries(folder / "subgroups.csv")
    summaries, groups = recompute(frame, settings)
    problems = compare(exported, summaries, KEYS, "summaries")
    if settings.get("masked_group"):
        problems += compare_masked(exported_groups, groups, settings["masked_group"])
    else:
        problems += compare(exported_groups, groups, GROUP_KEYS, "subgroups")
    checked = (len(exported) + len(exported_groups)) * len(analysis.SUMMARY_COLUMNS)
    if problems:
        for problem in problems:
            print(problem)
        print(f"FAIL: {len(problems)} difference(s) in {checked} exported statistics")
        return 1
    print(
        f"PASS: {checked} statistics of {len(exported)} summary and "
        f"{len(exported_groups)} subgroup rows in "
        f"{len(settings['rounds'])} round(s) equal their recomputation "
        f"(analysis {settings.get('software_version', '?')})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent))
