"""Message texts in a real browser (issue 14, point 3): the facilitator signs the
messages, edits the invitation in Spanish and in English, previews each as a sample
panelist receives it, has a hostile template refused on its field with what was typed
kept, and saves.  Every page axe-clean and no wider than the window at 1280 and 375 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.support import (
    axe_violations,
    describe_violations,
    horizontal_overflow,
    save_screenshot,
    serve_axe,
)

pytestmark = pytest.mark.e2e

SLUG = "us-mexico-intelligence"


def _clean(page, live_server, where: str, width: int) -> None:
    scroll_width, offenders = horizontal_overflow(page, width)
    assert scroll_width <= width, (where, offenders)
    violations = axe_violations(page, live_server)
    assert not violations, describe_violations(f"{where} ({width} px)", violations)


@pytest.mark.parametrize("width", [1280, 375])
def test_the_facilitator_writes_the_invitation_in_both_languages(
    live_server, new_page, make_study, make_user, artifacts, width
):
    make_study()
    from elicit.extensions import db
    from surveys.studies import find_study

    make_user("lead@example.org", studies=[find_study(db.session, SLUG)])
    page = new_page(viewport={"width": width, "height": 900})
    serve_axe(page, live_server)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")
    page.goto(f"{live_server}/console/studies/{SLUG}")
    page.get_by_role("link", name="Message texts").click()
    expect(page.get_by_role("heading", name="Messages to the panel")).to_be_visible()

    page.get_by_label("Your name, as messages sign it").fill("Dr. Rosa Ortiz")
    page.get_by_label("How panelists can reach you (email or phone)").fill("rosa@example.org")
    page.get_by_label("Send the thank-you to each panelist who submits a round").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("The signature and the thank-you")
    expect(
        page.get_by_label("Send the thank-you to each panelist who submits a round")
    ).to_be_checked()
    save_screenshot(page, artifacts, f"messages-overview-{width}")
    _clean(page, live_server, "the messages overview", width)

    page.locator("li[data-kind='invitation'][data-language='es'] a").click()
    expect(page.locator("#preview-body")).to_contain_text("Estimado/a Ana Ejemplo:")
    expect(page.locator("#preview-body")).to_contain_text("Dr. Rosa Ortiz")
    body = page.get_by_label("Text")
    body.fill("Hola {{ name.__class__ }}")
    page.get_by_role("button", name="Save the text").click()
    expect(page.locator("#error-summary")).to_contain_text("“.__class__”")
    expect(page.locator("#error-summary")).to_contain_text("must contain {{ link }}")
    expect(body).to_have_value("Hola {{ name.__class__ }}")
    _clean(page, live_server, "a refused invitation", width)
    body.fill(
        "Hola {{ name }}:\n\nLa ronda {{ round }} de «{{ study_title }}» le espera."
        "{% if deadline %} Plazo: {{ deadline }}.{% endif %}\n\n{{ link }}\n\n{{ lead_name }}\n"
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#unsaved")).to_be_visible()
    expect(page.locator("#preview-body")).to_contain_text("Hola Ana Ejemplo:")
    expect(page.locator("#preview-body")).to_contain_text("Plazo: ")
    save_screenshot(page, artifacts, f"messages-edit-es-{width}")
    _clean(page, live_server, "the Spanish invitation's preview", width)
    page.get_by_role("button", name="Save the text").click()
    expect(page.get_by_role("status").first).to_contain_text("The text is saved.")
    expect(page.get_by_text("This is your own text.")).to_be_visible()

    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_contain_text("(English)")
    page.get_by_label("Subject").fill("Round {{ round }} is open, {{ name }}")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-subject")).to_have_text("Round 1 is open, Alex Example")
    page.get_by_role("button", name="Save the text").click()
    expect(page.get_by_role("status").first).to_contain_text("The text is saved.")

    page.get_by_role("link", name="All messages").click()
    expect(page.locator("li[data-kind='invitation'][data-language='es']")).to_contain_text(
        "your own text"
    )
    expect(page.locator("li[data-kind='invitation'][data-language='en']")).to_contain_text(
        "Round {{ round }} is open, {{ name }}"
    )
    expect(page.locator("li[data-kind='reminder'][data-language='en']")).to_contain_text(
        "the default text"
    )

    # Reminders planned before the deadline, shown on the study page too.
    page.get_by_label("How long before the deadline").fill("3")
    page.get_by_role("button", name="Plan this reminder").click()
    expect(page.locator("#reminders li[data-hours='72']")).to_contain_text(
        "3 days before the deadline"
    )
    page.get_by_label("How long before the deadline").fill("0")
    page.get_by_role("button", name="Plan this reminder").click()
    expect(page.locator("#schedule-errors")).to_contain_text("How long before the deadline")
    save_screenshot(page, artifacts, f"messages-reminders-{width}")
    _clean(page, live_server, "the planned reminders", width)

    # "3 days before" in words of its own, in Spanish; English keeps the reminder text.
    planned = page.locator("#reminders li[data-hours='72']")
    expect(planned.locator("a[data-language='es']")).to_have_attribute("data-own", "no")
    planned.locator("a[data-language='es']").click()
    expect(page.locator("h1")).to_contain_text("3 days before the deadline")
    expect(page.locator("#text-state")).to_contain_text("the study's reminder text")
    page.get_by_label("Subject").fill("Quedan tres días para «{{ study_title }}»")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-subject")).to_contain_text("Quedan tres días para «")
    page.get_by_role("button", name="Save the text").click()
    expect(page.get_by_role("status").first).to_contain_text("The text is saved.")
    expect(page.locator("#text-state")).to_contain_text("This is its own text.")
    save_screenshot(page, artifacts, f"messages-planned-reminder-es-{width}")
    _clean(page, live_server, "a planned reminder's own text", width)
    page.get_by_role("link", name="All messages").click()
    expect(planned.locator("a[data-language='es']")).to_have_attribute("data-own", "yes")
    expect(planned.locator("a[data-language='en']")).to_have_attribute("data-own", "no")

    page.goto(f"{live_server}/console/studies/{SLUG}")
    expect(page.locator("#planned-reminders")).to_contain_text("3 days before the deadline")
