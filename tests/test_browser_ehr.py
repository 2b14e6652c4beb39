"""The clinician EHR in a real Chromium over the real server: sign in by picking a persona, find a patient with the
active search, open the chart, put an encounter in context, and launch the bundled demo app inside the chart.

The launch carries the signed-in clinician, so the app's authorize request needs no second sign-in; the demo app
is not pre-approved, so its consent page appears inside the frame and the clinician allows it there, as they
would in a real EHR. The app then reads the patient's vital signs with its own token."""

from __future__ import annotations

import re

from browser import browser, page, screenshot  # noqa: F401 - fixtures
from playwright.sync_api import expect

TIMEOUT = 15_000


def test_clinician_launches_the_demo_app_inside_the_chart(live_server, page):  # noqa: F811
    page.goto(f"{live_server}/auth/login?next=/ehr")
    page.get_by_role("button", name=re.compile("Lori")).first.click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".persona-who")).to_contain_text("Clinician")
    screenshot(page, "ehr-01-patient-list")

    page.get_by_label("Find a patient: name").fill("johnson")
    expect(page.locator("#result-count")).to_have_text(re.compile("1 of 1 patient"), timeout=TIMEOUT)
    expect(page.locator("table.patients tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=johnson"))  # the search has a real URL
    page.get_by_role("link", name="JOHNSON, Marcus Anthony").click()

    banner = page.get_by_role("region", name="Patient banner")
    expect(banner.get_by_role("heading", level=1)).to_have_text("JOHNSON, Marcus Anthony (Mr)", timeout=TIMEOUT)
    expect(banner).to_contain_text("No known allergies")
    expect(page.locator("#sum-labs")).to_be_visible()
    expect(page.locator("section[aria-labelledby=sum-labs] tbody tr").first).to_contain_text("Hemoglobin A1c")
    screenshot(page, "ehr-02-chart-summary")

    nav = page.get_by_role("navigation", name="Chart sections")
    nav.get_by_role("link", name=re.compile("^Encounters")).click()
    expect(page).to_have_url(re.compile(r"/ehr/patients/story-diabetes/encounters$"), timeout=TIMEOUT)
    page.get_by_role("button", name=re.compile("^Use for launches")).first.click()
    expect(page.locator("li.in-context")).to_contain_text("In context", timeout=TIMEOUT)
    expect(banner).to_contain_text("Ambulatory")
    encounter_chip = page.locator("footer.statusbar").get_by_text(re.compile(r"^Encounter/"))
    encounter_id = encounter_chip.inner_text().split("/", 1)[1]

    nav.get_by_role("link", name="Apps").click()
    expect(page).to_have_url(re.compile(r"/apps$"), timeout=TIMEOUT)
    page.get_by_role("button", name="Launch Sandbox Demo App").click()

    frame = page.frame_locator('iframe[title="SMART app: Sandbox Demo App"]')
    expect(frame.get_by_role("heading", name=re.compile("Allow Sandbox Demo App"))).to_be_visible(timeout=TIMEOUT)
    expect(banner).to_be_visible()  # our banner stays while the app asks for consent
    screenshot(page, "ehr-03-consent-in-frame")
    frame.get_by_role("button", name="Allow").click()

    expect(frame.get_by_role("status")).to_contain_text("Launched", timeout=TIMEOUT)
    expect(frame.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    context = frame.locator("#context")
    expect(context).to_contain_text("story-diabetes")
    expect(context).to_contain_text(encounter_id)
    expect(context.locator("tr", has_text="need_patient_banner")).to_contain_text("false")
    expect(page.locator(".launch-state")).to_contain_text("Running", timeout=TIMEOUT)
    expect(banner.get_by_role("heading", level=1)).to_have_text("JOHNSON, Marcus Anthony (Mr)")
    screenshot(page, "ehr-04-embedded-app")

    page.get_by_role("link", name=re.compile("^Close")).click()
    expect(page).to_have_url(re.compile(r"/ehr/patients/story-diabetes/apps$"), timeout=TIMEOUT)
