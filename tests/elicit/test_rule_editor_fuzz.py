"""Fuzzing the rule editor and the preview: whatever is posted, the answer is a page or
a 4xx, never a server error, and a refused rule leaves the stored rules as they were."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import CRITERIA
from elicit.extensions import db
from tests.conftest import csrf_token, log_in
from tests.elicit.test_expert_form_fuzz import values

NAMES = ["combine", "action", "new_kind", "reason"] + [
    f"criteria-{index}-{name}"
    for index in (0, 1, 2, 11, 999999999999)
    for name in ("kind", "max", "low", "high", "min", "divisor", "min_share", "other")
]
ACTIONS = ["save", "clear", "add", "remove-0", "remove-1", "remove-x", "remove-99", "", "\x00"]
CHOICES = ["all", "any", *CRITERIA, "", "\x00"]


def forms() -> st.SearchStrategy[dict[str, str]]:
    """A posted editor form: the editor's own fields and others, with any values."""
    named = st.dictionaries(st.sampled_from(NAMES), st.one_of(st.sampled_from(CHOICES), values()))
    return st.tuples(named, st.sampled_from(ACTIONS)).map(
        lambda pair: {**pair[0], "action": pair[1]}
    )


@pytest.fixture
def facilitator(client, make_study, make_user):
    """The demo study before round 1 and its facilitator, logged in; the CSRF token."""
    study = make_study()
    make_user("lead@example.org", studies=[study])
    log_in(client, "lead@example.org")
    return client, study, csrf_token(client.get("/console/").text)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(form=forms(), path=st.sampled_from(["default", "kinds/scenario_set", "items/trust_now"]))
def test_no_post_to_the_rule_editor_is_a_server_error(facilitator, form, path):
    client, study, token = facilitator
    db.session.expire_all()
    before = (dict(study.consensus), [dict(item.spec) for item in study.items])
    response = client.post(
        f"/console/studies/{study.slug}/rules/{path}", data={**form, "csrf_token": token}
    )
    assert response.status_code < 500, response.text[-2000:]
    if response.status_code != 303:  # refused, or shown again: nothing stored
        db.session.expire_all()
        assert (dict(study.consensus), [dict(item.spec) for item in study.items]) == before


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    form=st.dictionaries(
        st.sampled_from(["trust_now", "scenarios.rift", "action", "rationale.trust_now", "x"]),
        values(),
    )
)
def test_no_post_to_a_preview_is_a_server_error(facilitator, form):
    client, study, token = facilitator
    response = client.post(
        f"/console/studies/{study.slug}/preview/2", data={**form, "csrf_token": token}
    )
    assert response.status_code < 500, response.text[-2000:]
