"""Launching from the EHR in a real Chromium: the demo app served from a second origin (so the browser really
applies CORS to its discovery, token and FHIR requests) through the encounter picker, two apps side by side, and
an app launched with no patient from the gallery."""

from __future__ import annotations

import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from browser import screenshot
from playwright.sync_api import expect

TIMEOUT = 15_000
STATIC = Path(__file__).resolve().parent.parent / "static"


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output for failures
        pass


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory, live_server):
    """The demo app's files on a second origin, registered (RFC 7591) as an app of its own."""
    root = tmp_path_factory.mktemp("second-origin")
    (root / "demo").symlink_to(STATIC / "demo")
    (root / "static").symlink_to(STATIC)  # launch.html loads ../static/vendor/fhir-client…
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    registered = requests.post(f"{live_server}/auth/register", json={
        "client_name": "Demo App Elsewhere", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"], "redirect_uris": [f"{origin}/demo/index.html"],
        "launch_uri": f"{origin}/demo/launch.html?client_id=", "launch_mode": "embedded",
        "scope": "openid fhirUser launch launch/patient launch/encounter patient/*.rs"}, timeout=10)
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    # the launch URL names the client id it was registered under
    from sandbox.auth.clients import ClientRegistry
    from sandbox.store import Store

    ClientRegistry(Store(str(live_server.db)), live_server).update(
        client_id, {"launch_uri": f"{origin}/demo/launch.html?client_id={client_id}"})
    yield origin
    server.shutdown()
    server.server_close()


def sign_in_and_open_apps(page, live_server):
    page.goto(f"{live_server}/auth/login?next=/ehr/patients/story-diabetes/apps")
    page.get_by_role("button", name=re.compile("Lori")).first.click()
    expect(page.get_by_role("region", name="Patient banner")).to_be_visible(timeout=TIMEOUT)


def allow_in(frame):
    expect(frame.get_by_role("button", name="Allow")).to_be_visible(timeout=TIMEOUT)
    frame.get_by_role("button", name="Allow").click()


def test_demo_app_on_a_second_origin_launches_through_the_encounter_picker(live_server, elsewhere, page):
    sign_in_and_open_apps(page, live_server)
    page.get_by_role("button", name="Launch Demo App Elsewhere").click()

    dialog = page.get_by_role("dialog", name=re.compile("Choose the encounter for Demo App Elsewhere"))
    expect(dialog).to_be_visible(timeout=TIMEOUT)
    first = dialog.get_by_role("radio").first
    expect(first).to_be_checked()
    encounter_id = first.get_attribute("value")
    expect(first).to_be_focused()  # the modal dialog holds focus, starting at the preselected encounter
    screenshot(page, "launch-01-encounter-picker")
    dialog.get_by_role("button", name="Launch with this encounter").click()

    frame_element = page.locator('iframe[title="SMART app: Demo App Elsewhere"]')
    expect(frame_element).to_have_attribute("src", re.compile("^" + re.escape(elsewhere)), timeout=TIMEOUT)
    frame = page.frame_locator('iframe[title="SMART app: Demo App Elsewhere"]')
    allow_in(frame)
    expect(frame.get_by_role("status")).to_contain_text("Launched", timeout=TIMEOUT)
    expect(frame.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)  # FHIR reads across origins
    expect(frame.locator("#context")).to_contain_text(encounter_id)
    expect(page.locator("footer.statusbar")).to_contain_text(f"Encounter/{encounter_id}")
    screenshot(page, "launch-02-second-origin-app")


def test_two_apps_run_side_by_side(live_server, elsewhere, page):
    sign_in_and_open_apps(page, live_server)
    page.get_by_role("button", name="Launch Sandbox Demo App").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible(timeout=TIMEOUT)
    dialog.get_by_role("button", name="Launch without an encounter").click()
    demo = page.frame_locator('iframe[title="SMART app: Sandbox Demo App"]')
    allow_in(demo)
    expect(demo.get_by_role("status")).to_contain_text("Launched", timeout=TIMEOUT)

    page.get_by_label("Open another app beside").select_option(label="Demo App Elsewhere")
    page.get_by_role("button", name="Open beside").click()
    other = page.frame_locator('iframe[title="SMART app: Demo App Elsewhere"]')
    allow_in(other)
    expect(other.get_by_role("status")).to_contain_text("Launched", timeout=TIMEOUT)
    expect(demo.get_by_role("status")).to_contain_text("Launched")  # the first app kept running
    expect(page.locator(".app-pane")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"launch=[^&]+&launch="))
    for state in page.locator(".app-pane .launch-state").all():
        expect(state).to_contain_text("Running", timeout=TIMEOUT)
    screenshot(page, "launch-03-side-by-side")

    page.locator(".app-pane").first.get_by_role("link", name=re.compile("^Close")).click()
    expect(page.locator(".app-pane")).to_have_count(1)
    expect(other.get_by_role("status")).to_contain_text("Launched")


def test_an_app_launched_with_no_patient_lets_the_clinician_pick_one(live_server, page):
    page.goto(f"{live_server}/auth/login?next=/ehr/apps")
    page.get_by_role("button", name=re.compile("Lori")).first.click()
    page.get_by_role("button", name=re.compile(r"^Launch without a patient\W+Sandbox Demo App")).click()
    frame = page.frame_locator('iframe[title="SMART app: Sandbox Demo App"]')
    # the demo app asks for launch/patient, and the launch has none: the sandbox asks the clinician
    expect(frame.get_by_role("heading", name=re.compile("patient", re.I)).first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".app-bar")).to_contain_text("No patient")
    screenshot(page, "launch-04-no-patient")
