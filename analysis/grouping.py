"""Integer codes for the tidy frame's key columns, computed once per analysis.

Every statistic groups rows by some of (round, item, component, panelist, group).
Strings are factorised once into sorted integer codes; groups, pairs between rounds and
panelist × item matrices are then built from those integers in linear time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from analysis.deferred import deferred
from analysis.frame import KEY_COLUMNS, FrameError, normalise_frame

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = deferred("numpy")
    pd = deferred("pandas")

Codes: TypeAlias = "tuple[np.ndarray, np.ndarray]"
"""(code of each row, sorted distinct values) of one column."""

ENCODED_COLUMNS: tuple[str, ...] = ("panelist", "round", "item", "component")


class Prepared:
    """A validated tidy frame with the integer codes of its key columns.

    Selecting rows (:meth:`subset`) or replacing values (:meth:`with_values`) keeps the
    codes and values as arrays; the pandas frame of the selection is only built when
    :attr:`tidy` is read.

    Attributes
    ----------
    codes
        Column name → (code of each row, sorted distinct values).
    """

    def __init__(
        self,
        source: pd.DataFrame,
        codes: dict[str, Codes],
        *,
        rows: np.ndarray | slice | None = None,
        values: np.ndarray | None = None,
        replaced: bool = False,
    ) -> None:
        self._source = source
        self._rows = rows
        self._replaced = replaced  # values differ from the source's value column
        self.codes = codes
        if values is None:
            values = source["value"].to_numpy(dtype=float)
            if rows is not None:
                values = values[rows]
        self._values = values
        self._tidy: pd.DataFrame | None = None

    @property
    def values(self) -> np.ndarray:
        """The ``value`` column as floats."""
        return self._values

    @property
    def tidy(self) -> pd.DataFrame:
        """The normalised frame of these rows (see :func:`analysis.frame.validate_frame`)."""
        if self._tidy is None:
            tidy = self._source if self._rows is None else self._source.iloc[self._rows]
            if self._replaced:
                tidy = tidy.assign(value=self._values)
            self._tidy = tidy
        return self._tidy

    def __len__(self) -> int:
        return len(self._values)

    def column(self, name: str) -> Codes:
        """Codes of column ``name``, factorising it on first use."""
        if name not in self.codes:
            self.codes[name] = factorize_sorted(self.tidy[name])
        return self.codes[name]

    def group(self, keys: tuple[str, ...] | list[str]) -> tuple[np.ndarray, pd.DataFrame]:
        """Group code of every row by ``keys`` and the key values of every group."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64), pd.DataFrame({key: self.tidy[key] for key in keys})
        per_key = [self.column(key) for key in keys]
        codes, positions = combine_codes(per_key)
        key_frame = pd.DataFrame(
            {
                key: uniques[position]
                for key, (_, uniques), position in zip(keys, per_key, positions, strict=True)
            }
        )
        return codes, key_frame

    def subset(self, mask: np.ndarray) -> Prepared:
        """The rows selected by a boolean ``mask``, codes kept consistent.

        Every row selected (a first round's close: all its rows are of the round) is
        these rows themselves, not a copy of every code and value: at 100,000 panelists
        that copy was about 170 MB.  Rows that follow one another (one round of a frame
        whose rounds are in blocks, as :mod:`surveys.rounds` loads them) are views of
        these rows' arrays, not copies: at 100,000 panelists a later round's close
        selected its round and the one before, about 360 MB each.  Selections never
        write into the arrays they view."""
        if mask.all():
            return self
        span = _contiguous(mask)
        if span is not None:
            start, stop = span
            return Prepared(
                self._source,
                {
                    name: (row_codes[start:stop], uniques)
                    for name, (row_codes, uniques) in self.codes.items()
                },
                rows=_rows_slice(self._rows, start, stop),
                values=self._values[start:stop],
                replaced=self._replaced,
            )
        selected = np.flatnonzero(mask)
        rows = _rows_taken(self._rows, selected)
        codes = {
            name: (row_codes[selected], uniques)
            for name, (row_codes, uniques) in self.codes.items()
        }
        return Prepared(
            self._source,
            codes,
            rows=rows,
            values=self._values[selected],
            replaced=self._replaced,
        )

    def select(self, mask: np.ndarray) -> Prepared:
        """The rows selected by a boolean ``mask`` as :func:`prepare` would encode them
        on their own: each column's codes renumbered over the values present in the
        selection (still in sorted order), without hashing any string again."""
        selected = np.flatnonzero(mask)
        rows = _rows_taken(self._rows, selected)
        codes = {}
        for name, (row_codes, uniques) in self.codes.items():
            kept = row_codes[selected]
            present = np.bincount(kept, minlength=len(uniques)) > 0
            renumber = (np.cumsum(present) - 1).astype(row_codes.dtype)
            codes[name] = (renumber[kept], uniques[present])
        return Prepared(
            self._source,
            codes,
            rows=rows,
            values=self._values[selected],
            replaced=self._replaced,
        )

    def with_values(self, values: np.ndarray) -> Prepared:
        """The same rows with another ``value`` column (e.g. normalised scenarios)."""
        return Prepared(
            self._source,
            dict(self.codes),
            rows=self._rows,
            values=np.asarray(values, dtype=float),
            replaced=True,
        )


Rows: TypeAlias = "np.ndarray | slice | None"
"""Which rows of its source a :class:`Prepared` holds: all (``None``), a slice of
consecutive rows, or their positions."""


def _contiguous(mask: np.ndarray) -> tuple[int, int] | None:
    """(start, stop) when the true entries of ``mask`` are consecutive, else ``None``."""
    count = int(np.count_nonzero(mask))
    start = int(mask.argmax()) if count else 0
    return (start, start + count) if mask[start : start + count].all() else None


def _rows_slice(rows: Rows, start: int, stop: int) -> Rows:
    """Rows ``start`` to ``stop`` of the selection ``rows`` of a source."""
    if rows is None:
        return slice(start, stop)
    if isinstance(rows, slice):
        return slice(rows.start + start, rows.start + stop)
    return rows[start:stop]


def _rows_taken(rows: Rows, selected: np.ndarray) -> np.ndarray:
    """The source positions of the rows at ``selected`` of the selection ``rows``."""
    if rows is None:
        return selected
    if isinstance(rows, slice):
        return selected + rows.start
    return rows[selected]


def prepare(frame: pd.DataFrame | Prepared) -> Prepared:
    """Validate a tidy frame and encode its key columns (a frame already prepared is
    returned as it is: the statistics of one close share one encoding).

    Raises
    ------
    FrameError
        As :func:`analysis.frame.validate_frame`.
    """
    if isinstance(frame, Prepared):
        return frame
    tidy = normalise_frame(frame)
    codes = {name: factorize_sorted(tidy[name]) for name in ENCODED_COLUMNS}
    prepared = Prepared(tidy, codes)
    if len(tidy):
        row_codes = _row_keys([codes[name] for name in ENCODED_COLUMNS])
        if _has_repeats(row_codes):
            order = np.argsort(row_codes, kind="stable")
            repeated = order[1:][row_codes[order[1:]] == row_codes[order[:-1]]]
            first = tidy.iloc[int(repeated.min())]
            raise FrameError(
                "duplicate answer: panelist "
                f"{first['panelist']!r}, round {first['round']}, item {first['item']!r}, "
                f"component {first['component']!r}"
            )
    return prepared


def _row_keys(per_key: list[Codes]) -> np.ndarray:
    """One integer per row identifying its combination of the given columns."""
    shape = tuple(max(len(uniques), 1) for _, uniques in per_key)
    if float(np.prod(shape, dtype=float)) < 2**62:
        return np.ravel_multi_index(tuple(codes for codes, _ in per_key), shape)
    row_codes, _ = combine_codes(per_key)
    return row_codes


def _has_repeats(keys: np.ndarray) -> bool:
    """Whether any integer key occurs twice (bincount when the range is small)."""
    if keys.max() < 4 * keys.size + 1_000_000:
        return bool(np.bincount(keys).max() > 1)
    # A sort and a comparison of neighbours: numpy's hash-based unique took seconds for
    # the millions of answers of a large panel.
    ordered = np.sort(keys)
    return bool((ordered[1:] == ordered[:-1]).any())


def distribution_groups(prepared: Prepared) -> tuple[np.ndarray, pd.DataFrame]:
    """Group codes by (round, item, component), the rows of a round summary."""
    return prepared.group(KEY_COLUMNS)


def group_order(values: np.ndarray, codes: np.ndarray, groups: int) -> np.ndarray:
    """The permutation that sorts NaN-free ``values`` by group code, then by value.

    Sorting by value and then stably by group gives each group's block in ascending
    order.  Whole or half-integer values in a range below 2¹⁶ (ratings, percentages)
    and fewer than 2¹⁶ groups are sorted as 16-bit integers, for which numpy's stable
    sort is a linear-time radix sort; the order is the same as with the float sort.
    """
    order = stable_argsort(values)
    if groups < 2**16:
        # Narrowed before the gather: a 16-bit copy of the codes, not a 64-bit one.
        return order[np.argsort(codes.astype(np.uint16)[order], kind="stable")]
    return order[np.argsort(codes[order], kind="stable")]


def stable_argsort(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")``, by radix sort when values allow it.

    The radix path is taken only when every value times 1 or 2 is an integer of
    magnitude below 2⁵⁰ and the range fits 16 bits: then the shifted integers are exact
    and order the values exactly as the float sort does.
    """
    if values.size:
        for factor in (1.0, 2.0):
            scaled = values * factor
            low = scaled.min()
            high = scaled.max()
            if high - low < 2**16 and max(abs(low), abs(high)) < 2**50:
                whole = np.array_equal(scaled, np.rint(scaled))
                if whole:
                    scaled -= low  # in place: one array of every value less at a time
                    return np.argsort(scaled.astype(np.uint16), kind="stable")
    return np.argsort(values, kind="stable")


def factorize_sorted(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0 … k − 1 of ``values`` in sorted order of the k distinct values (32-bit
    integers below 2³¹ distinct values, see :func:`_code_type`).

    ``values`` must hold no missing value (the tidy frame's key columns never do) and
    be mutually comparable (all strings or all numbers); the result equals
    ``numpy.unique(values, return_inverse=True)`` reversed, without its sort of all
    rows: distinct values are found by hashing (or a presence table for small integers)
    and only they are sorted.
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if array.dtype.kind not in "iufb":
        array = array.astype(object, copy=False)
    if array.size and array.dtype.kind in "iu":
        low = array.min()
        span = int(array.max()) - int(low)
        if span < 4 * array.size + 1_000_000:
            # Small integer range (round numbers, codes): a presence table, no hashing.
            offset = (array - low).astype(np.int64)
            present = np.bincount(offset, minlength=span + 1) > 0
            renumber = (np.cumsum(present) - 1).astype(_code_type(span + 1))
            return renumber[offset], (np.flatnonzero(present) + low).astype(array.dtype)
    if array.size and array.dtype == object and (array == array[0]).all():
        # One distinct value (typically component "" everywhere): nothing to hash.
        return np.zeros(array.size, dtype=np.int32), array[:1].copy()
    codes, uniques = pd.factorize(array)
    uniques = np.asarray(uniques)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=_code_type(len(order)))
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order]


def _code_type(distinct: int) -> type[np.signedinteger]:
    """The integer type of codes numbering ``distinct`` values: 32 bits when they fit
    (always, in practice), half the memory of 64-bit codes: at 100,000 panelists the
    four encoded columns of a later round's close (12 million rows) take 190 MB less,
    and so does each selection of them.  Every use of codes indexes with them or
    combines them through :func:`numpy.ravel_multi_index`, which computes in 64 bits."""
    return np.int32 if distinct < 2**31 else np.int64


def combine_codes(
    per_key: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Group codes of rows from per-column sorted codes (lexicographic order).

    Returns each row's group code and, per column, the code of each group.
    """
    shape = tuple(max(len(uniques), 1) for _, uniques in per_key)
    combined = np.ravel_multi_index(tuple(codes for codes, _ in per_key), shape)
    size = int(np.prod(shape, dtype=np.int64))
    if size <= 4 * len(combined) + 1_000_000:
        # Dense key space: a presence table replaces the sort of np.unique.
        present = np.bincount(combined, minlength=size) > 0
        renumber = np.cumsum(present) - 1
        unique_combined = np.flatnonzero(present)
        codes = renumber[combined]
    else:
        unique_combined, codes = np.unique(combined, return_inverse=True)
    return codes.astype(np.int64, copy=False).reshape(-1), np.unravel_index(unique_combined, shape)


def group_codes(frame: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Code every row of an already valid ``frame`` by ``keys`` (lexicographic order)."""
    prepared = Prepared(frame, {})
    return prepared.group(keys)
