"""Which of the panel's reasons an expert reads: a bounded, stratified random sample.

A large panel gives thousands of reasons per item; an expert reads a few.  The rule
(stated in every study's protocol and report, :mod:`surveys.protocol`):

1. Each reason falls in one of three *strata* by the answer it came with, on the
   item's stratifying part (the single value, or a numeric estimate's best guess),
   against that round's quartiles: :data:`BELOW` the middle half (answer < Q1),
   :data:`INSIDE` it (Q1 ≤ answer ≤ Q3, or no answer on that part, or an item without
   a single stratifying part such as a scenario set or a ranking), :data:`ABOVE` it
   (answer > Q3).
2. Within each stratum the reasons are put in a random order drawn for the expert and
   round (a Fisher–Yates shuffle, Knuth 1997, TAOCP vol. 2 §3.4.2, driven by a seed
   derived from the expert's pseudonym, the round and the item, never shown), so that
   reloading the page shows the same reasons and every expert a different sample.
3. The strata take turns, below, inside, above, below, …, a stratum that has run out
   giving its turn to the others: each page of at most ``per_page`` reasons holds
   about as many from each side of the panel as from its middle, while they last.
   Reasons the facilitator pinned open the sequence and count within ``per_page``
   (page 1 shows them first, and fewer drawn ones); the drawn sequence skips them.
4. Page 2 continues the same sequence where page 1 ended, and so on; no reason is
   repeated across pages.
5. Each page's drawn reasons are shown in a random order of their own (seeded by the
   same seed and the page): in the order of the turns, a reader could tell which came
   from below or above the middle half, and in a small panel whose answers show one
   outlier, tie a reason to that answer.

The shuffle is drawn lazily (:func:`shuffled_prefix`): a page costs what it shows, not
the number of reasons given.  Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

__all__ = [
    "ABOVE",
    "BELOW",
    "INSIDE",
    "STRATA",
    "page_count",
    "reason_order",
    "selection_seed",
    "shuffled_prefix",
    "stratified_sequence",
    "stratum",
]

BELOW, INSIDE, ABOVE = 0, 1, 2
#: The strata in the order they take turns.
STRATA: tuple[int, ...] = (BELOW, INSIDE, ABOVE)


def stratum(value: float | None, q1: float | None, q3: float | None) -> int:
    """The stratum of a reason given with ``value``: below, inside or above [q1, q3].

    A missing or NaN value, or missing quartiles, count as inside.
    """
    if value is None or q1 is None or q3 is None or math.isnan(value):
        return INSIDE
    if value < q1:
        return BELOW
    if value > q3:
        return ABOVE
    return INSIDE


def selection_seed(*parts: object) -> str:
    """A seed for :func:`reason_order` from ``parts`` (the expert's pseudonym, the round
    and the item): their SHA-256, so that the seed carries nothing readable."""
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def shuffled_prefix(size: int, length: int, rng: random.Random) -> list[int]:
    """The first ``length`` entries of a Fisher–Yates shuffle of ``range(size)``.

    Swaps are kept in a dictionary, so this costs O(length), not O(size); the first
    ``m`` entries are the same for every ``length ≥ m`` drawn from the same generator
    state (each step draws one number, in order).
    """
    swapped: dict[int, int] = {}
    prefix = []
    for index in range(min(length, size)):
        other = rng.randrange(index, size)
        at_index, at_other = swapped.get(index, index), swapped.get(other, other)
        swapped[other] = at_index
        swapped[index] = at_other
        prefix.append(at_other)
    return prefix


def reason_order(
    counts: Sequence[int],
    *,
    seed: str,
    page: int,
    per_page: int,
    pinned: Sequence[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """The reasons on page ``page`` (from 1) as (stratum, position) pairs, in the order
    shown: position ``p`` of stratum ``s`` is the ``p``-th (from 0) of the ``counts[s]``
    reasons stored in that stratum.  ``pinned`` reasons (distinct pairs) open the
    sequence and count within ``per_page``; the drawn ones follow, without them.  A
    page past the last is empty.  See the module's rule."""
    if page < 1 or per_page < 1:
        return []
    end = page * per_page
    start = end - per_page
    pinned = list(dict.fromkeys(pinned))
    skip = set(pinned)
    # At most len(pinned) of the sequence's first `end` reasons are pinned ones, so
    # that prefix holds every drawn reason of pages 1 to `page`.
    drawn = [
        pair for pair in stratified_sequence(counts, seed=seed, length=end) if pair not in skip
    ]
    shown = drawn[max(start - len(pinned), 0) : max(end - len(pinned), 0)]
    # Within the page the strata's turns would tell which reason came from below or
    # above the middle half; the page is shown in its own random order.
    random.Random(f"{seed}:page:{page}").shuffle(shown)  # noqa: S311 - an order, not a secret
    return pinned[start:end] + shown


def stratified_sequence(counts: Sequence[int], *, seed: str, length: int) -> list[tuple[int, int]]:
    """The first ``length`` reasons of the rule's sequence, as (stratum, position)
    pairs: each stratum in its own random order, the strata taking turns (rules 2 and
    3).  The first ``m`` pairs are the same for every ``length >= m``."""
    remaining = list(counts)
    taken = [0] * len(counts)
    turns: list[int] = []
    while len(turns) < length and any(remaining):
        for index in STRATA[: len(counts)]:
            if remaining[index] and len(turns) < length:
                turns.append(index)
                taken[index] += 1
                remaining[index] -= 1
    orders = {
        index: shuffled_prefix(
            counts[index],
            taken[index],
            random.Random(f"{seed}:{index}"),  # noqa: S311 - an order, not a secret
        )
        for index in range(len(counts))
    }
    used = [0] * len(counts)
    sequence = []
    for index in turns:
        sequence.append((index, orders[index][used[index]]))
        used[index] += 1
    return sequence


def page_count(total: int, per_page: int) -> int:
    """How many pages ``total`` reasons fill at ``per_page`` a page (at least 1)."""
    return max(1, math.ceil(total / per_page))
