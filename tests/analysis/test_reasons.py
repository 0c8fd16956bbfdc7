"""The rule choosing which of the panel's reasons an expert reads (issue 15, point 2)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from analysis.reasons import (
    ABOVE,
    BELOW,
    INSIDE,
    page_count,
    reason_order,
    selection_seed,
    shuffled_prefix,
    stratified_sequence,
    stratum,
)


def test_strata_split_at_the_quartiles():
    assert stratum(1.0, 2.0, 4.0) == BELOW
    assert stratum(2.0, 2.0, 4.0) == INSIDE
    assert stratum(4.0, 2.0, 4.0) == INSIDE
    assert stratum(4.5, 2.0, 4.0) == ABOVE
    assert stratum(None, 2.0, 4.0) == INSIDE
    assert stratum(float("nan"), 2.0, 4.0) == INSIDE
    assert stratum(1.0, None, None) == INSIDE


@pytest.mark.parametrize("size", [0, 1, 2, 7, 100])
def test_a_full_lazy_shuffle_is_a_permutation_and_its_prefixes_agree(size):
    full = shuffled_prefix(size, size, random.Random("s"))
    assert sorted(full) == list(range(size))
    for length in range(size + 1):
        assert shuffled_prefix(size, length, random.Random("s")) == full[:length]


def test_the_lazy_shuffle_is_uniform():
    """Each position is equally likely at the front (chi-square-free check: 3 sd)."""
    firsts = Counter(shuffled_prefix(5, 1, random.Random(seed))[0] for seed in range(5000))
    assert set(firsts) == set(range(5))
    assert all(abs(count - 1000) < 3 * (5000 * 0.2 * 0.8) ** 0.5 for count in firsts.values())


def test_a_page_is_bounded_stable_and_stratified():
    counts = [400, 3000, 250]
    seed = selection_seed("P-ABC", 2, "trust_now")
    page = reason_order(counts, seed=seed, page=1, per_page=9)
    assert len(page) == 9
    assert page == reason_order(counts, seed=seed, page=1, per_page=9)
    assert Counter(index for index, _ in page) == {BELOW: 3, INSIDE: 3, ABOVE: 3}
    # The strata take turns in filling the page; the page is then shown shuffled.
    sequence = stratified_sequence(counts, seed=seed, length=9)
    assert [index for index, _ in sequence[:3]] == [BELOW, INSIDE, ABOVE]
    assert sorted(page) == sorted(sequence)
    assert all(0 <= position < counts[index] for index, position in page)
    other = reason_order(counts, seed=selection_seed("P-XYZ", 2, "trust_now"), page=1, per_page=9)
    assert other != page
    next_round = reason_order(
        counts, seed=selection_seed("P-ABC", 3, "trust_now"), page=1, per_page=9
    )
    assert next_round != page


def test_pages_continue_without_repeating_until_every_reason_is_shown():
    counts = [2, 11, 4]
    seed = selection_seed("P-1", 2, "item")
    pages = page_count(sum(counts), 5)
    assert pages == 4
    shown = [
        pair
        for page in range(1, pages + 1)
        for pair in reason_order(counts, seed=seed, page=page, per_page=5)
    ]
    assert len(shown) == len(set(shown)) == sum(counts)
    assert reason_order(counts, seed=seed, page=pages + 1, per_page=5) == []
    # The strata that run out give their turn: after page 1 only the middle is left.
    assert {index for index, _ in reason_order(counts, seed=seed, page=3, per_page=5)} == {INSIDE}


def test_a_later_page_continues_the_first_pages_sequence():
    counts = [30, 30, 30]
    seed = selection_seed("P-2", 2, "item")
    both = reason_order(counts, seed=seed, page=1, per_page=18)
    first = reason_order(counts, seed=seed, page=1, per_page=9)
    second = reason_order(counts, seed=seed, page=2, per_page=9)
    assert sorted(first + second) == sorted(both)
    assert sorted(first) == sorted(stratified_sequence(counts, seed=seed, length=9))
    assert stratified_sequence(counts, seed=seed, length=18)[:9] == stratified_sequence(
        counts, seed=seed, length=9
    )


def test_within_a_page_the_order_tells_nothing_of_the_strata():
    """A page's reasons are those the strata's turns chose, the same on every call,
    but not shown in the turns' order: a small panel's one answer below the middle
    half would otherwise be tied to the first reason of every page."""
    counts = [1, 7, 1]
    places = Counter()
    orders = set()
    for expert in range(300):
        seed = selection_seed(f"P-{expert}", 2, "item")
        page = reason_order(counts, seed=seed, page=1, per_page=9)
        assert page == reason_order(counts, seed=seed, page=1, per_page=9)
        assert sorted(page) == sorted(stratified_sequence(counts, seed=seed, length=9))
        places[[index for index, _ in page].index(BELOW)] += 1
        orders.add(tuple(index for index, _ in page[:3]))
    assert orders != {(BELOW, INSIDE, ABOVE)}
    # The reason given below the middle half falls on each of the nine places.
    assert set(places) == set(range(9))
    assert all(count > 300 / 9 / 3 for count in places.values())


def test_pinned_reasons_open_the_sequence_within_the_bound():
    counts = [5, 20, 5]
    seed = selection_seed("P-3", 2, "item")
    pinned = [(INSIDE, 4), (ABOVE, 0), (BELOW, 2)]
    pages = page_count(sum(counts), 9)
    shown = [
        reason_order(counts, seed=seed, page=page, per_page=9, pinned=pinned)
        for page in range(1, pages + 1)
    ]
    assert shown[0][:3] == pinned
    assert [len(page) for page in shown] == [9, 9, 9, 3]
    everything = [pair for page in shown for pair in page]
    assert len(everything) == len(set(everything)) == sum(counts)
    # Later pages are what they would be if page 1 had shown six drawn reasons.
    drawn = [
        pair for pair in stratified_sequence(counts, seed=seed, length=30) if pair not in pinned
    ]
    assert sorted(shown[1]) == sorted(drawn[6:15])


def test_more_pinned_reasons_than_a_page_hold_take_the_next_page_too():
    counts = [0, 12, 0]
    seed = selection_seed("P-4", 2, "item")
    pinned = [(INSIDE, position) for position in range(10)]
    first = reason_order(counts, seed=seed, page=1, per_page=9, pinned=pinned)
    second = reason_order(counts, seed=seed, page=2, per_page=9, pinned=pinned)
    assert first == pinned[:9]
    assert second[0] == pinned[9] and sorted(second[1:]) == [(INSIDE, 10), (INSIDE, 11)]


def test_the_seed_shows_nothing_of_its_parts():
    seed = selection_seed("P-ABC123", 2, "trust_now")
    assert "ABC123" not in seed and len(seed) == 64


def test_nothing_to_choose_from():
    assert reason_order([0, 0, 0], seed="s", page=1, per_page=9) == []
    assert reason_order([1, 0, 0], seed="s", page=0, per_page=9) == []
    assert page_count(0, 9) == 1
