"""App registration and connected apps in a real Chromium: a developer registers the demo app's files as a new
app through the form, test-launches it into a chart, then revokes it on the connected apps page and watches the
app's next FHIR request refused. Another clinician may look at an app but not change it; the administrator
pre-approves it."""

from __future__ import annotations

import re

from browser import screenshot
from playwright.sync_api import expect

from sandbox.auth.clients import ClientRegistry
from sandbox.store import Store

TIMEOUT = 15_000


def test_register_launch_revoke_and_refused(live_server, page):
    page.goto(f"{live_server}/auth/login?next=/apps/new")
    page.get_by_role("button", name=re.compile("Lori")).first.click()
    expect(page.get_by_role("heading", name="Register an app")).to_be_visible(timeout=TIMEOUT)

    page.get_by_label("Name (required)").fill("Vitals Viewer")
    page.get_by_role("radio", name=re.compile("^Public")).check()
    page.get_by_label("Launch URL").fill("/demo/launch.html")
    page.get_by_label("Redirect URIs").fill("http://not a url")
    page.get_by_role("button", name="Register").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("The app was not saved", timeout=TIMEOUT)
    expect(summary).to_be_focused()
    summary.get_by_role("link").click()
    expect(page.get_by_label("Redirect URIs")).to_be_focused()  # the summary leads to the field at fault
    screenshot(page, "apps-01-register-error")

    page.get_by_label("Redirect URIs").fill("/demo/index.html")
    offline = page.get_by_role("checkbox", name="offline_access")
    expect(offline).to_be_checked()  # the boxes follow the scope list
    offline.uncheck()
    expect(page.get_by_label("Scopes the app may be granted")).not_to_have_value(re.compile("offline_access"))
    page.get_by_role("button", name="Register").click()
    client_id = page.locator("#client-id").inner_text(timeout=TIMEOUT)
    expect(page.get_by_role("heading", name="Edit Vitals Viewer")).to_be_visible()

    # the demo app's files read their client id from the launch URL, as a real app reads its configuration
    page.get_by_label("Launch URL").fill(f"/demo/launch.html?client_id={client_id}")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved", timeout=TIMEOUT)
    screenshot(page, "apps-02-registered")

    test = page.get_by_role("region", name="Test launch")
    test.get_by_label("Patient").select_option("story-diabetes")
    test.get_by_role("button", name="Launch in the chart").click()
    page.get_by_role("dialog").get_by_role("button", name="Launch without an encounter").click()
    frame = page.frame_locator('iframe[title="SMART app: Vitals Viewer"]')
    frame.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(frame.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#context")).to_contain_text("story-diabetes")

    connected = page.context.new_page()
    connected.goto(f"{live_server}/auth/manage")
    row = connected.get_by_role("row", name=re.compile("Vitals Viewer"))
    expect(row).to_contain_text("Active")
    row.get_by_role("button", name=re.compile("Revoke")).click()
    dialog = connected.get_by_role("dialog")  # revoking asks first, saying what will happen
    expect(dialog).to_contain_text("ask for authorization again", timeout=TIMEOUT)
    dialog.get_by_role("button", name="Revoke", exact=True).click()
    expect(connected.get_by_role("row", name=re.compile("Vitals Viewer"))).to_contain_text("Revoked",
                                                                                           timeout=TIMEOUT)
    screenshot(connected, "apps-03-revoked")

    frame.get_by_role("button", name="Read again").click()
    expect(frame.locator("#vitals-error")).to_contain_text("refused", timeout=TIMEOUT)
    expect(frame.locator("#vitals tbody tr")).to_have_count(0)
    screenshot(page, "apps-04-refused-after-revoke")


def test_another_clinician_may_only_look_and_the_administrator_pre_approves(live_server, page):
    registry = ClientRegistry(Store(str(live_server.db)), live_server)
    app = registry.register({"client_name": "Lori's Growth Chart", "token_endpoint_auth_method": "none",
                             "redirect_uris": ["/demo/index.html"], "launch_uri": "/demo/launch.html"},
                            origin="ui", owner="lori.mcdonald")
    page.goto(f"{live_server}/auth/login?next=/apps/")
    page.get_by_role("button", name=re.compile("Susan")).first.click()
    row = page.get_by_role("row", name=re.compile("Lori's Growth Chart"))
    expect(row).to_contain_text("Lori", timeout=TIMEOUT)
    expect(row.get_by_role("button", name=re.compile("Remove"))).to_have_count(0)
    row.get_by_role("link", name="Lori's Growth Chart").click()
    expect(page.locator("#not-yours")).to_contain_text("only the user who registered it", timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_label("Pre-approved: skip the consent page")).to_have_count(0)
    screenshot(page, "apps-05-not-yours")

    page.goto(f"{live_server}/auth/login?next=/apps/{app.client_id}")
    page.get_by_role("button", name=re.compile("Sandbox Administrator")).click()
    page.get_by_label("Pre-approved: skip the consent page").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved", timeout=TIMEOUT)
    assert registry.get(app.client_id).pre_approved
