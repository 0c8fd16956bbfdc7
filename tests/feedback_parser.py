"""Read the feedback an expert page shows, from its data attributes and text."""

from __future__ import annotations

from html.parser import HTMLParser


class FeedbackParser(HTMLParser):
    """Collect ``{(item, component): {"median": …, "q1": …, "q3": …, "iqr": …, "n": …,
    "own": …}}`` from the ``data-feedback-item``/``data-stat``/``data-own`` markup."""

    def __init__(self) -> None:
        super().__init__()
        self.feedback: dict[tuple[str, str], dict[str, str]] = {}
        self.withheld: set[str] = set()
        self._item: str | None = None
        self._component: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "data-feedback-item" in attributes:
            self._item = attributes["data-feedback-item"]
            self._component = None
        if "data-withheld" in attributes and self._item is not None:
            self.withheld.add(self._item)
        if "data-component" in attributes and self._item is not None:
            self._component = attributes["data-component"] or ""
            self.feedback[(self._item, self._component)] = {}
        if self._item is None or self._component is None:
            return
        line = self.feedback[(self._item, self._component)]
        if "data-stat" in attributes:
            line[attributes["data-stat"] or ""] = attributes.get("data-value") or ""
        if "data-own" in attributes:
            line["own"] = attributes["data-own"] or ""


def parse_feedback(html: str) -> dict[tuple[str, str], dict[str, str]]:
    """The feedback lines of an expert page."""
    parser = FeedbackParser()
    parser.feed(html)
    return parser.feedback


def withheld_items(html: str) -> set[str]:
    """Items whose feedback the page withholds."""
    parser = FeedbackParser()
    parser.feed(html)
    return parser.withheld
