"""Simulate a failure from the chart, in Chromium: the demo app meets a token revoked after its first two FHIR
requests and shows the refusal a real server sends; the launch's trail says the failure was simulated."""

from __future__ import annotations

import re

from browser import screenshot, sign_in
from playwright.sync_api import expect

TIMEOUT = 15_000


def test_a_token_revoked_after_two_requests_is_refused_in_the_app(live_server, page):
    sign_in(page, live_server, "/ehr/patients/story-elderly/apps")
    card = page.locator(".app-card", has_text="Sandbox Demo App")
    card.get_by_text("Simulate a failure").click()
    card.get_by_label("Failure").select_option("token-revoked")
    card.get_by_label("N (the Nth FHIR request)").fill("2")
    card.get_by_role("button", name="Launch Sandbox Demo App").click()
    page.get_by_role("dialog").get_by_role("button", name="Launch without an encounter").click()
    frame = page.frame_locator('iframe[title="SMART app: Sandbox Demo App"]')
    frame.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    # the app's first two requests (the patient and the vital signs, in either order) work; the next one does not
    expect(frame.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    frame.get_by_role("button", name="Read again").click()
    expect(frame.locator("#vitals-error")).to_contain_text("refused", timeout=TIMEOUT)
    page.get_by_role("button", name=re.compile("^View activity")).click()
    panel = page.get_by_role("complementary", name="Activity of Sandbox Demo App")
    expect(panel).to_contain_text("Simulated failure", timeout=TIMEOUT)
    screenshot(page, "simulate-token-revoked")


def test_step_mode_pauses_twice_and_goes_on_at_each_continue(live_server, page):
    sign_in(page, live_server, "/ehr/patients/story-elderly/apps")
    card = page.locator(".app-card", has_text="Sandbox Demo App")
    card.get_by_text("Simulate a failure, or step mode").click()
    card.get_by_label("Step mode: pause before the code and before the token exchange").check()
    card.get_by_role("button", name="Launch Sandbox Demo App").click()
    page.get_by_role("dialog").get_by_role("button", name="Launch without an encounter").click()
    frame = page.frame_locator('iframe[title="SMART app: Sandbox Demo App"]')
    frame.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(frame.get_by_role("heading", name="Paused before the code is sent")).to_be_visible(timeout=TIMEOUT)
    bar = page.locator(".app-pane .launch-state")
    expect(bar).to_contain_text("Paused before the code", timeout=TIMEOUT)
    screenshot(page, "step-mode-01-before-the-code")
    bar.get_by_role("button", name="Continue").click()
    expect(bar).to_contain_text("Paused before the token exchange", timeout=TIMEOUT)
    expect(frame.locator("#vitals tbody tr")).to_have_count(0)  # the app has no token yet
    bar.get_by_role("button", name="Continue").click()
    expect(frame.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    expect(bar).to_contain_text("Running", timeout=TIMEOUT)
    screenshot(page, "step-mode-02-running")
