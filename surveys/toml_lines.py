"""Find the line on which a value of a TOML document was written.

``tomllib`` returns plain data without positions; error messages about a study file
must still point at a line.  This scanner reads the source line by line, follows table
headers (``[a.b]``) and arrays of tables (``[[items]]``), and records the line of every
``key = value``.  Values written inline (``scale = { min = 1 }``) or across lines map to
the line of their key, which is where a person would look.

The same pass measures what ``tomllib`` cannot be trusted with (it recurses once per
nested bracket and refuses integers of more than 4,300 digits by raising errors that
carry no line): how deeply each line nests its values and how long its numbers are, so
that the loader can refuse such a file *before* reading it, naming the line and the key.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

PathPart = str | int
Path = tuple[PathPart, ...]

_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_VALUE = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_BARE_OR_QUOTED)
#: A run of digits as a TOML number writes them (``_`` may separate digits).
_DIGITS = re.compile(r"[0-9](?:_?[0-9])*")
_BRACKETS = re.compile(r"[\[\]{}]")


def _split_key(dotted: str) -> list[str]:
    """Split a dotted TOML key into its parts, unquoting quoted parts."""
    parts = []
    for match in _PART.finditer(dotted):
        part = match.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return parts


class LineIndex:
    """Map paths such as ``("items", 2, "scale", "max")`` to 1-based source lines."""

    def __init__(self, source: str) -> None:
        self._lines: dict[Path, int] = {}
        #: Lines that start a header or a ``key = value``, in order, with its path.
        self._starts: list[int] = []
        self._start_paths: list[Path] = []
        #: Per line: the deepest nesting of brackets and braces reached on it, and the
        #: most digits of one number written on it (outside strings and comments).
        self.depths: list[int] = []
        self.digits: list[int] = []
        array_counts: dict[Path, int] = {}
        current: Path = ()
        depth = 0  # open brackets and braces of a value that spans lines
        for number, line in enumerate(_scan(source), start=1):
            code, masked, starts_in_string = line
            self.depths.append(_deepest(masked, depth))
            self.digits.append(
                max((len(run) - run.count("_") for run in _DIGITS.findall(masked)), default=0)
            )
            if not starts_in_string and depth == 0:
                if match := _ARRAY_HEADER.match(code):
                    names = _split_key(match.group(1))
                    prefix = self._resolve(names[:-1], array_counts)
                    array_path = (*prefix, names[-1])
                    index = array_counts.get(array_path, -1) + 1
                    array_counts[array_path] = index
                    current = (*array_path, index)
                    self._lines.setdefault(array_path, number)
                    self._lines[current] = number
                    self._start(number, current)
                    continue
                if match := _TABLE_HEADER.match(code):
                    current = self._resolve(_split_key(match.group(1)), array_counts)
                    self._lines.setdefault(current, number)
                    self._start(number, current)
                    continue
                if match := _KEY_VALUE.match(code):
                    parts = _split_key(match.group(1))
                    # A dotted key (``text.en = …``) also defines its parent tables here.
                    for end in range(1, len(parts) + 1):
                        self._lines.setdefault((*current, *parts[:end]), number)
                    self._start(number, (*current, *parts))
            depth = max(
                0,
                depth
                + masked.count("[")
                + masked.count("{")
                - masked.count("]")
                - masked.count("}"),
            )

    def _start(self, number: int, path: Path) -> None:
        """Record that line ``number`` begins the header or key ``path``."""
        self._starts.append(number)
        self._start_paths.append(path)

    def path_at(self, line: int) -> Path:
        """The key written on ``line``, or of the value that spans it (``()`` if none).

        Lines inside a value written across lines belong to the key that opened it,
        which is where a problem found on them is reported.
        """
        position = bisect_right(self._starts, line)
        return self._start_paths[position - 1] if position else ()

    def first_line_deeper_than(self, limit: int) -> int | None:
        """The first line on which values nest more than ``limit`` levels, if any."""
        return next((n for n, depth in enumerate(self.depths, start=1) if depth > limit), None)

    def first_line_with_more_digits_than(self, limit: int) -> int | None:
        """The first line with a number of more than ``limit`` digits, if any."""
        return next((n for n, digits in enumerate(self.digits, start=1) if digits > limit), None)

    @staticmethod
    def _resolve(names: Sequence[str], array_counts: dict[Path, int]) -> Path:
        """Turn header names into a path, entering the latest element of each array."""
        path: Path = ()
        for name in names:
            path = (*path, name)
            if path in array_counts:
                path = (*path, array_counts[path])
        return path

    def line_of(self, path: Path) -> int:
        """Return the line of ``path`` or of its nearest recorded ancestor (1 if none)."""
        for end in range(len(path), 0, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return 1


def _deepest(masked: str, depth: int) -> int:
    """The deepest nesting reached along ``masked`` (a line with strings blanked), from
    ``depth`` levels already open at its start."""
    deepest = depth
    for match in _BRACKETS.finditer(masked):
        if match.group(0) in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def _scan(source: str) -> list[tuple[str, str, bool]]:
    """Lex ``source`` just enough to know, for each line: its text without a trailing
    comment, the same with every string's content blanked (for counting brackets), and
    whether the line starts inside a multi-line string.

    Follows TOML's four string forms, backslash escapes in basic strings and ``#``
    comments, so that quotes, brackets or ``#`` inside strings and comments mislead
    nothing.
    """
    lines: list[tuple[str, str, bool]] = []
    quote: str | None = None  # the delimiter of the string we are in
    for line in source.splitlines():
        starts_in_string = quote is not None and len(quote) == 3
        if quote is not None and len(quote) == 1:
            quote = None  # a one-line string never continues on the next line
        code, masked = [], []
        index = 0
        while index < len(line):
            character = line[index]
            if quote is None:
                if character == "#":
                    break
                if character in "\"'":
                    quote = character * 3 if line.startswith(character * 3, index) else character
                    code.append(quote)
                    masked.append(quote)
                    index += len(quote)
                    continue
                code.append(character)
                masked.append(character)
                index += 1
                continue
            if quote[0] == '"' and character == "\\":
                code.append(line[index : index + 2])
                masked.append("  "[: len(line[index : index + 2])])
                index += 2
                continue
            if line.startswith(quote, index):
                code.append(quote)
                masked.append(quote)
                index += len(quote)
                quote = None
                continue
            code.append(character)
            masked.append(" ")
            index += 1
        lines.append(("".join(code), "".join(masked), starts_in_string))
    return lines
