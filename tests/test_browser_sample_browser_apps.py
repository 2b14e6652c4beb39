"""The browser sample apps in Chromium: Population Explorer launched with no patient from the gallery reads across
patients, and My Medicines opened from the patient portal reads the person's own record."""

from __future__ import annotations

import re

import requests
from browser import screenshot, sign_in
from playwright.sync_api import expect

TIMEOUT = 15_000


def test_the_population_app_reads_across_patients(live_server, page):
    sign_in(page, live_server, "/ehr/apps")
    page.get_by_role("button", name=re.compile(r"^Launch without a patient\W+Population Explorer")).click()
    frame = page.frame_locator('iframe[title="SMART app: Population Explorer (sample)"]')
    frame.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(frame.locator("#status")).to_contain_text("no patient in context", timeout=TIMEOUT)
    registry = frame.locator("#registry tbody tr")
    expect(registry.first).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#registry")).to_contain_text("JOHNSON, Marcus")
    # what the app lists is what a plain search finds
    token = live_server.token()
    found = requests.get(f"{live_server}/fhir/Condition", timeout=10, headers={"Authorization": f"Bearer {token}"},
                         params={"code": "http://snomed.info/sct|44054006", "_summary": "count"}).json()["total"]
    expect(frame.locator("#registry-note")).to_contain_text(re.compile(rf"^{found} diagnos[ie]s found"))
    screenshot(page, "sample-population")


def test_the_population_app_exports_a_group(live_server, page):
    """A Group made through the API, then exported by the app with its own token (Bulk Data kick-off and poll)."""
    token = live_server.token()
    made = requests.post(f"{live_server}/fhir/Group", timeout=10, headers={"Authorization": f"Bearer {token}"}, json={
        "resourceType": "Group", "type": "person", "actual": True, "name": "Export class",
        "member": [{"entity": {"reference": "Patient/story-diabetes"}}]})
    assert made.status_code == 201, made.text
    sign_in(page, live_server, "/ehr/apps")
    page.get_by_role("button", name=re.compile(r"^Launch without a patient\W+Population Explorer")).click()
    frame = page.frame_locator('iframe[title="SMART app: Population Explorer (sample)"]')
    frame.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    frame.get_by_role("button", name="Show the members of Export class").click(timeout=TIMEOUT)
    expect(frame.locator("#members-list")).to_contain_text("JOHNSON, Marcus", timeout=TIMEOUT)
    frame.get_by_role("button", name="Bulk export Export class").click()
    result = frame.locator("#export-result")
    expect(result).to_contain_text("Exported Export class", timeout=30_000)
    expect(result).to_contain_text("1 Patient")
    expect(result).to_contain_text("Condition")
    screenshot(page, "sample-population-export")


def test_the_patient_app_opens_from_the_portal(live_server, page):
    page.goto(f"{live_server}/portal")
    page.get_by_role("button", name=re.compile("Marcus Anthony Johnson")).click()
    page.get_by_role("navigation", name="Patient portal").get_by_role("link", name="Apps", exact=True).click()
    with page.expect_popup(timeout=TIMEOUT) as opened:
        page.get_by_role("button", name=re.compile("^Open My Medicines")).click()
    app = opened.value
    app.get_by_role("button", name="Allow").click(timeout=TIMEOUT)
    expect(app.get_by_role("region", name="Patient")).to_contain_text("Marcus", timeout=TIMEOUT)
    expect(app.locator("#medicines")).to_contain_text("Metformin")
    expect(app.locator("#allergies")).to_contain_text("No known allergies")  # as recorded: the NKA code
    screenshot(app, "sample-medicines")
