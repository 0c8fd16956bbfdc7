"""Every text that reaches the study report is drawn literally (issue 11, point 12).

matplotlib reads a text with two ``$`` as mathematics: a likert label ``$x$`` came out
as an italic *x*, ``$1–$5 million`` lost its dollar signs, and a label whose "formula"
mathtext could not parse (``$\\frac$``) made the whole report answer 500.  Here a study
writes such texts in every place a study's text can go (likert labels, item text, unit,
scenario and option texts); after a closed round its report answers 200, each text is on
the page as written, and the likert labels are in the SVG plots as written.
"""

from __future__ import annotations

import base64
import html
import random
import re

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.panel import panelist_by_pseudonym
from surveys.rounds import close_round, open_round
from surveys.simulation import simulated_answers
from surveys.studies import study_definition
from tests.conftest import log_in

SVG_PREFIX = "data:image/svg+xml;base64,"
#: Texts that mathtext would read as mathematics, or would refuse to parse.
LABELS = ["$x$", "$1–$5 million", "\\frac{1}{2} $\\frac$", "a_b^c", "100% & <more>"]
SOURCE = """\
[study]
slug = "dollars"
languages = ["en"]
max_rounds = 2
title = { en = "Costs in $ and $$" }

[consensus]
criteria = [{ kind = "iqr", max = 1 }]

[[items]]
key = "cost"
kind = "likert"
scale = { min = 1, max = 5 }
text = { en = "Is $1–$5 million enough for $x$?" }
labels = { en = ['$x$', '$1–$5 million', '\\frac{1}{2} $\\frac$', 'a_b^c', '100% & <more>'] }

[[items]]
key = "budget"
kind = "numeric_estimate"
text = { en = "Budget in $1–$5 million steps" }
unit = { en = "$1–$5 million" }
bounds = { min = 0, max = 100 }
consensus = { criteria = [{ kind = "iqr", max = 5 }] }

[[items]]
key = "futures"
kind = "scenario_set"
text = { en = "Which $x$ future?" }

[[items.scenarios]]
key = "cheap"
text = { en = "Under $1–$5 million" }

[[items.scenarios]]
key = "middle"
text = { en = "Between $x$ and $y$" }

[[items.scenarios]]
key = "dear"
text = { en = "Over \\\\frac{a}{b}, a_b^c" }

[[items]]
key = "order"
kind = "ranking"
text = { en = "Order the $x$ costs" }
consensus = { criteria = [{ kind = "iqr", max = 1 }] }

[[items.options]]
key = "first"
text = { en = "$1–$5 million" }

[[items.options]]
key = "second"
text = { en = "$x$ and a_b^c" }
"""


def svgs(page: str) -> dict[tuple[str, str], str]:
    """Each plot's SVG text by (kind, item), decoded from the page's images."""
    found = {}
    for tag in re.findall(r"<img [^>]*>", page):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if attributes.get("src", "").startswith(SVG_PREFIX):
            data = base64.b64decode(attributes["src"].removeprefix(SVG_PREFIX))
            found[(attributes["data-plot"], attributes["data-item"])] = data.decode("utf-8")
    return found


def test_texts_with_dollars_and_tex_are_drawn_as_written(
    app, client, make_study, make_panel, make_user
):
    study = make_study(SOURCE)
    definition = study_definition(study)
    (cost,) = [item for item in definition.items if item.key == "cost"]
    assert cost.scale is not None and list(cost.scale.labels_in("en")) == LABELS
    links = make_panel(study, 6)
    open_round(db.session, study)
    rng = random.Random(12)
    for link in links:
        panelist = panelist_by_pseudonym(db.session, study, link.pseudonym)
        submit_responses(db.session, panelist, simulated_answers(rng, definition))
    close_round(db.session, study)
    make_user("lead@example.org", studies=[study])
    assert log_in(client, "lead@example.org").status_code == 302

    response = client.get("/console/studies/dollars/report")
    assert response.status_code == 200
    page = html.unescape(response.text)
    for text in (
        "Is $1–$5 million enough for $x$?",
        "Under $1–$5 million",
        "Between $x$ and $y$",
        "Over \\frac{a}{b}, a_b^c",
        "$x$ and a_b^c",
        *LABELS,
    ):
        assert text in page, text

    plots = svgs(response.text)
    assert ("distribution", "cost") in plots and ("pooled", "futures") in plots
    drawn = html.unescape(plots[("distribution", "cost")])
    for number, label in enumerate(LABELS, start=1):
        assert f">{number} {label}</text>" in drawn, label  # one text element, as written
    assert "italic" not in drawn
    download = client.get("/console/studies/dollars/report/download")
    assert download.status_code == 200
    assert "$1–$5 million" in html.unescape(download.text)
