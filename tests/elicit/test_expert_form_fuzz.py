"""Fuzzing the expert form: whatever is posted, the answer is never a server error and
what was typed is kept as the draft.

Hypothesis draws forms from the study's own field names (answers, scenario and
estimate parts, ranks, rationales) and from names the page never has, with values
that mix plausible answers (numbers in both decimal notations, "cannot_judge") with
control characters, NUL, markup, formula-like text, very long text and any other
character, and posts them as every action an expert has: autosave, Save draft,
Review and Submit.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from elicit.extensions import db
from surveys.drafts import DRAFT_VALUE_MAX_LENGTH
from surveys.models import Draft
from surveys.rounds import open_round
from surveys.snapshots import study_snapshot
from surveys.text import clean_typed_text
from tests.conftest import csrf_token, enter
from tests.e2e.support import panel_answers

NASTY = ["\x00", "\x01", "\x07", "\x1b[2J", "\x7f", "\r\n", "\t", "\u2028", "\ufeff", "=1+1",
         "@SUM(A1)", "<script>alert(1)</script>", "$x$", "%(name)s", "{0}", "NaN", "1e309",
         "-0", "1,000", "12,5 %", "  7  ", "cannot_judge", "ﾟ", "😀"]  # fmt: skip


def values() -> st.SearchStrategy[str]:
    """Text an expert, a broken client or an attacker might post in one field."""
    plausible = st.one_of(
        st.integers(-200, 200_000).map(str),
        st.decimals(-1000, 1000, places=2, allow_nan=False).map(lambda d: str(d).replace(".", ",")),
        st.sampled_from(NASTY),
    )
    anything = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
    long = st.integers(2_000, 30_000).map(lambda n: "é\x00" * (n // 2))
    return st.one_of(plausible, anything, st.lists(st.sampled_from(NASTY)).map("".join), long)


@pytest.fixture
def expert_client(client, make_study, make_panel):
    study = make_study()
    (link,) = make_panel(study, 1)
    open_round(db.session, study)
    enter(client, link.token)
    token = csrf_token(client.get("/e/").text)
    fields = sorted(study_snapshot(db.session, study.id).fields)
    return client, token, fields


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_posted_form_is_answered_without_error_and_kept_as_the_draft(expert_client, data):
    client, token, fields = expert_client
    names = st.one_of(st.sampled_from(fields), st.text(max_size=20))
    free_text = [name for name in fields if name.startswith("rationale.")] + ["missing_factors"]
    if data.draw(st.booleans(), label="valid answers with hostile free text"):
        # Valid answers, so that hostile text reaches the statements that store
        # submitted answers (a NUL there was a 500 on PostgreSQL), not only drafts.
        form = panel_answers(data.draw(st.integers(0, 4), label="seed"))
        texts = st.dictionaries(st.sampled_from(free_text), values(), min_size=1, max_size=6)
        form.update(data.draw(texts, label="free text"))
    else:
        form = data.draw(st.dictionaries(names, values(), max_size=25), label="form")
    action = data.draw(st.sampled_from(["autosave", "save", "review", "submit"]), label="action")
    if action == "autosave":
        response = client.post("/e/draft", data=form, headers={"X-CSRFToken": token})
    else:
        response = client.post("/e/", data={**form, "csrf_token": token, "action": action})
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    assert response.status_code in {200, 302, 409, 422}
    db.session.expire_all()
    draft = db.session.execute(select(Draft)).scalar_one()
    expected = {
        clean_typed_text(name): clean_typed_text(value)[:DRAFT_VALUE_MAX_LENGTH]
        for name, value in form.items()
        if clean_typed_text(name) in fields and name not in ("csrf_token", "action")
    }
    assert draft.values["fields"] == expected
