"""The stopping rule: should the study run another round?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analysis.deferred import deferred

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

ITEM_STATUSES: tuple[str, ...] = ("consensus", "stable", "open")
"""An item's status in the latest round, in order of precedence."""


@dataclass(frozen=True)
class StoppingDecision:
    """Whether to stop, why, and each item's status in the latest round.

    ``items`` is indexed by item key with ``status`` (one of :data:`ITEM_STATUSES`) and
    ``reason`` (words).
    """

    stop: bool
    reason: str
    round: int | None
    items: pd.DataFrame


def stopping_decision(
    summaries: pd.DataFrame, *, max_rounds: int | None = None
) -> StoppingDecision:
    """Decide from the round summaries so far whether the study should stop.

    Only the latest round's items count (an item retired earlier is done).  An item is

    - ``consensus`` when every one of its distributions (components) decided by a rule
      has state ``"consensus"`` in the latest round, and at least one is decided by a
      rule (a part without a rule, such as an estimate's confidence given none, is
      left out, as the expert page and the report leave it out of the item's state);
    - else ``stable`` when every distribution is ``stable`` against the previous round
      (the answers stopped moving: another round is unlikely to change the result,
      whether the panel agrees or is split — Dajani, Sincoff & Talley 1979; von der
      Gracht 2012);
    - else ``open``.

    The study stops when every item is ``consensus`` or ``stable``, or when the latest
    round number reaches ``max_rounds``.  A distribution without a rule (state missing)
    can only become stable; one without a previous round is not stable.

    Parameters
    ----------
    summaries
        Rows of :func:`analysis.summarize_round` for the rounds so far (index round,
        item, component; columns ``state`` and ``stable``).
    max_rounds
        The study's round limit, or ``None`` for none.

    Returns
    -------
    StoppingDecision
    """
    if max_rounds is not None and max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, not {max_rounds}")
    empty_items = pd.DataFrame(
        {"status": pd.Series(dtype=object), "reason": pd.Series(dtype=object)},
        index=pd.Index([], name="item", dtype=object),
    )
    if summaries.empty:
        return StoppingDecision(False, "no round has been summarised yet", None, empty_items)
    frame = summaries.reset_index()
    latest = int(frame["round"].max())
    current = frame.loc[frame["round"] == latest]
    state = current["state"].astype(object).to_numpy()
    consensus = pd.Series(state == "consensus", index=current.index)
    ruled = pd.Series(pd.notna(state), index=current.index)
    stable_column = (
        current["stable"] if "stable" in current else pd.Series(pd.NA, index=current.index)
    )
    stable = stable_column.astype("boolean").fillna(False).astype(bool)
    by_item = pd.DataFrame(
        {
            "item": current["item"].to_numpy(),
            "consensus": consensus,
            "ruled": ruled,
            "stable": stable,
        }
    ).groupby("item", sort=True)
    all_consensus = by_item["ruled"].any() & (by_item["consensus"].sum() == by_item["ruled"].sum())
    all_stable = by_item["stable"].all()
    status = np.where(all_consensus, "consensus", np.where(all_stable, "stable", "open"))
    reason = np.where(
        all_consensus,
        "every distribution reached consensus",
        np.where(
            all_stable,
            "answers stable against the previous round",
            "neither consensus nor stability yet",
        ),
    )
    items = pd.DataFrame(
        {"status": status.astype(object), "reason": reason.astype(object)},
        index=pd.Index(all_consensus.index, name="item", dtype=object),
    )
    open_items = items.index[items["status"] == "open"].tolist()
    if not open_items:
        return StoppingDecision(
            True, f"every item reached consensus or stability by round {latest}", latest, items
        )
    if max_rounds is not None and latest >= max_rounds:
        return StoppingDecision(
            True,
            f"round limit {max_rounds} reached with {len(open_items)} item(s) still open",
            latest,
            items,
        )
    shown = ", ".join(open_items[:5]) + (" …" if len(open_items) > 5 else "")
    return StoppingDecision(False, f"{len(open_items)} item(s) still open: {shown}", latest, items)
