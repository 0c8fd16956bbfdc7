"""Find the line on which a value of a TOML document was written.

``tomllib`` returns plain data without positions; error messages about a study file
must still point at a line.  This scanner reads the source line by line, follows table
headers (``[a.b]``) and arrays of tables (``[[items]]``), and records the line of every
``key = value``.  Values written inline (``scale = { min = 1 }``) or across lines map to
the line of their key, which is where a person would look.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PathPart = str | int
Path = tuple[PathPart, ...]

_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_VALUE = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_BARE_OR_QUOTED)


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
        array_counts: dict[Path, int] = {}
        current: Path = ()
        open_string: str | None = None
        bracket_depth = 0
        for number, line in enumerate(source.splitlines(), start=1):
            if open_string is not None:
                if line.count(open_string) % 2 == 1:
                    open_string = None
                continue
            stripped = line.split("#", 1)[0] if '"' not in line and "'" not in line else line
            if bracket_depth == 0:
                if match := _ARRAY_HEADER.match(stripped):
                    names = _split_key(match.group(1))
                    prefix = self._resolve(names[:-1], array_counts)
                    array_path = (*prefix, names[-1])
                    index = array_counts.get(array_path, -1) + 1
                    array_counts[array_path] = index
                    current = (*array_path, index)
                    self._lines.setdefault(array_path, number)
                    self._lines[current] = number
                    continue
                if match := _TABLE_HEADER.match(stripped):
                    current = self._resolve(_split_key(match.group(1)), array_counts)
                    self._lines.setdefault(current, number)
                    continue
                if match := _KEY_VALUE.match(stripped):
                    parts = _split_key(match.group(1))
                    # A dotted key (``text.en = …``) also defines its parent tables here.
                    for end in range(1, len(parts) + 1):
                        self._lines.setdefault((*current, *parts[:end]), number)
            for quote in ('"""', "'''"):
                if stripped.count(quote) % 2 == 1:
                    open_string = quote
            bracket_depth = max(0, bracket_depth + _bracket_balance(stripped))

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


def _bracket_balance(line: str) -> int:
    """Count ``[`` minus ``]`` outside strings and comments, for multi-line arrays."""
    balance = 0
    quote: str | None = None
    for character in line:
        if quote:
            if character == quote:
                quote = None
        elif character in "\"'":
            quote = character
        elif character == "#":
            break
        elif character in "[{":
            balance += 1
        elif character in "]}":
            balance -= 1
    return balance
