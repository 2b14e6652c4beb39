"""Attacks on app registration, over real HTTP against the running sandbox: a patient registering an app, a
clinician editing or removing another's app, anyone but the administrator pre-approving an app (through the form or
RFC 7591 from this very machine), and an app's tokens outliving a change to its redirect URIs or client type. Each
asserts the refusal and that nothing changed in the database.
"""

from __future__ import annotations

import json
import re
import sqlite3

import requests

from sandbox.auth.admin import admin_token
from sandbox.store import Store

FORM = {"client_name": "Attack Target", "client_type": "confidential-symmetric",
        "redirect_uris": "http://localhost:4000/callback", "launch_uri": "http://localhost:4000/launch",
        "scope": "launch openid fhirUser patient/*.rs", "launch_mode": "embedded"}


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def signed_in(live, username: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{live}/auth/login", timeout=10)
    browser.post(f"{live}/auth/login", data={"csrf": hidden(page.text, "csrf"), "username": username, "next": "/"},
                 timeout=10)
    return browser


def csrf_of(live, browser: requests.Session) -> str:
    return hidden(browser.get(f"{live}/auth/login", timeout=10).text, "csrf")


def client_row(live, client_id: str):
    with sqlite3.connect(live.db) as conn:
        return conn.execute("SELECT client_type, metadata, owner, client_secret FROM clients WHERE client_id = ?",
                            (client_id,)).fetchone()


def clients_count(live) -> int:
    with sqlite3.connect(live.db) as conn:
        return conn.execute("SELECT count(*) FROM clients").fetchone()[0]


def register_as(live, browser: requests.Session, **changes) -> str:
    created = browser.post(f"{live}/apps/new", data={**FORM, **changes, "csrf": csrf_of(live, browser)},
                           allow_redirects=False, timeout=10)
    assert created.status_code == 302, created.text
    return created.headers["Location"].rsplit("/", 1)[1]


def test_a_patient_cannot_reach_or_use_the_registration_pages(live_server):
    patient = signed_in(live_server, "marcus.johnson")
    before = clients_count(live_server)
    assert patient.get(f"{live_server}/apps/new", timeout=10).status_code == 403
    posted = patient.post(f"{live_server}/apps/new", allow_redirects=False, timeout=10, data={
        **FORM, "client_type": "backend", "scope": "system/*.cruds", "csrf": csrf_of(live_server, patient)})
    assert posted.status_code == 403 and "Only clinicians register apps" in posted.text
    assert clients_count(live_server) == before


def test_a_clinician_cannot_change_or_remove_another_clinicians_app(live_server):
    owner = signed_in(live_server, "lori.mcdonald")
    client_id = register_as(live_server, owner)
    before = client_row(live_server, client_id)
    assert before[2] == "lori.mcdonald"
    other = signed_in(live_server, "susan.glenn")
    token = csrf_of(live_server, other)
    edited = other.post(f"{live_server}/apps/{client_id}", allow_redirects=False, timeout=10, data={
        **FORM, "client_type": "public", "redirect_uris": "https://evil.example/steal", "csrf": token})
    removed = other.post(f"{live_server}/apps/{client_id}/remove", allow_redirects=False, timeout=10,
                         data={"csrf": token})
    assert edited.status_code == removed.status_code == 403 and "Not your app" in edited.text
    assert client_row(live_server, client_id) == before
    seeded = client_row(live_server, "demo-app")
    assert other.post(f"{live_server}/apps/demo-app/remove", data={"csrf": token}, allow_redirects=False,
                      timeout=10).status_code == 403  # the bundled apps belong to the administrator
    assert client_row(live_server, "demo-app") == seeded


def test_only_the_administrator_pre_approves_an_app(live_server):
    clinician = signed_in(live_server, "lori.mcdonald")
    client_id = register_as(live_server, clinician, pre_approved="on")
    assert json.loads(client_row(live_server, client_id)[1])["pre_approved"] is False
    admin = signed_in(live_server, "admin")
    saved = admin.post(f"{live_server}/apps/{client_id}", allow_redirects=False, timeout=10,
                       data={**FORM, "pre_approved": "on", "csrf": csrf_of(live_server, admin)})
    assert saved.status_code == 302 and json.loads(client_row(live_server, client_id)[1])["pre_approved"] is True


def test_rfc7591_pre_approval_needs_the_admin_token_even_from_this_machine(live_server):
    metadata = {"client_name": "Self Approved", "redirect_uris": ["http://localhost:4000/cb"],
                "token_endpoint_auth_method": "none", "scope": "launch openid patient/*.rs", "pre_approved": True}
    before = clients_count(live_server)
    refused = requests.post(f"{live_server}/auth/register", json=metadata, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata"
    assert clients_count(live_server) == before
    token = admin_token(Store(str(live_server.db)), {})
    allowed = requests.post(f"{live_server}/auth/register", json=metadata, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 201 and allowed.json()["pre_approved"] is True


def test_changing_redirect_uris_or_going_public_ends_the_apps_grants(live_server):
    owner = signed_in(live_server, "lori.mcdonald")
    for change in ({"redirect_uris": "http://localhost:4000/other"}, {"client_type": "public"}):
        client_id = register_as(live_server, owner)
        token = live_server.token("patient/*.rs", client_id=client_id, patient="story-diabetes")
        bearer = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{live_server}/fhir/Patient/story-diabetes", headers=bearer, timeout=10).ok
        owner.post(f"{live_server}/apps/{client_id}", allow_redirects=False, timeout=10,
                   data={**FORM, **change, "csrf": csrf_of(live_server, owner)})
        refused = requests.get(f"{live_server}/fhir/Patient/story-diabetes", headers=bearer, timeout=10)
        assert refused.status_code == 401, change
        asked = requests.post(f"{live_server}/auth/introspect", data={"token": token}, headers=bearer, timeout=10)
        assert asked.status_code == 401  # the revoked token no longer even authenticates a caller
