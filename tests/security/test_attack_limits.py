"""Attacks on the limits of what one request may ask, over real HTTP against the running sandbox: searches larger
than SQLite can run, a reference built to make a regular expression backtrack, scope lists without end, and JSON
nested without end. Each asserts the refusal (never a 500, never a stalled worker) and that nothing changed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from urllib.parse import parse_qs, urlsplit

import requests
from authorize_support import hidden

from sandbox.auth.clients import ClientRegistry
from sandbox.auth.pkce import s256
from sandbox.auth.scopes import MAX_SCOPE_CHARS, MAX_SCOPES
from sandbox.bounded_json import MAX_DEPTH
from sandbox.store import Store
from sandbox.store.query import MAX_PARAMETERS, MAX_VALUE_CHARS, MAX_VALUES

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
STORY_PATIENT = "story-diabetes"


def count(live, table: str) -> int:
    with sqlite3.connect(live.db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def search_form(live, token: str, rtype: str, pairs: list[tuple[str, str]]) -> requests.Response:
    """POST [type]/_search: a search too long for a URL fits in a form body."""
    return requests.post(f"{live}/fhir/{rtype}/_search", data=pairs, timeout=30,
                         headers={**FORM, "Authorization": f"Bearer {token}"})


def refused_as_too_large(response: requests.Response, limit: str) -> None:
    assert response.status_code == 400, response.text[:300]
    issue = response.json()["issue"][0]
    assert (issue["code"], limit in issue["diagnostics"]) == ("too-costly", True), issue


# -- searches ------------------------------------------------------------------------------------------------------


def test_searches_beyond_sqlites_limits_get_400_naming_the_limit(live_server):
    token = live_server.token("system/*.cruds")
    before = count(live_server, "resources")
    many_codes = ",".join(f"c{i}" for i in range(2000))
    refused_as_too_large(search_form(live_server, token, "Observation", [("code", many_codes)]),
                         f"at most {MAX_VALUE_CHARS}")
    refused_as_too_large(search_form(live_server, token, "Observation", [("code", f"c{i}") for i in range(2000)]),
                         f"at most {MAX_PARAMETERS} parameters")
    refused_as_too_large(search_form(live_server, token, "Observation", [("_sort", ",".join(["date"] * 3000))]),
                         f"at most {MAX_VALUE_CHARS}")
    spread = [("code", ",".join(f"c{i}" for i in range(5)))] * ((MAX_VALUES // 5) + 1)
    refused_as_too_large(search_form(live_server, token, "Observation", spread), f"at most {MAX_VALUES} values")
    long_name = search_form(live_server, token, "Observation", [("x" * (MAX_VALUE_CHARS + 1), "1")])
    refused_as_too_large(long_name, f"at most {MAX_VALUE_CHARS}")
    by_get = requests.get(f"{live_server}/fhir/Observation", params={"code": "c" * (MAX_VALUE_CHARS + 1)}, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    refused_as_too_large(by_get, f"at most {MAX_VALUE_CHARS}")
    assert count(live_server, "resources") == before


def at_the_limits() -> list[tuple[str, str]]:
    """MAX_PARAMETERS parameters holding MAX_VALUES values, most of them in one parameter (the deepest SQL)."""
    singles = [("code", f"http://loinc.org|x{i}") for i in range(MAX_PARAMETERS - 2)]
    crowded = ",".join(f"{i:03x}" for i in range(MAX_VALUES - len(singles) - 1))
    return [("code", crowded), *singles, ("_count", "5")]


def test_a_search_at_the_limits_is_answered_under_granular_scopes_too(live_server):
    pairs = at_the_limits()
    assert len(pairs) == MAX_PARAMETERS and max(len(value) for _, value in pairs) <= MAX_VALUE_CHARS
    full = search_form(live_server, live_server.token("system/*.cruds"), "Observation", pairs)
    assert full.status_code == 200 and full.json()["total"] == 0
    granular = " ".join(f"patient/Observation.rs?code=http://loinc.org|g{i}&category=laboratory" for i in range(99))
    narrowed = search_form(live_server, live_server.token(granular, patient=STORY_PATIENT), "Observation", pairs)
    assert narrowed.status_code == 200 and narrowed.json()["total"] == 0


def test_granular_scopes_still_filter_hundreds_of_included_resources(live_server):
    """The access policy looks up the visibility of included resources 200 ids at a time, beside the caps."""
    token = live_server.token("system/Patient.rs system/Observation.rs?category=laboratory")
    headers = {"Authorization": f"Bearer {token}"}
    labs = requests.get(f"{live_server}/fhir/Observation", timeout=30, headers=headers, params={
        "patient": STORY_PATIENT, "category": "laboratory", "_count": "1000"}).json()
    everything = requests.get(f"{live_server}/fhir/Observation", timeout=30, params={
        "patient": STORY_PATIENT, "_summary": "count"}, headers={
        "Authorization": f"Bearer {live_server.token('system/*.rs')}"}).json()
    assert everything["total"] > 200 > 0 < labs["total"] < everything["total"]
    found = requests.get(f"{live_server}/fhir/Patient", timeout=30, headers=headers, params={
        "_id": STORY_PATIENT, "_revinclude": "Observation:patient"}).json()
    included = {entry["resource"]["id"] for entry in found["entry"] if entry["search"]["mode"] == "include"}
    assert included == {entry["resource"]["id"] for entry in labs["entry"]}


# -- regular expressions on request input ------------------------------------------------------------------------


def test_a_reference_built_to_backtrack_is_refused_at_once(live_server):
    token = live_server.token("system/*.cruds")
    before = count(live_server, "resources")
    basic = {"resourceType": "Basic", "code": {"text": "backtrack"},
             "subject": {"reference": "http://" + "a" * 200_000 + " "}}
    started = time.monotonic()
    written = requests.post(f"{live_server}/fhir/Basic", json=basic, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
    assert written.status_code == 422 and written.json()["resourceType"] == "OperationOutcome"
    assert time.monotonic() - started < 5  # the quadratic pattern took minutes on this reference
    assert count(live_server, "resources") == before


# -- scopes --------------------------------------------------------------------------------------------------------

CONFIDENTIAL = "demo-confidential"
REDIRECT = "http://localhost:3000/callback"  # registered for demo-confidential; nothing listens there
TOO_MANY = " ".join(f"patient/Observation.rs?code=x{i}" for i in range(MAX_SCOPES + 1))
TOO_LONG = "patient/Observation.rs?code=" + "x" * MAX_SCOPE_CHARS
ENDLESS = " ".join(f"unknown-{i}" for i in range(50_000))


def authorize(live, scope: str) -> requests.Response:
    """An authorization request by POST (SMART App Launch 2.2 §authorize-post): a long scope fits in a form."""
    return requests.post(f"{live}/auth/authorize", allow_redirects=False, timeout=30, data={
        "response_type": "code", "client_id": CONFIDENTIAL, "redirect_uri": REDIRECT, "state": "s-1",
        "scope": scope, "aud": f"{live}/fhir", "code_challenge": s256("limits-" * 7 + "verifier"),
        "code_challenge_method": "S256", **{f"extra-{i}": "1" for i in range(500)}})


def authorization_rows(live) -> tuple[int, int, int, int]:
    return tuple(count(live, table) for table in ("pending_authorizations", "codes", "tokens", "clients"))


def test_endless_scope_lists_are_invalid_scope_and_leave_a_small_trail(live_server):
    before = authorization_rows(live_server)
    for scope, limit in ((TOO_MANY, f"{MAX_SCOPES + 1} scopes"), (TOO_LONG, "characters was asked for"),
                         (ENDLESS, "characters long")):
        response = authorize(live_server, scope)
        assert response.status_code == 302
        answer = parse_qs(urlsplit(response.headers["Location"]).query)
        assert (answer["error"], answer["state"]) == (["invalid_scope"], ["s-1"])
        assert limit in answer["error_description"][0] and f"at most {MAX_SCOPES} scopes" in answer[
            "error_description"][0]
    with sqlite3.connect(live_server.db) as conn:
        detail = json.loads(conn.execute("SELECT detail FROM audit_events WHERE event = 'authorize.refused' "
                                         "ORDER BY id DESC LIMIT 1").fetchone()[0])
    asked = detail["request"]
    assert len(asked["unknown_scopes"]) == 20 and asked["unknown_scope_count"] == MAX_SCOPES
    assert len(asked["other"]) == 20 and asked["other_count"] == 500
    assert len(json.dumps(detail)) < 5000
    assert authorization_rows(live_server) == before


def test_endless_scope_lists_are_refused_at_the_token_endpoint_and_at_registration(live_server):
    before = authorization_rows(live_server)
    secret = ClientRegistry(Store(str(live_server.db))).get(CONFIDENTIAL).client_secret
    for scope in (TOO_MANY, TOO_LONG, ENDLESS):
        refreshed = requests.post(f"{live_server}/auth/token", auth=(CONFIDENTIAL, secret), timeout=30, data={
            "grant_type": "refresh_token", "refresh_token": "whatever", "scope": scope})
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_scope"
        registered = requests.post(f"{live_server}/auth/register", timeout=30, json={
            "client_name": "Endless", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "scope": scope})
        assert registered.status_code == 400 and registered.json()["error"] == "invalid_client_metadata"
        assert f"at most {MAX_SCOPES} scopes" in registered.json()["error_description"]
    assert authorization_rows(live_server) == before


# -- JSON nested without end ---------------------------------------------------------------------------------------


def nested(depth: int) -> str:
    """An object holding arrays ``depth`` levels deep: Python parses it, but it is deeper than MAX_DEPTH."""
    return '{"client_name": "Deep", "jwks": ' + "[" * depth + "]" * depth + "}"


def test_json_deeper_than_the_limit_is_refused_on_every_surface(live_server):
    token = live_server.token("system/*.cruds")
    before = authorization_rows(live_server) + (count(live_server, "launches"), count(live_server, "resources"))
    for depth in (MAX_DEPTH + 1, 900, 100_000):  # just over the bound, near Python's own limit, far beyond it
        body = nested(depth)
        fhir = requests.post(f"{live_server}/fhir/Basic", data=body, timeout=10, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
        assert fhir.status_code == 400 and f"deeper than {MAX_DEPTH}" in fhir.json()["issue"][0]["diagnostics"]
        register = requests.post(f"{live_server}/auth/register", data=body, timeout=10,
                                 headers={"Content-Type": "application/json"})
        assert register.status_code == 400 and register.json()["error"] == "invalid_client_metadata"
        launch = requests.post(f"{live_server}/api/launches", data=body, timeout=10,
                               headers={"Content-Type": "application/json"})
        assert launch.status_code == 400
    after = authorization_rows(live_server) + (count(live_server, "launches"), count(live_server, "resources"))
    assert after == before


def test_a_pasted_jwk_set_nested_without_end_is_a_form_error(live_server):
    browser = requests.Session()
    page = browser.get(f"{live_server}/auth/login", timeout=10)
    signed = browser.post(f"{live_server}/auth/login", allow_redirects=False, timeout=10, data={
        "csrf": hidden(page.text, "csrf"), "username": "lori.mcdonald", "next": "/"})
    assert signed.status_code == 302
    before = count(live_server, "clients")
    csrf = hidden(browser.get(f"{live_server}/auth/login", timeout=10).text, "csrf")
    for depth in (MAX_DEPTH + 1, 100_000):
        created = browser.post(f"{live_server}/apps/new", allow_redirects=False, timeout=10, data={
            "csrf": csrf, "client_name": "Deep Keys", "client_type": "confidential-asymmetric",
            "redirect_uris": "http://localhost:4000/callback", "scope": "launch openid patient/*.rs",
            "launch_mode": "embedded", "jwks": '{"keys": ' + "[" * depth + "]" * depth + "}"})
        assert created.status_code == 400 and f"deeper than {MAX_DEPTH}" in created.text
    assert count(live_server, "clients") == before
