"""README.md's pictures are in the repository: every image it links to is a file there,
and every picture ``docs/screenshots.py`` writes is shown in README.md (a picture that
nobody links to is a stale one).  Cheap: reads files, runs no browser."""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
README = REPOSITORY / "README.md"
SCREENSHOTS = REPOSITORY / "docs" / "screenshots"
#: A Markdown image, ``![alt](target "optional title")``, or an HTML ``<img src="…">``.
IMAGE = re.compile(
    r"!\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)"  # ![alt](target "title")
    r"|<img\s[^>]*src=\"([^\"]+)\""  # <img src="target">
)


def image_links(markdown: str) -> list[str]:
    """Every image target in ``markdown``, in order."""
    return [first or second for first, second in IMAGE.findall(markdown)]


def test_image_links_are_found_in_markdown_and_html() -> None:
    text = '![a](docs/a.png) and [a link](x.md) ![d e](d.png "Title") <img alt="" src="e.png">'
    assert image_links(text) == ["docs/a.png", "d.png", "e.png"]


def test_every_image_in_the_readme_is_a_file_in_the_repository() -> None:
    links = image_links(README.read_text(encoding="utf-8"))
    assert links, "README.md shows no picture"
    missing = []
    for link in links:
        assert not re.match(r"[a-z]+:", link), f"{link}: a picture must be in the repository"
        target = (REPOSITORY / link).resolve()
        if REPOSITORY not in target.parents or not target.is_file():
            missing.append(link)
    assert missing == [], f"README.md links to pictures that are not in the repository: {missing}"


def test_every_screenshot_is_shown_in_the_readme() -> None:
    shown = {(REPOSITORY / link).resolve() for link in image_links(README.read_text("utf-8"))}
    pictures = sorted(SCREENSHOTS.glob("*.png"))
    assert pictures, "docs/screenshots/ holds no picture: run docs/screenshots.py"
    unshown = [p.name for p in pictures if p.resolve() not in shown]
    assert unshown == [], f"screenshots that README.md does not show: {unshown}"
