"""The sample apps in a real Chromium: the server-side Patient Summary launched from a chart, and an app whose
launch URL nothing answers flagged on its card instead of opening a broken frame."""

from __future__ import annotations

import re

import requests
from browser import screenshot, sign_in
from playwright.sync_api import expect

TIMEOUT = 15_000



def test_the_server_side_sample_app_shows_the_charts_patient(live_server, page):
    sign_in(page, live_server, "/ehr/patients/story-diabetes/apps")
    page.get_by_role("button", name="Launch Patient Summary (server-side sample)").click()
    frame = page.frame_locator('iframe[title="SMART app: Patient Summary (server-side sample)"]')
    expect(frame.get_by_role("button", name="Allow")).to_be_visible(timeout=TIMEOUT)
    frame.get_by_role("button", name="Allow").click()
    expect(frame.get_by_role("heading", name="Active problems")).to_be_visible(timeout=TIMEOUT)
    expect(frame.get_by_label("Patient")).to_contain_text("Marcus")
    expect(frame.locator("main")).to_contain_text(re.compile("diabetes", re.I))
    expect(frame.get_by_role("row", name=re.compile("^Scope"))).to_contain_text("patient/Condition.rs")
    expect(page.locator(".app-card.app-unreachable")).to_have_count(0)
    screenshot(page, "sample-summary-in-chart")


def test_an_app_nothing_answers_for_is_flagged_not_framed(live_server, page):
    registered = requests.post(f"{live_server}/auth/register", timeout=10, json={
        "client_name": "Stopped App", "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"],
        "redirect_uris": ["http://127.0.0.1:9/callback"], "launch_uri": "http://127.0.0.1:9/launch",
        "scope": "launch patient/*.rs"})
    assert registered.status_code == 201, registered.text
    sign_in(page, live_server, "/ehr/patients/story-diabetes/apps")
    card = page.locator(".app-card", has_text="Stopped App")
    note = card.get_by_role("status")
    expect(note).to_contain_text("Nothing answers at http://127.0.0.1:9/launch", timeout=TIMEOUT)
    expect(page.locator(".app-card", has_text="Sandbox Demo App").get_by_role("status")).to_be_hidden()
    card.get_by_role("button", name="Launch Stopped App").click()
    expect(note).to_be_focused(timeout=TIMEOUT)
    expect(page.locator('iframe[title="SMART app: Stopped App"]')).to_have_count(0)
    screenshot(page, "stopped-app-flagged")
