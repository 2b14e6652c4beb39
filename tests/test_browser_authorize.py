"""A person authorizes a third-party app in a real Chromium: signs in by clicking a sample user, picks a patient,
unchecks one kind of data on the consent page, approves, and the browser lands on the app's redirect_uri with a
code whose token leaves that kind of data out. The app lives on its own origin, stood in for by Playwright."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from browser import browser, page, screenshot  # noqa: F401 - fixtures
from playwright.sync_api import expect

from sandbox.auth.pkce import s256

TIMEOUT = 15_000
REDIRECT = "https://app.example/callback"
VERIFIER = "browser-test-verifier-" + "x" * 40


def register_app(live_server) -> str:
    response = requests.post(f"{live_server}/auth/register", timeout=10, json={
        "client_name": "Lab Trends", "token_endpoint_auth_method": "none", "redirect_uris": [REDIRECT],
        "scope": "openid fhirUser launch/patient patient/Observation.rs patient/Condition.rs"})
    assert response.status_code == 201, response.text
    return response.json()["client_id"]


def authorize_url(live_server, client_id: str, **overrides) -> str:
    config = requests.get(f"{live_server}/fhir/.well-known/smart-configuration", timeout=10).json()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "browser-1",
              "scope": "openid fhirUser launch/patient patient/Observation.rs patient/Condition.rs",
              "aud": f"{live_server}/fhir", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256",
              **overrides}
    return f"{config['authorization_endpoint']}?{urlencode(params)}"


def test_a_person_signs_in_picks_a_patient_narrows_consent_and_approves(live_server, page):  # noqa: F811
    client_id = register_app(live_server)
    landed = []
    page.route("https://app.example/**", lambda route: (landed.append(route.request.url),
                                                        route.fulfill(body="<h1>Lab Trends</h1>",
                                                                      content_type="text/html")))
    page.goto(authorize_url(live_server, client_id))
    # a patient-facing standalone launch lands on the portal's sign-in, which links to the clinicians' one
    page.get_by_role("link", name="Sign in on the clinician sign-in page").click()
    expect(page.get_by_role("heading", name="Sign in to the sandbox")).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "authorize-01-sign-in")

    page.get_by_role("button", name=re.compile("Dr. Susan Glenn")).click()
    expect(page.get_by_role("heading", name="Choose the patient for this app")).to_be_visible(timeout=TIMEOUT)
    page.get_by_label("Find a patient").fill("whitfield")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("matching “whitfield”")).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "authorize-02-patient-picker")

    page.get_by_role("button", name=re.compile("Choose WHITFIELD")).click()
    expect(page.get_by_role("heading", name=re.compile("Allow Lab Trends"))).to_be_visible(timeout=TIMEOUT)
    conditions = page.get_by_label(re.compile("^Read and search conditions and health problems of WHITFIELD"))
    expect(conditions).to_be_checked()
    conditions.uncheck()
    screenshot(page, "authorize-03-consent")

    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Lab Trends")).to_be_visible(timeout=TIMEOUT)
    assert page.url.startswith(REDIRECT + "?") and landed
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert params["state"] == "browser-1"

    token = requests.post(f"{live_server}/auth/token", timeout=10, data={
        "grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT, "client_id": client_id,
        "code_verifier": VERIFIER}).json()
    assert token["scope"] == "openid fhirUser launch/patient patient/Observation.rs"
    assert token["patient"] == "story-elderly"


def test_an_unregistered_redirect_uri_gets_a_page_not_a_redirect(live_server, page):  # noqa: F811
    client_id = register_app(live_server)
    page.goto(authorize_url(live_server, client_id, redirect_uri="https://attacker.example/steal"))
    expect(page.get_by_role("heading", name="Redirect URI not registered")).to_be_visible(timeout=TIMEOUT)
    assert page.url.startswith(live_server)
    screenshot(page, "authorize-04-error")
