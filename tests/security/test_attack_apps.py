"""Attacks on app registration, over real HTTP against the running sandbox: a patient or family member registering
an app, a clinician editing or removing another's app, anyone but the administrator pre-approving an app (through the
form or RFC 7591 from this very machine), an app a person authorizes holding system/ scopes, and an app's tokens
outliving a change to its redirect URIs or client type. Each asserts the refusal and that nothing changed in the
database.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
import requests
from authorize_support import hidden, signed_in

from sandbox.auth.admin import admin_token
from sandbox.auth.clients import ClientRegistry
from sandbox.auth.tokens import issue, new_family_id
from sandbox.auth.users import UserDirectory
from sandbox.store import Store

FORM = {"client_name": "Attack Target", "client_type": "confidential-symmetric",
        "redirect_uris": "http://localhost:4000/callback", "launch_uri": "http://localhost:4000/launch",
        "scope": "launch openid fhirUser patient/*.rs", "launch_mode": "embedded"}
RFC7591_APP = {"client_name": "Self Approved", "redirect_uris": ["http://localhost:4000/cb"],
               "token_endpoint_auth_method": "none", "scope": "launch openid patient/*.rs"}
FAMILY_MEMBER = "attack.family"


# -- a browser signed in as someone, and what the database holds -----------------------------------------------------


def csrf_of(live, browser: requests.Session) -> str:
    return hidden(browser.get(f"{live}/auth/login", timeout=10).text, "csrf")


def client_row(live, client_id: str):
    with sqlite3.connect(live.db) as conn:
        return conn.execute("SELECT client_type, metadata, owner, client_secret, updated_at FROM clients "
                            "WHERE client_id = ?", (client_id,)).fetchone()


def metadata_of(live, client_id: str) -> dict:
    return json.loads(client_row(live, client_id)[1])


def clients_count(live) -> int:
    with sqlite3.connect(live.db) as conn:
        return conn.execute("SELECT count(*) FROM clients").fetchone()[0]


def grants_ended(live, client_id: str) -> list[tuple[str, str]]:
    """The app.grants_ended audit events of an app: (who changed it, why its grants ended)."""
    with sqlite3.connect(live.db) as conn:
        return conn.execute("SELECT user_id, rule FROM audit_events WHERE event = 'app.grants_ended' AND client_id = ?",
                            (client_id,)).fetchall()


def register_as(live, browser: requests.Session, **changes) -> str:
    created = browser.post(f"{live}/apps/new", data={**FORM, **changes, "csrf": csrf_of(live, browser)},
                           allow_redirects=False, timeout=10)
    assert created.status_code == 302, created.text
    return created.headers["Location"].rsplit("/", 1)[1]


def edit_as(live, browser: requests.Session, client_id: str, **changes) -> requests.Response:
    return browser.post(f"{live}/apps/{client_id}", data={**FORM, **changes, "csrf": csrf_of(live, browser)},
                        allow_redirects=False, timeout=10)


def tokens_of(live, client_id: str) -> tuple[str, str]:
    """An access token and a refresh token issued to the app before the change under attack."""
    issued = issue(Store(str(live.db)), family_id=new_family_id(), client_id=client_id, user_id="lori.mcdonald",
                   scope="launch/patient patient/*.rs offline_access", access_lifetime=3600,
                   refresh_expires_at=2_000_000_000, context={"patient": "story-diabetes"})
    return issued.access_token, issued.refresh_token


def active(live, token: str) -> bool:
    """RFC 7662 as a resource server asks it: demo-confidential's own credentials, any app's token."""
    secret = ClientRegistry(Store(str(live.db))).get("demo-confidential").client_secret
    answer = requests.post(f"{live}/auth/introspect", data={"token": token}, auth=("demo-confidential", secret),
                           timeout=10)
    assert answer.status_code == 200
    return answer.json()["active"]


def reads_fhir(live, token: str) -> int:
    return requests.get(f"{live}/fhir/Patient?_count=1", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code


@pytest.fixture(scope="module")
def family_member(live_server) -> str:
    """A family member's portal account (the seed makes none)."""
    directory = UserDirectory(Store(str(live_server.db)))
    if directory.get(FAMILY_MEMBER) is None:
        directory.create(FAMILY_MEMBER, "Attack Family", "related-person", "RelatedPerson/attack-family")
    return FAMILY_MEMBER


# -- 1. only clinicians and the administrator reach the registration pages ------------------------------------------


@pytest.mark.parametrize("who", ["marcus.johnson", "family"])
def test_a_patient_or_family_member_cannot_reach_or_use_the_registration_pages(live_server, family_member, who):
    portal = signed_in(live_server, family_member if who == "family" else who)
    before = clients_count(live_server)
    seeded = client_row(live_server, "demo-app")
    token = csrf_of(live_server, portal)
    for path in ("/apps/", "/apps/new", "/apps/demo-app"):
        page = portal.get(f"{live_server}{path}", allow_redirects=False, timeout=10)
        assert page.status_code == 403 and "Only clinicians register apps" in page.text, path
    attempts = [
        ("/apps/new", {**FORM, "client_type": "backend", "scope": "system/*.cruds"}),
        ("/apps/new", {**FORM, "pre_approved": "on"}),
        ("/apps/demo-app", {**FORM, "client_type": "public", "redirect_uris": "https://evil.example/steal"}),
        ("/apps/demo-app/remove", {}),
    ]
    for path, form in attempts:
        posted = portal.post(f"{live_server}{path}", data={**form, "csrf": token}, allow_redirects=False, timeout=10)
        assert posted.status_code == 403 and "clinicians and the sandbox administrator" in posted.text, path
    assert clients_count(live_server) == before
    assert client_row(live_server, "demo-app") == seeded


# -- 2. only the owner or the administrator changes an app ------------------------------------------------------------


def test_a_clinician_cannot_change_or_remove_another_clinicians_app(live_server):
    owner = signed_in(live_server, "lori.mcdonald")
    client_id = register_as(live_server, owner)
    access, _ = tokens_of(live_server, client_id)
    before = client_row(live_server, client_id)
    assert before[2] == "lori.mcdonald"
    other = signed_in(live_server, "susan.glenn")
    for change in ({"redirect_uris": "https://evil.example/steal"}, {"client_type": "public"},
                   {"client_name": "Hijacked", "scope": "launch openid patient/*.cruds"}):
        edited = edit_as(live_server, other, client_id, **change)
        assert edited.status_code == 403 and "Not your app" in edited.text, change
    removed = other.post(f"{live_server}/apps/{client_id}/remove", data={"csrf": csrf_of(live_server, other)},
                         allow_redirects=False, timeout=10)
    assert removed.status_code == 403
    assert client_row(live_server, client_id) == before
    assert active(live_server, access) and grants_ended(live_server, client_id) == []  # the owner's grants stand
    seeded = client_row(live_server, "demo-app")
    assert other.post(f"{live_server}/apps/demo-app/remove", data={"csrf": csrf_of(live_server, other)},
                      allow_redirects=False, timeout=10).status_code == 403  # the bundled apps are the administrator's
    assert edit_as(live_server, other, "demo-app", redirect_uris="https://evil.example/cb").status_code == 403
    assert client_row(live_server, "demo-app") == seeded
    admin = signed_in(live_server, "admin")  # the administrator may, which shows the refusals were the rule's
    assert edit_as(live_server, admin, client_id, client_name="Renamed by the administrator").status_code == 302
    assert metadata_of(live_server, client_id)["client_name"] == "Renamed by the administrator"


# -- 3. pre-approval (skipping consent) is the administrator's decision -----------------------------------------------


def test_a_clinicians_pre_approval_is_ignored_only_the_administrator_pre_approves(live_server):
    clinician = signed_in(live_server, "lori.mcdonald")
    client_id = register_as(live_server, clinician, pre_approved="on")
    assert metadata_of(live_server, client_id)["pre_approved"] is False
    assert edit_as(live_server, clinician, client_id, pre_approved="on").status_code == 302  # the owner's own edit
    assert metadata_of(live_server, client_id)["pre_approved"] is False
    admin = signed_in(live_server, "admin")
    assert edit_as(live_server, admin, client_id, pre_approved="on").status_code == 302
    assert metadata_of(live_server, client_id)["pre_approved"] is True


def test_an_owner_cannot_carry_a_pre_approval_to_new_redirect_uris(live_server):
    owner = signed_in(live_server, "lori.mcdonald")
    client_id = register_as(live_server, owner)
    assert edit_as(live_server, signed_in(live_server, "admin"), client_id, pre_approved="on").status_code == 302
    assert edit_as(live_server, owner, client_id, redirect_uris="https://attacker.example/cb").status_code == 302
    assert metadata_of(live_server, client_id)["pre_approved"] is False  # consent is asked again


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-admin-token"}])
def test_rfc7591_pre_approval_needs_the_admin_token_even_from_this_machine(live_server, headers):
    before = clients_count(live_server)
    refused = requests.post(f"{live_server}/auth/register", json={**RFC7591_APP, "pre_approved": True},
                            headers=headers, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata"
    assert "administrator's decision" in refused.json()["error_description"]
    assert clients_count(live_server) == before


def test_rfc7591_with_the_admin_token_pre_approves(live_server):
    token = admin_token(Store(str(live_server.db)), {})
    allowed = requests.post(f"{live_server}/auth/register", json={**RFC7591_APP, "pre_approved": True}, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 201 and allowed.json()["pre_approved"] is True
    assert client_row(live_server, allowed.json()["client_id"])[2] == "admin"
    plain = requests.post(f"{live_server}/auth/register", json=RFC7591_APP, timeout=10)  # loopback, no token
    assert plain.status_code == 201 and plain.json()["pre_approved"] is False


# -- 4. system/ scopes belong to backend services ---------------------------------------------------------------------


def test_an_app_a_person_authorizes_cannot_be_registered_with_system_scopes(live_server):
    clinician = signed_in(live_server, "lori.mcdonald")
    before = clients_count(live_server)
    for kind in ("public", "confidential-symmetric"):
        posted = clinician.post(f"{live_server}/apps/new", allow_redirects=False, timeout=10, data={
            **FORM, "client_type": kind, "scope": "launch openid system/*.cruds",
            "csrf": csrf_of(live_server, clinician)})
        assert posted.status_code == 400 and "system/ scopes are for backend services" in posted.text, kind
    dynamic = requests.post(f"{live_server}/auth/register", timeout=10,
                            json={**RFC7591_APP, "scope": "launch openid system/*.cruds"})
    assert dynamic.status_code == 400 and dynamic.json()["error"] == "invalid_client_metadata"
    assert clients_count(live_server) == before
    client_id = register_as(live_server, clinician)
    before = client_row(live_server, client_id)
    assert edit_as(live_server, clinician, client_id, scope="launch system/*.cruds").status_code == 400
    assert client_row(live_server, client_id) == before


# -- 5. a change to what made an app's grants safe ends them ----------------------------------------------------------


@pytest.mark.parametrize(("change", "why"), [
    ({"redirect_uris": "http://localhost:4000/other"}, "The app's redirect URIs changed"),
    ({"client_type": "public"}, "The app changed from confidential to public"),
])
def test_changing_redirect_uris_or_going_public_ends_the_apps_grants(live_server, change, why):
    owner = signed_in(live_server, "lori.mcdonald")
    client_id = register_as(live_server, owner)
    access, refresh = tokens_of(live_server, client_id)
    assert reads_fhir(live_server, access) == 200 and active(live_server, refresh)
    assert edit_as(live_server, owner, client_id, **change).status_code == 302
    assert reads_fhir(live_server, access) == 401
    assert not active(live_server, access) and not active(live_server, refresh)
    [(user_id, rule)] = grants_ended(live_server, client_id)
    assert user_id == "lori.mcdonald" and rule.startswith(why)


def test_a_harmless_edit_keeps_the_apps_grants(live_server):
    owner = signed_in(live_server, "lori.mcdonald")
    client_id = register_as(live_server, owner)
    access, _ = tokens_of(live_server, client_id)
    assert edit_as(live_server, owner, client_id, client_name="Renamed", launch_mode="tab").status_code == 302
    assert reads_fhir(live_server, access) == 200 and grants_ended(live_server, client_id) == []
