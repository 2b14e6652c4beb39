"""The bundled demo app in a real Chromium with the official JS SMART client: a standalone launch through the
sign-in, patient picker and consent pages as a person clicks them, and an EHR launch made with the launch API.
Either way the app shows the patient and vital signs it read with its own token."""

from __future__ import annotations

import re

import requests
from browser import browser, page, screenshot  # noqa: F401 - fixtures
from playwright.sync_api import expect

TIMEOUT = 15_000


def test_standalone_launch_of_the_demo_app_through_the_pages(live_server, page):  # noqa: F811
    page.goto(f"{live_server}/demo/launch.html")
    expect(page.get_by_text("Sandbox sign-in: no password needed")).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "01-sign-in")
    # the demo app's standalone launch is patient-facing: it lands on the portal's sign-in; a clinician goes on
    page.get_by_role("link", name="Sign in on the clinician sign-in page").click()
    page.get_by_role("button", name=re.compile("Lori")).first.click()
    expect(page.get_by_role("heading", name="Choose the patient for this app")).to_be_visible(timeout=TIMEOUT)
    page.get_by_label("Find a patient: name").fill("johnson")
    page.get_by_role("button", name="Search").click()
    screenshot(page, "02-patient-picker")
    page.get_by_role("button", name="Choose JOHNSON, Marcus").click()
    expect(page.get_by_role("heading", name=re.compile("Allow Sandbox Demo App"))).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "03-consent")
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("status")).to_contain_text("Launched", timeout=TIMEOUT)
    expect(page.locator("#banner")).to_contain_text("JOHNSON, Marcus")
    expect(page.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#context")).to_contain_text("story-diabetes")
    expect(page.locator("#id-token")).to_contain_text("fhirUser")
    screenshot(page, "04-demo-app")


def test_ehr_launch_of_the_demo_app(live_server, page):  # noqa: F811
    launch = requests.post(f"{live_server}/api/launches", timeout=10, json={
        "client_id": "demo-app", "patient": "story-elderly", "skip_login": True, "skip_consent": True}).json()
    page.goto(launch["launch_url"])
    expect(page.get_by_role("status")).to_contain_text("Launched", timeout=TIMEOUT)
    expect(page.locator("#context")).to_contain_text("story-elderly")
    expect(page.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "05-demo-app-ehr-launch")
