"""Console sessions in a real browser: a cookie copied into another browser dies at
logout, and the password page works by keyboard, without serious accessibility
violations, at 320 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.support import axe_violations, describe_violations, horizontal_overflow, serve_axe

pytestmark = pytest.mark.e2e

EMAIL = "lead@example.org"
NEW_PASSWORD = "a brand new and long passphrase"
BLOCKING = {"serious", "critical"}


def log_in(page, live_server: str, password: str = PASSWORD) -> None:
    """Log in through the form and land on the studies page."""
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/console/")


def test_a_cookie_copied_into_another_browser_dies_at_logout(live_server, new_page, make_user):
    make_user(EMAIL)
    page = new_page()
    log_in(page, live_server)
    thief = new_page()
    thief.context.add_cookies(page.context.cookies())
    thief.goto(f"{live_server}/console/")
    expect(thief).to_have_url(f"{live_server}/console/")  # the copy works, for now
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    thief.goto(f"{live_server}/console/")
    expect(thief).to_have_url(f"{live_server}/console/login?next=%2Fconsole%2F")


def test_the_password_page_by_keyboard_and_at_320_pixels(live_server, new_page, make_user):
    make_user(EMAIL)
    page = new_page()
    serve_axe(page, live_server)
    other = new_page()
    log_in(other, live_server)
    log_in(page, live_server)
    page.get_by_role("link", name="Password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    blocking: list[str] = []

    def scan(where: str) -> None:
        serious = [v for v in axe_violations(page, live_server) if v["impact"] in BLOCKING]
        if serious:
            blocking.append(describe_violations(where, serious))

    scan("password page")
    # By keyboard: the three fields in order, then the button.
    page.get_by_label("Current password").focus()
    page.keyboard.type("not the password at all")
    page.keyboard.press("Tab")
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_contain_text(
        "Current password: The current password is not right."
    )
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    scan("password page with an error")
    page.set_viewport_size({"width": 320, "height": 800})
    width, offenders = horizontal_overflow(page, 320)
    assert width <= 320, "\n".join(offenders)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change the password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    assert blocking == [], "\n\n".join(blocking)
    # This browser goes on; the other one has to log in again, with the new password.
    page.goto(f"{live_server}/console/")
    expect(page).to_have_url(f"{live_server}/console/")
    other.goto(f"{live_server}/console/")
    expect(other).to_have_url(f"{live_server}/console/login?next=%2Fconsole%2F")
    log_in(other, live_server, NEW_PASSWORD)
