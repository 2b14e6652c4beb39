"""The patient portal in a real Chromium: a patient signs in, reads their summary and test results, opens the
bundled demo app from the Apps page (a portal launch, in a new tab), allows it, and the app shows that patient's
name and vital signs read with its own token; the app then shows up under Connected apps."""

from __future__ import annotations

import re

from browser import browser, page, screenshot  # noqa: F401 - fixtures
from playwright.sync_api import expect

TIMEOUT = 15_000


def test_a_patient_opens_the_demo_app_from_the_portal(live_server, page):  # noqa: F811
    page.goto(f"{live_server}/portal")
    expect(page.get_by_role("heading", name="Sign in to your patient portal")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Sandbox sign-in: no password needed")).to_be_visible()
    screenshot(page, "portal-01-sign-in")

    page.get_by_role("button", name=re.compile("Marcus Anthony Johnson")).click()
    expect(page.get_by_role("heading", name="My health")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("header .portal-who")).to_have_text("Marcus Johnson")
    pressure = page.locator(".p-vital").filter(has_text="Blood pressure")
    expect(pressure.locator(".p-flag")).to_have_text("▲ High")
    expect(page.get_by_role("region", name="Health conditions")).to_contain_text("Type 2 diabetes Since 2 June 2020")
    screenshot(page, "portal-02-my-health")

    nav = page.get_by_role("navigation", name="Patient portal")
    nav.get_by_role("link", name="Test results").click()
    expect(page.get_by_role("heading", name="Test results", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("section.p-panel").first.locator(".p-flag").first).to_have_text("▲ High")
    screenshot(page, "portal-03-test-results")
    nav.get_by_role("link", name="Medicines").click()
    expect(page.get_by_role("heading", name="Taking now")).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "portal-04-medicines")

    nav.get_by_role("link", name="Apps", exact=True).click()
    expect(page.get_by_role("heading", name="Sandbox Demo App")).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "portal-05-apps")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name=re.compile("^Open Sandbox Demo App")).click()
    app = opened.value
    expect(app.get_by_role("heading", name=re.compile("Allow Sandbox Demo App"))).to_be_visible(timeout=TIMEOUT)
    screenshot(app, "portal-06-consent")
    app.get_by_role("button", name="Allow").click()

    expect(app.get_by_role("status")).to_contain_text("Launched", timeout=TIMEOUT)
    expect(app.locator("#banner")).to_contain_text("JOHNSON, Marcus")
    expect(app.locator("#context")).to_contain_text("story-diabetes")
    expect(app.locator("#context")).to_contain_text("need_patient_banner")
    expect(app.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    expect(app.locator("#vitals")).to_contain_text("Blood pressure")
    expect(app.locator("#vitals-error")).to_be_hidden()
    screenshot(app, "portal-07-demo-app")

    nav.get_by_role("link", name="Connected apps").click()
    connection = page.locator("li.p-connection").filter(has_text="Sandbox Demo App")
    expect(connection.locator(".p-state")).to_have_text("Active", timeout=TIMEOUT)
    screenshot(page, "portal-08-connected-apps")

    connection.get_by_role("button", name=re.compile("^Revoke access")).click()
    dialog = page.get_by_role("dialog", name="Revoke access for Sandbox Demo App?")
    expect(dialog).to_contain_text("The app will have to ask for authorization again.")
    screenshot(page, "portal-09-revoke")
    dialog.get_by_role("button", name="Revoke access").click()
    expect(connection.locator(".p-state")).to_have_text("Revoked", timeout=TIMEOUT)
