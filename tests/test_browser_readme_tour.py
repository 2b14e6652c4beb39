"""The README's five-minute tour, walked in Chromium as written, on a sandbox of its own: first cluttered with an
app and a launch from an earlier class, reset by the administrator, then every step of the tour from the start."""

from __future__ import annotations

import re

import pytest
import requests
from browser import screenshot, sign_in
from conftest import serving_on_a_free_port
from playwright.sync_api import expect

TIMEOUT = 20_000


@pytest.fixture(scope="module")
def fresh_sandbox(tmp_path_factory):
    """`sandbox serve` on an empty database: it seeds it (and keeps the first seed) as `make run` does."""
    db = tmp_path_factory.mktemp("tour") / "tour.sqlite"
    with serving_on_a_free_port(db, {"SANDBOX_PATIENTS": "3"}) as (base, _):
        yield base



def test_reset_then_the_tour_from_the_start(fresh_sandbox, page):
    base = fresh_sandbox
    leftover = requests.post(f"{base}/auth/register", timeout=10, json={
        "client_name": "Last Week's App", "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"],
        "redirect_uris": ["http://127.0.0.1:9/cb"], "launch_uri": "http://127.0.0.1:9/launch", "scope": "launch"})
    assert leftover.status_code == 201

    # Before the audience arrives: Administration → Reset the sandbox
    sign_in(page, base, "/admin/", "Administrator")
    page.get_by_role("button", name="Reset the sandbox").click()
    page.get_by_role("dialog").get_by_role("button", name="Reset").click()
    expect(page.get_by_role("heading", name="The sandbox is back to its first seed")).to_be_visible(timeout=TIMEOUT)
    listed = requests.get(f"{base}/fhir/.well-known/smart-configuration", timeout=10)
    assert listed.ok

    # 1. pick a clinician, search "johnson", open the chart; Present enlarges everything
    sign_in(page, base, "/ehr")
    page.get_by_role("searchbox").fill("johnson")
    page.get_by_role("link", name=re.compile("JOHNSON, Marcus")).first.click()
    expect(page.get_by_role("region", name="Patient banner")).to_contain_text("JOHNSON, Marcus", timeout=TIMEOUT)
    nav = page.get_by_role("navigation", name=re.compile("Chart"))
    nav.get_by_role("link", name=re.compile("^Vitals")).click()
    expect(page.locator(".trend-panel").first).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Present").click()
    expect(page.locator("html")).to_have_class(re.compile("present"))
    page.get_by_role("button", name="Present").click()

    # 2. Apps → Launch the demo app: encounter picker, consent in the frame, the app; View activity beside it
    nav.get_by_role("link", name=re.compile("^Apps")).click()
    assert page.locator(".app-card", has_text="Last Week's App").count() == 0  # the reset removed it
    page.get_by_role("button", name="Launch Sandbox Demo App").click()
    page.get_by_role("dialog").get_by_role("button", name="Launch with this encounter").click()
    demo = page.frame_locator('iframe[title="SMART app: Sandbox Demo App"]')
    demo.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(demo.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    expect(demo.locator("#id-token")).to_contain_text("fhirUser")
    page.get_by_role("button", name=re.compile("^View activity")).click()
    panel = page.get_by_role("complementary", name="Activity of Sandbox Demo App")
    expect(panel).to_contain_text("Code exchanged for tokens", timeout=TIMEOUT)
    screenshot(page, "tour-02-demo-app")

    # 3. Open beside the Patient Summary, then Population Explorer with no patient
    page.get_by_label("Open another app beside").select_option(label="Patient Summary (server-side sample)")
    page.get_by_role("button", name="Open beside").click()
    summary = page.frame_locator('iframe[title="SMART app: Patient Summary (server-side sample)"]')
    summary.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(summary.get_by_role("heading", name="Active problems")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("link", name="Apps", exact=True).click()
    page.get_by_role("button", name=re.compile(r"^Launch without a patient\W+Population Explorer")).click()
    population = page.frame_locator('iframe[title="SMART app: Population Explorer (sample)"]')
    population.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(population.locator("#registry")).to_contain_text("JOHNSON, Marcus", timeout=TIMEOUT)
    screenshot(page, "tour-03-population")

    # 4. the portal as Marcus Johnson: My health, the demo app from Apps, revoke, Read again is refused
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/portal")
    page.get_by_role("button", name=re.compile("Marcus Anthony Johnson")).click()
    expect(page.get_by_role("heading", name="My health")).to_be_visible(timeout=TIMEOUT)
    portal_nav = page.get_by_role("navigation", name="Patient portal")
    portal_nav.get_by_role("link", name="Apps", exact=True).click()
    with page.context.expect_page() as opened:
        page.get_by_role("button", name=re.compile("^Open Sandbox Demo App")).click()
    app = opened.value
    app.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(app.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    portal_nav.get_by_role("link", name="Connected apps").click()
    connection = page.locator("li.p-connection").filter(has_text="Sandbox Demo App")
    connection.get_by_role("button", name=re.compile("^Revoke access")).click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke access").click()
    expect(connection.locator(".p-state")).to_have_text("Revoked", timeout=TIMEOUT)
    app.get_by_role("button", name="Read again").click()
    expect(app.locator("#vitals-error")).to_contain_text("refused", timeout=TIMEOUT)

    # 5. Register app: paste a launch URL, then Launch in the chart from its page
    sign_in(page, base, "/apps/try")
    page.get_by_label("Launch URL (required)").fill(f"{base}/demo/launch.html?client_id=tour-app")
    page.get_by_label("Redirect URI").fill(f"{base}/demo/index.html")
    page.get_by_label("Client id your app already uses").fill("tour-app")
    page.get_by_role("button", name="Register and go to launch").click()
    test = page.get_by_role("region", name="Test launch")
    test.get_by_label("Patient", exact=True).select_option("story-diabetes")
    test.get_by_role("button", name="Launch in the chart").click()
    page.wait_for_selector('dialog[open], iframe[title^="SMART app: Scratch"]', timeout=TIMEOUT)
    if page.get_by_role("dialog").is_visible():  # no encounter in context yet: the picker asks first
        page.get_by_role("dialog").get_by_role("button", name="Launch without an encounter").click()
    mine = page.frame_locator('iframe[title^="SMART app: Scratch app at 127.0.0.1"]')
    mine.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(mine.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "tour-05-own-app")
