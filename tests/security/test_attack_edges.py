"""Attacks at the edges of the server, over real HTTP against the running sandbox: a forged Host (DNS rebinding)
on the admin endpoints and the FHIR API, an oversized body, deeply nested JSON, and the headers every response
must carry. Each asserts the refusal and that nothing was written.
"""

from __future__ import annotations

import re
import sqlite3

import requests

EVIL_HOST = "rebound.evil.example"


def count(live, table: str) -> int:
    with sqlite3.connect(live.db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_rebound_host_cannot_use_the_loopback_trust_of_the_admin_endpoints(live_server):
    clients, launches = count(live_server, "clients"), count(live_server, "launches")
    metadata = {"client_name": "Rebound", "redirect_uris": ["http://localhost:4000/cb"],
                "token_endpoint_auth_method": "none", "scope": "launch openid patient/*.rs"}
    for host in (EVIL_HOST, "127.0.0.1:1"):  # another name, or this address under another port
        registered = requests.post(f"{live_server}/auth/register", json=metadata, headers={"Host": host}, timeout=10)
        launched = requests.post(f"{live_server}/api/launches", headers={"Host": host}, timeout=10,
                                 json={"client_id": "demo-app", "patient": "story-diabetes"})
        for response in (registered, launched):
            assert response.status_code == 421 and response.json()["error"] == "invalid_request"
    assert (count(live_server, "clients"), count(live_server, "launches")) == (clients, launches)
    read = requests.get(f"{live_server}/auth/register", headers={"Host": EVIL_HOST}, allow_redirects=False,
                        timeout=10)
    assert read.status_code == 308 and read.headers["Location"].startswith(str(live_server))


def test_a_rebound_host_cannot_write_fhir_even_with_a_token(live_server):
    token = live_server.token("system/*.cruds")
    before = count(live_server, "resources")
    written = requests.post(f"{live_server}/fhir/Basic", timeout=10, json={"resourceType": "Basic", "code": {
        "text": "rebound"}}, headers={"Host": EVIL_HOST, "Authorization": f"Bearer {token}",
                                      "Content-Type": "application/fhir+json"})
    assert written.status_code == 421 and written.json()["resourceType"] == "OperationOutcome"
    assert count(live_server, "resources") == before


def test_an_oversized_body_gets_413_in_each_surfaces_shape(live_server):
    token = live_server.token("system/*.cruds")
    huge = b"x" * (50 * 1024 * 1024 + 1)
    before = count(live_server, "resources")
    fhir = requests.post(f"{live_server}/fhir/Basic", data=huge, timeout=60, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
    oauth = requests.post(f"{live_server}/auth/token", data=huge, timeout=60,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert fhir.status_code == 413 and fhir.json()["resourceType"] == "OperationOutcome"
    assert oauth.status_code == 413 and oauth.json()["error"] == "invalid_request"
    chunked = requests.post(f"{live_server}/fhir/Basic", data=iter([b"x" * 1024 * 1024] * 51), timeout=60,
                            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
    assert chunked.status_code in (400, 413) and chunked.json()["resourceType"] == "OperationOutcome"
    assert count(live_server, "resources") == before


def test_deeply_nested_json_is_a_400_never_a_500(live_server):
    token = live_server.token("system/*.cruds")
    nested = "[" * 100_000 + "]" * 100_000
    fhir = requests.post(f"{live_server}/fhir/Basic", data=nested, timeout=10, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
    register = requests.post(f"{live_server}/auth/register", data=nested, timeout=10,
                             headers={"Content-Type": "application/json"})
    launch = requests.post(f"{live_server}/api/launches", data=nested, timeout=10,
                           headers={"Content-Type": "application/json"})
    assert fhir.status_code == 400 and fhir.json()["resourceType"] == "OperationOutcome"
    assert register.status_code == 400 and register.json()["error"] == "invalid_client_metadata"
    assert launch.status_code == 400


def test_every_response_says_nosniff_and_the_session_cookie_is_locked_down(live_server):
    for path in ("/", "/auth/login", "/fhir/metadata", "/auth/jwks", "/static/css/pages.css", "/nowhere"):
        response = requests.get(f"{live_server}{path}", timeout=10)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    login = requests.get(f"{live_server}/auth/login", timeout=10)
    assert login.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and re.search(r"SameSite=Lax", cookie) and "Secure" not in cookie  # http base URL
