"""The server-side sample app over real HTTP: it discovers, authorizes with PKCE, exchanges the code on the server
with its client secret and reads the record with its own token; and it refuses what a careful app refuses."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

APP = "/samples/summary"


def test_an_ehr_launch_ends_on_the_patients_summary(live_server):
    launch = requests.post(f"{live_server}/api/launches", timeout=10, json={
        "client_id": "sample-summary", "patient": "story-diabetes", "skip_login": True, "skip_consent": True})
    assert launch.status_code == 201, launch.text
    browser = requests.Session()
    page = browser.get(launch.json()["launch_url"], timeout=30)
    assert page.status_code == 200, page.text
    assert "JOHNSON" in page.text or "Johnson" in page.text
    assert "Active problems" in page.text and "diabetes" in page.text.lower()
    assert "patient/Condition.rs" in page.text  # the granted scope, as the token response said
    # the app went through the code flow: its redirect URI got the code, and the tokens stayed on the server
    hops = [urlsplit(r.headers["Location"]) for r in page.history if "Location" in r.headers]
    callback = next(h for h in hops if h.path == f"{APP}/callback")
    assert "code" in parse_qs(callback.query)
    assert "access_token" not in page.text and "Bearer" not in page.text
    assert "sample_summary" not in browser.cookies.get_dict()  # the pending sign-in cookie is spent


def test_the_start_sends_pkce_state_and_audience_and_keeps_them_in_a_cookie_of_its_own(live_server):
    start = requests.get(f"{live_server}{APP}/", allow_redirects=False, timeout=10)
    assert start.status_code == 302
    sent = urlsplit(start.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(sent.query).items()}
    assert sent.path == "/auth/authorize"
    assert query["client_id"] == "sample-summary" and query["code_challenge_method"] == "S256"
    assert query["aud"] == f"{live_server}/fhir" and len(query["state"]) >= 20 and "launch" not in query
    cookie = start.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and f"Path={APP}/" in cookie and "SameSite=Lax" in cookie


def test_another_server_as_iss_is_refused(live_server):
    page = requests.get(f"{live_server}{APP}/launch", params={"iss": "http://127.0.0.1:9/fhir", "launch": "x"},
                        timeout=10)
    assert page.status_code == 400
    assert "only talks to the sandbox that serves it" in page.text


def test_a_callback_it_did_not_start_or_with_a_wrong_state_is_refused(live_server):
    stranger = requests.get(f"{live_server}{APP}/callback", params={"code": "x", "state": "y"}, timeout=10)
    assert stranger.status_code == 400 and "was not started here" in stranger.text

    browser = requests.Session()
    assert browser.get(f"{live_server}{APP}/", allow_redirects=False, timeout=10).status_code == 302
    wrong = browser.get(f"{live_server}{APP}/callback", params={"code": "x", "state": "not-the-state"}, timeout=10)
    assert wrong.status_code == 400 and "state returned does not match" in wrong.text


def test_an_authorization_error_is_told_in_words(live_server):
    denied = requests.get(f"{live_server}{APP}/callback", timeout=10,
                          params={"error": "access_denied", "error_description": "The user denied access"})
    assert denied.status_code == 400
    assert "did not authorize this app" in denied.text and "access_denied" in denied.text


def test_a_code_the_server_refuses_shows_the_servers_words(live_server):
    browser = requests.Session()
    start = browser.get(f"{live_server}{APP}/", allow_redirects=False, timeout=10)
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    refused = browser.get(f"{live_server}{APP}/callback", params={"code": "no-such-code", "state": state}, timeout=10)
    assert refused.status_code == 502
    assert "invalid_grant" in refused.text


@pytest.mark.parametrize(("kind", "shown"), [("code-expired", "invalid_grant"), ("pkce-mismatch", "invalid_grant"),
                                            ("fhir-500", "answered 500"), ("denied-consent", "access_denied")])
def test_the_confidential_app_meets_each_simulated_failure_as_a_real_server_sends_it(live_server, kind, shown):
    launch = requests.post(f"{live_server}/api/launches", timeout=10, json={
        "client_id": "sample-summary", "patient": "story-diabetes", "skip_login": True, "skip_consent": True,
        "simulate": kind})
    page = requests.Session().get(launch.json()["launch_url"], timeout=30)
    assert page.status_code in (400, 502) and shown in page.text
