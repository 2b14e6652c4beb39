"""Attacks on the authorization flow, over real HTTP against the running sandbox, each written the way an attacker
would try it: steal a pending request's id, hand a victim a half-finished sign-in, redeem a launch seen in the
activity trail, ask a person's authorization for `system/` scopes, stretch a patient's `user/` scopes, leave out
`state`, reuse a pre-sign-in CSRF value, introspect another app's token, lock a client out from one address.
Each asserts the refusal and that nothing was written: no code, no token, no changed row.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import sqlite3
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

from sandbox.auth.clients import ClientRegistry
from sandbox.auth.pkce import s256
from sandbox.settings import SETTINGS
from sandbox.store import Store

CONFIDENTIAL = "demo-confidential"
REDIRECT = "http://localhost:3000/callback"  # registered for demo-confidential; nothing listens there
VERIFIER = "attack-" * 7 + "verifier"
ANOTHER_BROWSER = "This authorization belongs to another browser"


# -- what an attacker (and the victim) do with a browser ------------------------------------------------------------


def authorize_url(live, client_id=CONFIDENTIAL, **overrides) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "victim-state",
              "scope": "openid fhirUser launch/patient patient/*.rs", "aud": f"{live}/fhir",
              "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", **overrides}
    return f"{live}/auth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def walk(browser: requests.Session, url: str, method: str = "GET", **kwargs) -> requests.Response:
    """Follow the sandbox's redirects like a browser, stopping at the app's redirect_uri or at a page."""
    response = browser.request(method, url, allow_redirects=False, timeout=10, **kwargs)
    while response.status_code in (301, 302, 303) and not response.headers["Location"].startswith(REDIRECT):
        response = browser.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False,
                               timeout=10)
    return response


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def sign_in(live, browser: requests.Session, username: str, next_url: str = "/") -> requests.Response:
    page = browser.get(f"{live}/auth/login", params={"next": next_url}, timeout=10)
    return walk(browser, f"{live}/auth/login", "POST",
                data={"csrf": hidden(page.text, "csrf"), "next": next_url, "username": username})


def at_the_picker(live) -> tuple[requests.Session, requests.Response]:
    """The victim's browser: a standalone launch, signed in as a clinician, standing at the patient picker."""
    victim = requests.Session()
    login = walk(victim, authorize_url(live))
    picker = sign_in(live, victim, "susan.glenn", hidden(login.text, "next"))
    assert "Choose the patient" in picker.text
    return victim, picker


def db(live):
    return sqlite3.connect(live.db)


def count(live, table: str) -> int:
    with db(live) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def pending_row(live, request_id: str):
    with db(live) as conn:
        return conn.execute("SELECT user_id, session_id, context FROM pending_authorizations WHERE id = ?",
                            (request_id,)).fetchone()


def refusals(live, rule_part: str) -> int:
    with db(live) as conn:
        return conn.execute("SELECT count(*) FROM audit_events WHERE event = 'authorize.refused' AND rule LIKE ?",
                            (f"%{rule_part}%",)).fetchone()[0]


def refused_as_another_browser(response: requests.Response) -> bool:
    return response.status_code == 403 and ANOTHER_BROWSER in response.text and "Location" not in response.headers


# -- 1. an authorization belongs to the browser that started it ----------------------------------------------------


def test_a_stolen_request_id_neither_shows_continues_nor_approves_in_another_browser(live_server):
    victim, picker = at_the_picker(live_server)
    request_id, csrf = hidden(picker.text, "request"), hidden(picker.text, "csrf")
    before = (pending_row(live_server, request_id), count(live_server, "codes"), count(live_server, "tokens"))
    refused_before = refusals(live_server, "did not start it")
    attacker = requests.Session()
    sign_in(live_server, attacker, "lori.mcdonald")  # signed in as themself, with the request id and even its csrf
    attempts = [
        ("GET", "/auth/authorize/resume", {"params": {"request": request_id}}),
        ("GET", "/auth/authorize/patient", {"params": {"request": request_id}}),
        ("GET", "/auth/authorize/consent", {"params": {"request": request_id}}),
        ("POST", "/auth/authorize/patient", {"data": {"request": request_id, "csrf": csrf, "patient": "story-child"}}),
        ("POST", "/auth/authorize/consent", {"data": {"request": request_id, "csrf": csrf, "decision": "approve",
                                                      "type": "*"}}),
    ]
    for method, path, kwargs in attempts:
        response = attacker.request(method, f"{live_server}{path}", allow_redirects=False, timeout=10, **kwargs)
        assert refused_as_another_browser(response), (method, path, response.status_code)
        assert "Confidential" not in response.text and "susan" not in response.text.lower()  # nothing about it shown
    assert (pending_row(live_server, request_id), count(live_server, "codes"), count(live_server, "tokens")) == before
    assert refusals(live_server, "did not start it") == refused_before + len(attempts)
    # the victim's own browser goes on as if nothing happened
    consent = walk(victim, f"{live_server}/auth/authorize/patient", "POST",
                   data={"request": request_id, "csrf": csrf, "patient": "story-elderly"})
    back = walk(victim, f"{live_server}/auth/authorize/consent", "POST",
                data={"request": request_id, "csrf": csrf, "decision": "approve", "type": "*"})
    assert "Allow" in consent.text and "code=" in back.headers["Location"]


def test_a_link_to_a_half_finished_authorization_does_not_sign_the_victim_into_it(live_server):
    attacker = requests.Session()
    login = walk(attacker, authorize_url(live_server))  # the attacker's own request, waiting for a sign-in
    resume = hidden(login.text, "next")
    request_id = parse_qs(urlsplit(resume).query)["request"][0]
    victim = requests.Session()
    sign_in(live_server, victim, "lori.mcdonald")
    lured = walk(victim, f"{live_server}{resume}")
    assert refused_as_another_browser(lured)
    assert pending_row(live_server, request_id)[:2] == (None, None)  # the victim's identity never joined it
    page = victim.get(f"{live_server}/auth/login", params={"next": resume}, timeout=10)
    assert "Confidential Server-Side App" not in page.text  # the sign-in page does not name the attacker's app


def test_the_consent_of_an_ehr_launch_belongs_to_the_browser_that_opened_it(live_server):
    made = requests.post(f"{live_server}/api/launches", timeout=10,
                         json={"client_id": CONFIDENTIAL, "patient": "story-diabetes"}).json()
    clinician = requests.Session()
    consent = walk(clinician, authorize_url(live_server, launch=made["launch"],
                                            scope="launch openid fhirUser patient/*.rs"))
    request_id, csrf = hidden(consent.text, "request"), hidden(consent.text, "csrf")
    codes = count(live_server, "codes")
    stolen = requests.post(f"{live_server}/auth/authorize/consent", allow_redirects=False, timeout=10,
                           data={"request": request_id, "csrf": csrf, "decision": "approve", "type": "*"})
    assert refused_as_another_browser(stolen)
    assert count(live_server, "codes") == codes and pending_row(live_server, request_id) is not None


# -- 8. a trail id is not a launch ----------------------------------------------------------------------------------


def test_a_launch_id_read_in_the_activity_trail_does_not_redeem_the_launch(live_server):
    made = requests.post(f"{live_server}/api/launches", timeout=10, json={
        "client_id": CONFIDENTIAL, "patient": "story-diabetes", "skip_login": True, "skip_consent": True}).json()
    reader = requests.Session()
    sign_in(live_server, reader, "susan.glenn")  # clinicians see every launch's trail
    listed = reader.get(f"{live_server}/activity/", timeout=10).text
    trail = made["activity_url"].rsplit("/", 1)[1]
    assert trail in listed and made["launch"] not in listed
    stolen = walk(reader, authorize_url(live_server, launch=trail, scope="launch openid fhirUser patient/*.rs"))
    assert parse_qs(urlsplit(stolen.headers["Location"]).query)["error"] == ["invalid_request"]
    with db(live_server) as conn:
        assert conn.execute("SELECT used_at FROM launches WHERE id = ?", (trail,)).fetchone() == (None,)
    own = walk(requests.Session(), authorize_url(live_server, launch=made["launch"], scope="launch openid"))
    assert "code=" in own.headers["Location"]  # the app that was given the launch still can


# -- 3. scopes a person's authorization can grant ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_app(live_server):
    """A user-facing app whose registration lists a system/ scope. Registration refuses that now, but a database
    may hold one registered before it did, so the row is written as such a database has it."""
    metadata = {"client_name": "Mixed App", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"], "scope": "openid fhirUser launch/patient patient/*.rs"}
    client = ClientRegistry(Store(str(live_server.db)), str(live_server)).register(metadata, origin="cli")
    with db(live_server) as conn:
        conn.execute("UPDATE clients SET metadata = ? WHERE client_id = ?",
                     (json.dumps({**client.metadata(), "scope": client.scope + " system/*.cruds"}), client.client_id))
    return client.client_id


def test_system_scopes_never_come_from_a_persons_authorization(live_server, mixed_app):
    browser = requests.Session()
    login = walk(browser, authorize_url(live_server, client_id=mixed_app,
                                        scope="openid launch/patient patient/*.rs system/*.cruds"))
    picker = sign_in(live_server, browser, "susan.glenn", hidden(login.text, "next"))
    request_id, csrf = hidden(picker.text, "request"), hidden(picker.text, "csrf")
    consent = walk(browser, f"{live_server}/auth/authorize/patient", "POST",
                   data={"request": request_id, "csrf": csrf, "patient": "story-diabetes"})
    dropped = re.search(r'<details class="dropped".*?</details>', consent.text, re.S).group(0)
    assert "system/*.cruds" in dropped and "only to backend services" in dropped
    assert 'value="system"' not in consent.text and 'value="*"' in consent.text
    back = walk(browser, f"{live_server}/auth/authorize/consent", "POST",
                data={"request": request_id, "csrf": csrf, "decision": "approve", "type": "*"})
    assert "code=" in back.headers["Location"]
    with db(live_server) as conn:
        scope, = conn.execute("SELECT scope FROM codes WHERE client_id = ? ORDER BY rowid DESC LIMIT 1",
                              (mixed_app,)).fetchone()
        issued = json.loads(conn.execute("SELECT detail FROM audit_events WHERE event = 'code.issued' AND "
                                         "client_id = ? ORDER BY id DESC LIMIT 1", (mixed_app,)).fetchone()[0])
    assert scope == "openid launch/patient patient/*.rs"
    assert issued["scope_dropped"][0]["scope"] == "system/*.cruds"


def test_a_patients_user_scopes_reach_only_their_own_record(live_server, smart_secret):
    browser = requests.Session()
    login = walk(browser, authorize_url(live_server, scope="openid fhirUser user/*.rs"))
    consent = sign_in(live_server, browser, "marcus.johnson", hidden(login.text, "next"))
    reach = re.search(r'id="user-scope-reach">(.*?)</p>', consent.text, re.S).group(1)
    assert "JOHNSON, Marcus" in reach and "not a clinician" in reach
    back = walk(browser, f"{live_server}/auth/authorize/consent", "POST", data={
        "request": hidden(consent.text, "request"), "csrf": hidden(consent.text, "csrf"), "decision": "approve",
        "type": "*"})
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    token = requests.post(f"{live_server}/auth/token", auth=(CONFIDENTIAL, smart_secret), timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER}).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    patients = requests.get(f"{live_server}/fhir/Patient", headers=bearer, timeout=10).json()
    assert [e["resource"]["id"] for e in patients.get("entry", [])] == ["story-diabetes"]
    other = requests.get(f"{live_server}/fhir/Patient/story-child", headers=bearer, timeout=10)
    assert other.status_code in (403, 404) and other.json()["resourceType"] == "OperationOutcome"
    labs = requests.get(f"{live_server}/fhir/Observation", params={"patient": "story-child"}, headers=bearer,
                        timeout=10).json()
    assert labs.get("total", 0) == 0 and not labs.get("entry")


@pytest.fixture
def smart_secret(live_server):
    return ClientRegistry(Store(str(live_server.db))).get(CONFIDENTIAL).client_secret


# -- 7. state is required, and sign-in renews the CSRF value ------------------------------------------------------


def test_an_authorize_request_without_state_is_refused_and_starts_nothing(live_server):
    pending = count(live_server, "pending_authorizations")
    response = requests.get(authorize_url(live_server, state=None), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    sent_back = parse_qs(urlsplit(response.headers["Location"]).query)
    assert sent_back["error"] == ["invalid_request"] and "state is required" in sent_back["error_description"][0]
    assert count(live_server, "pending_authorizations") == pending


def test_a_csrf_value_from_before_sign_in_forges_no_form_after_it(live_server):
    browser = requests.Session()
    planted = hidden(browser.get(f"{live_server}/auth/login", timeout=10).text, "csrf")  # known to an attacker
    sign_in(live_server, browser, "lori.mcdonald")
    forged = browser.post(f"{live_server}/auth/logout", data={"csrf": planted, "next": "/"}, allow_redirects=False,
                          timeout=10)
    assert forged.status_code == 400 and "This form has expired" in forged.text
    assert browser.get(f"{live_server}/ehr/", allow_redirects=False, timeout=10).status_code == 200  # still in


# -- 8. introspection and rate limits ---------------------------------------------------------------------------------


def test_a_bearer_token_learns_nothing_of_another_apps_tokens(live_server):
    mine = live_server.token("patient/*.rs", client_id="demo-app", patient="story-diabetes")
    theirs = live_server.token("patient/*.rs", client_id=CONFIDENTIAL, patient="story-child")
    asked = requests.post(f"{live_server}/auth/introspect", data={"token": theirs}, timeout=10,
                          headers={"Authorization": f"Bearer {mine}"})
    assert asked.status_code == 200 and asked.json() == {"active": False}
    own = requests.post(f"{live_server}/auth/introspect", data={"token": mine}, timeout=10,
                        headers={"Authorization": f"Bearer {mine}"}).json()
    assert own["active"] and own["client_id"] == "demo-app"


def token_request_from(live, address: str, secret: str) -> int:
    """A token request (refresh grant with a bogus token) sent from a chosen loopback address: client
    authentication runs first, so the status says whether the client was let in."""
    parts = urlsplit(live)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(address, 0))
    body = urlencode({"grant_type": "refresh_token", "refresh_token": "nope"})
    basic = base64.b64encode(f"{CONFIDENTIAL}:{secret}".encode()).decode()
    conn.request("POST", "/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded",
                                               "Authorization": f"Basic {basic}"})
    status = conn.getresponse().status
    conn.close()
    return status


def test_failures_from_one_address_do_not_lock_a_client_out_elsewhere(live_server, smart_secret):
    limit = next(s.default for s in SETTINGS if s.name == "RATE_LIMIT_FAILURES")  # the live server's setting
    statuses = [token_request_from(live_server, "127.0.0.2", "wrong-secret") for _ in range(limit)]
    assert set(statuses) == {401}
    assert token_request_from(live_server, "127.0.0.2", smart_secret) == 429  # that address is held back
    assert token_request_from(live_server, "127.0.0.1", smart_secret) == 400  # the client itself is not:
    # authenticated, it only gets invalid_grant for the bogus refresh token


# -- what RFC 9700 names besides ---------------------------------------------------------------------------------


def test_the_pages_of_an_authorization_leak_no_address_and_approval_is_not_a_307(live_server):
    """RFC 9700 §4.2.4: no Referer from the pages that carry a request id; §4.12: a 307 after the consent POST
    would make the browser re-post the form (with anything in it) to the app."""
    victim, picker = at_the_picker(live_server)
    assert picker.headers["Referrer-Policy"] == "no-referrer"
    request_id, csrf = hidden(picker.text, "request"), hidden(picker.text, "csrf")
    consent = walk(victim, f"{live_server}/auth/authorize/patient", "POST",
                   data={"request": request_id, "csrf": csrf, "patient": "story-elderly"})
    assert consent.headers["Referrer-Policy"] == "no-referrer"
    back = victim.post(f"{live_server}/auth/authorize/consent", allow_redirects=False, timeout=10,
                       data={"request": request_id, "csrf": csrf, "decision": "approve", "type": "*"})
    assert back.status_code in (302, 303) and back.headers["Location"].startswith(REDIRECT + "?code=")


def test_an_access_token_in_the_query_string_is_not_accepted(live_server):
    """RFC 9700 §2.5 / RFC 6750 §2.3: tokens in URLs end up in logs and Referers; only the header carries them."""
    token = live_server.token("patient/*.rs", patient="story-diabetes")
    refused = requests.get(f"{live_server}/fhir/Patient/story-diabetes", params={"access_token": token}, timeout=10)
    assert refused.status_code == 401 and refused.json()["resourceType"] == "OperationOutcome"
