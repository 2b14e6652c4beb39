"""Accessibility of the pages people use, checked in Chromium with axe-core (the WCAG rules engine browsers'
own audits build on): every control labelled, headings in order, landmarks named, contrast, ARIA used right.
Each page is checked in the state a person sees it in, dialogs and running apps included."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

TIMEOUT = 15_000


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def problems(axe, page) -> list[str]:
    """axe-core's violations on the page as it is now, one line each (rule, impact, first element, advice)."""
    found = axe.run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}) at {v['nodes'][0]['target']}: {v['help']}" for v in found]


def problems_on(axe, page, live_server, paths: list[str]) -> dict[str, list[str]]:
    """Each page's violations, page by page, as the signed-in person sees them."""
    found = {}
    for path in paths:
        page.goto(f"{live_server}{path}")
        found[path] = problems(axe, page)
    return found


def sign_in(page, live_server, who: str, where: str) -> None:
    page.goto(f"{live_server}{where}")
    page.get_by_role("button", name=re.compile(who)).first.click()


CLINICIAN_PAGES = ["/ehr", "/ehr/patients?q=johnson", "/ehr/apps", "/apps/", "/apps/new", "/apps/try", "/activity/",
                   "/auth/manage", *(f"/ehr/patients/story-diabetes/{s}" for s in (
                       "summary", "encounters", "problems", "medications", "allergies", "vitals", "labs",
                       "immunizations", "procedures", "notes", "apps"))]


def test_clinician_pages(live_server, page, axe):
    sign_in(page, live_server, "Lori", "/auth/login?next=/ehr")
    expect(page.get_by_role("heading", name="Patients")).to_be_visible(timeout=TIMEOUT)
    assert problems_on(axe, page, live_server, CLINICIAN_PAGES) == {path: [] for path in CLINICIAN_PAGES}


def test_a_launch_from_the_chart(live_server, page, axe):
    sign_in(page, live_server, "Lori", "/auth/login?next=/ehr/patients/story-elderly/apps")
    page.get_by_role("button", name="Launch Sandbox Demo App").click()
    expect(page.get_by_role("dialog")).to_be_visible(timeout=TIMEOUT)
    assert problems(axe, page) == [], "the encounter picker"
    page.get_by_role("dialog").get_by_role("button", name="Launch without an encounter").click()
    frame = page.frame_locator('iframe[title="SMART app: Sandbox Demo App"]')
    expect(frame.get_by_role("button", name="Allow")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name=re.compile("^View activity")).click()
    expect(page.locator(".activity-side ol.timeline")).to_be_visible(timeout=TIMEOUT)
    assert problems(axe, page) == [], "the running app with its activity (consent page in the frame)"
    launch_id = page.locator(".app-pane").first.get_attribute("data-launch")
    page.goto(f"{live_server}/activity/{launch_id}")
    assert problems(axe, page) == [], "the activity page"


PORTAL_PAGES = ["/portal", "/portal/results", "/portal/medicines", "/portal/apps", "/portal/connected-apps"]


def test_portal_pages(live_server, page, axe):
    page.goto(f"{live_server}/portal/login")
    assert problems(axe, page) == [], "the portal sign-in"
    page.get_by_role("button", name=re.compile("Marcus")).first.click()
    expect(page.get_by_role("heading", name="My health")).to_be_visible(timeout=TIMEOUT)
    assert problems_on(axe, page, live_server, PORTAL_PAGES) == {path: [] for path in PORTAL_PAGES}


def test_sign_in_and_the_demo_app(live_server, page, axe):
    page.goto(f"{live_server}/auth/login")
    assert problems(axe, page) == [], "the clinician sign-in"
    page.goto(f"{live_server}/demo/launch.html")
    expect(page.get_by_role("heading", name=re.compile("Sign in"))).to_be_visible(timeout=TIMEOUT)
    assert problems(axe, page) == [], "the sign-in of a standalone launch"


def test_the_server_side_sample_app(live_server, page, axe):
    launch = requests.post(f"{live_server}/api/launches", timeout=10, json={
        "client_id": "sample-summary", "patient": "story-diabetes", "skip_login": True, "skip_consent": True})
    page.goto(launch.json()["launch_url"])
    expect(page.get_by_role("heading", name="Active problems")).to_be_visible(timeout=TIMEOUT)
    assert problems(axe, page) == [], "the sample app's summary"
    page.goto(f"{live_server}/samples/summary/callback?error=access_denied")
    assert problems(axe, page) == [], "the sample app's error page"


def test_the_administration_page(live_server, page, axe):
    sign_in(page, live_server, "Administrator", "/auth/login?next=/admin/")
    expect(page.get_by_role("heading", name="Sandbox administration")).to_be_visible(timeout=TIMEOUT)
    assert problems(axe, page) == [], "the administration page"
    page.get_by_role("button", name="Reset the sandbox").click()
    dialog = page.get_by_role("dialog", name="Reset the whole sandbox?")
    expect(dialog).to_be_visible()
    assert problems(axe, page) == [], "the reset dialog"
    dialog.get_by_role("button", name="Keep everything").click()  # the shared server's data stays
    expect(dialog).to_be_hidden()
