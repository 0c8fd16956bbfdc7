"""The compiled median bootstrap draws numpy's own random numbers and reads the same
order statistics, so it gives the same intervals bit for bit (issue 15, point 1)."""

from __future__ import annotations

import importlib
import zlib

import numpy as np
import pandas as pd
import pytest

from analysis import QUANTILE_METHODS, bootstrap_median_ci
from analysis.bootstrap_kernel import (
    generator_state,
    order_statistics_of_resamples,
    raw_stream,
)

from .conftest import frame_from

# The module, not the function of the same name that ``analysis`` exports.
module = importlib.import_module("analysis.describe")


def _rejections(seed: tuple[int, int], n: int, draws: int) -> int:
    """How many 32-bit words numpy's Lemire method rejects among the first ``draws``
    indices drawn in [0, n) (computed here in plain numpy, for the tests' coverage)."""
    raw = np.random.default_rng(list(seed)).bit_generator.random_raw(draws)
    words = np.empty(2 * draws, dtype=np.uint64)
    words[0::2] = raw & np.uint64(0xFFFFFFFF)
    words[1::2] = raw >> np.uint64(32)
    low = (words * np.uint64(n)) & np.uint64(0xFFFFFFFF)
    return int(np.count_nonzero(low < np.uint64((2**32 - n) % n)))


@pytest.mark.parametrize("seed", [(0, 0), (7, zlib.crc32(b"1\x1ftrust_now\x1f")), (2**31, 12)])
def test_the_generator_is_numpys_pcg64(seed):
    state = generator_state(np.random.default_rng(list(seed)))
    expected = np.random.default_rng(list(seed)).bit_generator.random_raw(100_000)
    assert np.array_equal(raw_stream(state, 100_000), expected)


@pytest.mark.parametrize(
    ("n", "resamples", "deviations"),
    [
        (2, 300, 10.0),
        (3, 200, 10.0),
        (10, 200, 10.0),
        (1_001, 200, 10.0),
        # No band at all: every row is counted again over [0, n).
        (1_001, 50, 0.0),
        (1_000, 50, 0.0),
        # Large n: rejected words occur (checked below) and shift every later row.
        (99_991, 30, 10.0),
        (100_000, 12, 0.5),
    ],
)
def test_order_statistics_equal_those_of_numpys_integers(n, resamples, deviations):
    for seed in range(3):
        draws = np.random.default_rng([seed, 5]).integers(0, n, size=(resamples, n))
        draws.sort(axis=1)
        for first, second in {((n - 1) // 2, n // 2), (0, 0), (n - 1, n - 1), (n // 4, n // 4)}:
            got_first, got_second = order_statistics_of_resamples(
                np.random.default_rng([seed, 5]), n, resamples, first, second, deviations
            )
            assert np.array_equal(got_first, draws[:, first])
            assert np.array_equal(got_second, draws[:, second])
    if n >= 99_991:
        assert _rejections((0, 5), n, resamples * n // 2 + 1) > 0


def test_only_a_fresh_pcg64_generator_is_accepted():
    used = np.random.default_rng(1)
    used.integers(0, 10, size=1)  # leaves half a 64-bit word buffered
    with pytest.raises(ValueError, match="fresh PCG64"):
        generator_state(used)
    with pytest.raises(ValueError, match="fresh PCG64"):
        generator_state(np.random.Generator(np.random.MT19937(1)))


def _frame(rng: np.random.Generator, size: int) -> pd.DataFrame:
    """Two items: ratings with many ties and continuous values, with NaN answers."""
    ratings = rng.integers(1, 8, size=size).astype(float)
    ratings[rng.random(size) < 0.05] = np.nan
    continuous = rng.normal(50, 20, size=size).round(3)
    return pd.concat(
        [frame_from({"ties": ratings}), frame_from({"continuous": continuous}, component="x")],
        ignore_index=True,
    )


@pytest.mark.parametrize("method", QUANTILE_METHODS)
def test_compiled_and_numpy_paths_give_identical_intervals(monkeypatch, rng, method):
    frame = _frame(rng, 1_601)  # an even count of ratings for one item, odd for the other
    monkeypatch.setattr(module, "COMPILED_MIN_DRAWS", 10**18)
    reference = bootstrap_median_ci(frame, resamples=150, seed=11, quantile_method=method)
    monkeypatch.setattr(module, "COMPILED_MIN_DRAWS", 0)
    compiled = bootstrap_median_ci(frame, resamples=150, seed=11, quantile_method=method)
    assert compiled.to_numpy().tobytes() == reference.to_numpy().tobytes()
    assert compiled.index.equals(reference.index)


def test_small_distributions_take_numpys_path_and_large_ones_the_kernel(monkeypatch, rng):
    calls = []
    real = module._compiled_medians

    def spy(jobs, *arguments):
        calls.append([len(sample) for _, sample, _ in jobs])
        return real(jobs, *arguments)

    monkeypatch.setattr(module, "_compiled_medians", spy)
    frame = pd.concat(
        [
            frame_from({"small": rng.integers(1, 6, 40)}),
            frame_from({"large": rng.integers(1, 6, 1_200)}),
        ],
        ignore_index=True,
    )
    bootstrap_median_ci(frame, resamples=2_000, seed=1)
    assert calls == [[1_200]]
