"""The activity trail beside a running app, in a real Chromium: opened from the app bar before the app is
authorized, it fills in live (htmx polling) as the app signs in, exchanges its code and reads FHIR data."""

from __future__ import annotations

import re

from browser import screenshot
from playwright.sync_api import expect

TIMEOUT = 15_000


def test_the_activity_panel_follows_a_launch_live(live_server, page):
    page.goto(f"{live_server}/auth/login?next=/ehr/patients/story-elderly/apps")
    page.get_by_role("button", name=re.compile("Lori")).first.click()
    page.get_by_role("button", name="Launch Sandbox Demo App").click()
    page.get_by_role("dialog").get_by_role("button", name="Launch without an encounter").click()
    frame = page.frame_locator('iframe[title="SMART app: Sandbox Demo App"]')
    expect(frame.get_by_role("button", name="Allow")).to_be_visible(timeout=TIMEOUT)  # waiting for consent

    toggle = page.get_by_role("button", name=re.compile("^View activity"))
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    panel = page.get_by_role("complementary", name="Activity of Sandbox Demo App")
    steps = panel.locator("ol.timeline > li")
    expect(steps.first).to_contain_text("Launch requested", timeout=TIMEOUT)
    expect(panel).to_contain_text("Authorization request")
    expect(panel).not_to_contain_text("Code exchanged for tokens")
    before = steps.count()
    first_step = steps.first.locator("details.step-details")
    first_step.locator("> summary").click()  # a presenter opens a step while the launch goes on
    expect(first_step).to_have_attribute("open", "")

    frame.get_by_role("button", name="Allow").click()
    expect(frame.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    # new steps arrive without reloading the page: approval, code, token exchange, the app's FHIR reads
    expect(panel).to_contain_text("Code exchanged for tokens", timeout=TIMEOUT)
    expect(panel).to_contain_text(re.compile(r"\d+ FHIR requests?: \d+ OK"), timeout=TIMEOUT)
    assert steps.count() > before
    # still open after the live refreshes
    expect(steps.first.locator("details.step-details")).to_have_attribute("open", "")
    exchange = panel.locator("li", has_text="Code exchanged for tokens").first
    exchange.locator("summary").first.click()
    expect(exchange).to_contain_text("S256")  # the PKCE check, as the teaching view explains it
    screenshot(page, "activity-01-beside-the-app")

    toggle.click()
    expect(panel).to_be_hidden()
