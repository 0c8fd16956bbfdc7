"""In a real browser: a facilitator runs a study from the console alone.

They log in, paste the demo definition with a deliberate error and see it pointed out
beside its line, fix it; import a panel file with a bad row, then a good one; open
round 1 and invite the panel (no mail server: the outbox); watch the response rate
change while two simulated experts answer through their own pages; close the round
after its preview; curate an open-text answer into a new item, retire an item that
reached consensus, and open round 2, whose page shows the new item and not the
retired one.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from surveys.demo import demo_source
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

FACILITATOR = "lead@example.org"
SLUG = "us-mexico-intelligence"
GOOD_MAX_ROUNDS = "max_rounds = 3"
BAD_MAX_ROUNDS = 'max_rounds = "three"'

PANEL_HEADER = "name,email,group,language\n"
PANEL_ROWS = [
    "Ana Ruiz,ana.ruiz@example.org,academia,en\n",
    "Bo Li,bo.li@example.org,government,en\n",
    "Cy Moreno,cy.moreno@example.org,ngo,es\n",
]
BAD_ROW = "Dee Roe,not-an-email,ngo,en\n"
EXPERTS = ["ana.ruiz@example.org", "bo.li@example.org"]

SUGGESTION = "Water-sharing disputes on the Rio Grande could sour cooperation."
NEW_KEY = "trigger_water_dispute"
NEW_ITEM = f"""[[items]]
key = "{NEW_KEY}"
section = "triggers"
kind = "probability"
text.en = "A dispute over Rio Grande water sharing escalates to a diplomatic crisis."
text.es = "Una disputa por el reparto del agua del río Bravo escala a crisis diplomática."
"""
RETIRE_REASON = "Reached consensus in round 1"
LINK = re.compile(r"https?://\S+?(/e/[A-Za-z0-9_-]{20,})")


def line_of(source: str, text: str) -> int:
    """The 1-based number of the first line of ``source`` holding ``text``."""
    for number, line in enumerate(source.splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in the source")


def csv_file(rows: list[str]) -> dict[str, object]:
    """An in-memory CSV upload for ``set_input_files``."""
    return {
        "name": "panel.csv",
        "mimeType": "text/csv",
        "buffer": (PANEL_HEADER + "".join(rows)).encode("utf-8"),
    }


def study_page(page, live_server: str) -> None:
    page.goto(f"{live_server}/console/studies/{SLUG}")
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}")


def expect_rate(page, live_server: str, submitted: int, panel: int) -> None:
    study_page(page, live_server)
    expect(page.locator("#response-rate")).to_have_text(
        re.compile(rf"^\s*{submitted} of {panel}\b")
    )


def answer_as_expert(new_page, live_server: str, path: str, trust: str) -> None:
    """An expert opens their personal link in their own browser and submits."""
    expert = new_page()
    expert.goto(f"{live_server}{path}")
    expect(expert).to_have_url(re.compile(r"/e/$"))
    expert.locator(f'input[name="trust_now"][value="{trust}"]').check()
    expert.locator("#field-missing_factors").fill(SUGGESTION)
    expert.get_by_role("button", name="Review and submit").click()
    expect(expert.get_by_role("heading", name="Review your answers")).to_be_visible()
    expert.get_by_role("button", name="Submit my answers").click()
    expect(expert.get_by_text("your answers to round 1 are submitted")).to_be_visible()


def test_facilitator_runs_a_study_in_the_browser(live_server, page, new_page, make_user):
    # 1. Log in.
    make_user(FACILITATOR)
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill(FACILITATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")

    # 2. Paste the demo definition with one error; see it beside its line; fix it.
    good = demo_source()
    assert GOOD_MAX_ROUNDS in good
    bad = good.replace(GOOD_MAX_ROUNDS, BAD_MAX_ROUNDS, 1)
    line = line_of(bad, BAD_MAX_ROUNDS)
    page.goto(f"{live_server}/console/studies/new")
    page.get_by_label("Or paste the definition").fill(bad)
    page.get_by_role("button", name="Create the study").click()
    flagged = page.locator(f"#source-listing-{line}")
    expect(flagged).to_have_class(re.compile(r"\bhas-error\b"))
    expect(flagged.locator("code")).to_have_text(re.compile(re.escape(BAD_MAX_ROUNDS)))
    expect(flagged.locator(".field-error")).to_contain_text(
        "study.max_rounds: must be an integer, not a string"
    )
    expect(page.locator(".source-listing li.has-error")).to_have_count(1)
    expect(page.locator("#error-summary")).to_contain_text(
        f"Line {line}, study.max_rounds: must be an integer, not a string"
    )
    source = page.get_by_label("Or paste the definition")
    expect(source).to_have_value(re.compile(re.escape(BAD_MAX_ROUNDS)))
    source.fill(source.input_value().replace(BAD_MAX_ROUNDS, GOOD_MAX_ROUNDS, 1))
    page.get_by_role("button", name="Create the study").click()
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("U.S.–Mexico")

    # 3. Import a panel file with a bad row: nobody added, the line named; then fix it.
    page.get_by_role("link", name="Panel, invitations and reminders").click()
    expect(page.get_by_role("heading", name="Panel", exact=True)).to_be_visible()
    upload = page.get_by_label("Panel file (CSV: name, email, group, language)")
    upload.set_input_files(csv_file([*PANEL_ROWS[:2], BAD_ROW, PANEL_ROWS[2]]))
    page.get_by_role("button", name="Import", exact=True).click()
    errors = page.locator("#import-errors li")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("line 4: email: 'not-an-email' is not an email address")
    expect(page.locator("#panel-count")).to_contain_text("0 panelists")
    upload = page.get_by_label("Panel file (CSV: name, email, group, language)")
    upload.set_input_files(csv_file(PANEL_ROWS))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="New personal links")).to_be_visible()
    expect(page.get_by_text("Each panelist keeps this link for the whole study")).to_be_visible()
    new_links = page.locator("#new-links tbody tr")
    expect(new_links).to_have_count(3)
    imported = []
    for row in new_links.all():
        found = LINK.search(row.locator("code").inner_text())
        assert found
        imported.append(found.group(1))
    page.get_by_role("link", name="Back to the panel").click()
    expect(page.locator("#panel-count")).to_contain_text("3 panelists, 3 with a valid link.")

    # 4. Open round 1 from the study page; invite the panel (no SMTP: the outbox).
    study_page(page, live_server)
    page.get_by_role("button", name="Open round 1").click()
    # The confirmation says what will happen: the panel of 3, the items, no deadline.
    expect(page.get_by_role("heading", name="Open round 1?")).to_be_visible()
    expect(page.locator("#plan-panel")).to_contain_text("3 panelists with a working link")
    expect(page.locator("#plan-deadline")).to_contain_text("None")
    page.get_by_role("button", name="Open round 1", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Round 1 is open.")
    expect_rate(page, live_server, 0, 3)
    page.get_by_role("link", name="Panel, invitations and reminders").click()
    page.get_by_role("button", name="Invite the panel to round 1").click()
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}/outbox")
    expect(page.get_by_role("status").first).to_contain_text("3 new message(s) queued")
    messages = page.locator("#messages tbody tr")
    expect(messages).to_have_count(3)
    links: dict[str, str] = {}
    for row in messages.all():
        cells = row.locator("td")
        expect(cells.nth(1)).to_have_text("invitation")
        body = row.locator("pre.message-body").text_content() or ""
        found = LINK.search(body)
        assert found, f"no personal link in the invitation body:\n{body}"
        # The recipient's cell: the address, then its "Mark as sent" button.
        links[cells.nth(0).inner_text().split("\n")[0].strip()] = found.group(1)
    assert sorted(links) == sorted(row.split(",")[1] for row in PANEL_ROWS)
    assert sorted(links.values()) == sorted(imported)  # the links shown at import

    # 5. Two experts answer in their own browsers; the response rate follows.
    for count, email in enumerate(EXPERTS, start=1):
        answer_as_expert(new_page, live_server, links[email], trust="4")
        expect_rate(page, live_server, count, 3)

    # 6. Close round 1 after its preview.
    page.get_by_role("link", name="Preview and close round 1").click()
    expect(page.get_by_role("heading", name="Close the round: preview")).to_be_visible()
    expect(page.get_by_text("2 panelists have submitted.")).to_be_visible()
    # The row names the item by its text, its key small beside it.
    trust_row = page.locator("#row-trust_now")
    expect(trust_row.get_by_role("rowheader")).to_contain_text("How much trust is there today")
    expect(trust_row.get_by_role("rowheader")).to_contain_text("trust_now")
    expect(trust_row.locator("td.n")).to_have_text("2")
    page.get_by_role("button", name="Close the round", exact=True).click()
    expect(page).to_have_url(f"{live_server}/console/studies/{SLUG}")
    expect(page.get_by_role("status")).to_contain_text("Round 1 is closed")
    expect(page.locator("#response-rate")).to_have_count(0)

    # 7. Curate the open-text answer into a new item; retire an item at consensus.
    page.get_by_role("link", name="Items and their history").click()
    expect(page.get_by_role("heading", name="Items", exact=True)).to_be_visible()
    states = {
        row.get_by_role("rowheader").inner_text().strip(): row.locator("td").nth(3).inner_text()
        for row in page.locator("#items tbody tr").all()
    }
    at_consensus = [key for key, state in states.items() if state.strip() == "consensus"]
    assert "trust_now" in at_consensus, states
    retired = "trust_now"

    page.get_by_role("link", name="Add an item").click()
    expect(page.get_by_role("heading", name="Add an item", level=1)).to_be_visible()
    # Two experts gave the same answer: listed once, with its count.
    answers = page.locator("#answers-missing_factors .answer")
    expect(answers).to_have_text([f"{SUGGESTION} (given by 2 experts)"])
    page.get_by_text("Paste the item as TOML instead").click()
    page.get_by_label("Item (TOML)").fill(NEW_ITEM)
    page.get_by_label("Reason for the change (required)").fill("Suggested in round 1.")
    page.get_by_role("button", name="Add the item from this TOML").click()
    expect(page.get_by_role("status")).to_contain_text(f"The item {NEW_KEY} is added.")
    new_row = page.locator("#items tbody tr").filter(
        has=page.get_by_role("rowheader", name=NEW_KEY, exact=True)
    )
    expect(new_row.locator("td")).to_have_text(["probability", "1", "active", "–"])

    page.locator(f"#reason-{retired}").fill(RETIRE_REASON)
    page.get_by_role("button", name=f"Retire {retired}", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"The item {retired} is retired.")
    retired_row = page.locator("#items tbody tr").filter(
        has=page.get_by_role("rowheader", name=retired, exact=True)
    )
    expect(retired_row.locator("td").nth(2)).to_have_text("retired")
    expect(page.locator(f"#item-{retired} .retired")).to_contain_text(RETIRE_REASON)

    # 8. Open round 2: an expert's page has the new item, not the retired one.
    study_page(page, live_server)
    page.get_by_role("button", name="Open round 2").click()
    expect(page.locator(f'#plan-left li[data-item="{retired}"]')).to_contain_text(RETIRE_REASON)
    expect(page.locator(f'#plan-items li[data-item="{NEW_KEY}"]')).to_be_visible()
    # Every item answered in round 1 reached consensus: the stopping rule says stop, and
    # the round opens only once that is acknowledged.
    expect(page.locator("#stop-recommended")).to_contain_text("recommends stopping")
    page.get_by_label(re.compile("I open round 2 anyway")).check()
    page.get_by_role("button", name="Open round 2", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Round 2 is open.")
    expect_rate(page, live_server, 0, 3)
    expert = new_page()
    expert.goto(f"{live_server}{links[EXPERTS[0]]}")
    expect(expert).to_have_url(re.compile(r"/e/$"))
    expect(expert.locator(f"#item-{NEW_KEY}")).to_be_visible()
    expect(expert.locator(f"#item-{NEW_KEY}")).to_contain_text("Rio Grande water sharing")
    expect(expert.locator("#item-trust_horizon")).to_be_visible()
    expect(expert.locator(f"#item-{retired}")).to_have_count(0)
    assert links[EXPERTS[0]] not in expert.url, "the token must leave the address"
