"""The refresh_token grant (RFC 6749 §6; SMART App Launch 2.2 §Refresh access token): rotation, reuse detection
(RFC 9700 §4.14.2), narrowing, offline_access and online_access lifetimes."""

from __future__ import annotations

import time

import pytest
from oauth_support import basic, clinician, confidential_app, exchange, public_app

from sandbox.auth import audit, tokens
from sandbox.auth.codes import digest
from sandbox.auth.keys import SigningKeys

SCOPE = "openid fhirUser launch/patient offline_access patient/*.rs"


@pytest.fixture
def app_client(store):
    return public_app(store)


@pytest.fixture
def granted(client, store, app_client):
    """The token response of a code exchange with offline_access, a user and a patient in context."""
    clinician(store)
    response = exchange(client, store, app_client, scope=SCOPE, user_id="alice.smith",
                        context={"patient": "pat-1", "need_patient_banner": False})
    assert response.status_code == 200
    return response.json


def refresh(http, app_client, refresh_token, **extra):
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": app_client.client_id, **extra}
    return http.post("/auth/token", data=form)


def assert_invalid_grant(response, description=None):
    assert response.status_code == 400, response.json
    assert response.json["error"] == "invalid_grant"
    if description is not None:
        assert response.json["error_description"] == description
    assert response.headers["Cache-Control"] == "no-store"


def test_a_refresh_rotates_the_refresh_token_and_keeps_the_launch_context(client, store, app_client, granted):
    response = refresh(client, app_client, granted["refresh_token"])
    assert response.status_code == 200
    body = response.json
    assert list(body) == ["access_token", "token_type", "expires_in", "scope", "refresh_token", "id_token", "patient",
                          "need_patient_banner"]
    assert (body["scope"], body["expires_in"], body["patient"], body["need_patient_banner"]) == \
        (SCOPE, 3600, "pat-1", False)
    assert body["refresh_token"] != granted["refresh_token"] and body["access_token"] != granted["access_token"]
    claims = SigningKeys(store).verify(body["id_token"])
    assert (claims["sub"], claims["fhirUser"], "nonce" in claims) == \
        ("alice.smith", "http://localhost/fhir/Practitioner/prac-1", False)
    old, new = tokens.find(store, granted["refresh_token"]), tokens.find(store, body["refresh_token"])
    assert old.rotated_at is not None and new.rotated_at is None
    assert new.family_id == old.family_id
    context = tokens.active_token(store, body["access_token"]).context
    assert context == {"patient": "pat-1", "need_patient_banner": False}
    assert tokens.active_token(store, granted["access_token"]) is not None  # earlier access tokens live on
    event = audit.recent(store, event="token.refreshed")[0]
    assert (event.client_id, event.user_id, event.detail["family_id"]) == (app_client.client_id, "alice.smith",
                                                                           old.family_id)


def test_an_offline_family_keeps_its_lifetime_through_rotations(client, store, app_client, granted):
    first = tokens.find(store, granted["refresh_token"])
    assert first.expires_at - first.issued_at == 90 * 24 * 3600
    body = refresh(client, app_client, granted["refresh_token"]).json
    assert tokens.find(store, body["refresh_token"]).expires_at == first.expires_at


def test_a_reused_refresh_token_revokes_the_whole_family(client, store, app_client, granted):
    rotated = refresh(client, app_client, granted["refresh_token"]).json
    response = refresh(client, app_client, granted["refresh_token"])
    assert_invalid_grant(response, "The refresh token was already used or revoked; every token issued with it is now "
                                   "revoked (refresh token rotation, RFC 9700 §4.14.2)")
    for token in (granted["access_token"], rotated["access_token"]):
        assert tokens.active_token(store, token) is None
    assert_invalid_grant(refresh(client, app_client, rotated["refresh_token"]))
    event = audit.recent(store, event="refresh.reused")[-1]
    assert (event.outcome, event.client_id, event.user_id, event.detail["revoked"]) == \
        ("failure", app_client.client_id, "alice.smith", 4)  # two access and two refresh tokens


def test_a_concurrent_rotation_counts_as_reuse(store, granted):
    info = tokens.find(store, granted["refresh_token"])
    store.conn.execute("UPDATE tokens SET rotated_at = 1 WHERE token_hash = ?", (digest(granted["refresh_token"]),))
    assert tokens.rotate(store, granted["refresh_token"], access_scope=info.scope, access_lifetime=60,
                         refresh_expires_at=info.expires_at) is None


def test_the_scope_may_be_narrowed(client, store, app_client, granted):
    narrowed = refresh(client, app_client, granted["refresh_token"], scope="patient/Observation.rs launch/patient")
    assert narrowed.status_code == 200
    assert narrowed.json["scope"] == "patient/Observation.rs launch/patient"
    assert "id_token" not in narrowed.json
    assert tokens.active_token(store, narrowed.json["access_token"]).scope == "patient/Observation.rs launch/patient"
    # RFC 6749 §6: the new refresh token keeps the original scope
    again = refresh(client, app_client, narrowed.json["refresh_token"])
    assert again.json["scope"] == SCOPE


@pytest.mark.parametrize("scope", ["patient/*.cruds", "user/*.rs", "offline_access patient/*.rs fhirUser profile",
                                   "system/Patient.rs"])
def test_widening_the_scope_is_invalid_scope_and_keeps_the_token_usable(client, store, app_client, granted, scope):
    response = refresh(client, app_client, granted["refresh_token"], scope=scope)
    assert response.status_code == 400
    assert response.json == {"error": "invalid_scope", "error_description": f"A refresh may narrow the scope, never "
                             f"widen it: {scope!r} is not within the granted {SCOPE!r} (RFC 6749 §6)"}
    assert refresh(client, app_client, granted["refresh_token"]).status_code == 200


def test_a_scope_of_only_unknown_names_is_invalid_scope(client, app_client, granted):
    response = refresh(client, app_client, granted["refresh_token"], scope="bogus other")
    assert response.json["error"] == "invalid_scope"


def test_another_client_cannot_use_the_refresh_token(client, store, app_client, granted):
    other = public_app(store)
    assert_invalid_grant(refresh(client, other, granted["refresh_token"]),
                         "The refresh token was issued to another client (RFC 6749 §6)")
    assert refresh(client, app_client, granted["refresh_token"]).status_code == 200


@pytest.mark.parametrize("value", ["unknown", "x" * 43])
def test_an_unknown_refresh_token_is_invalid_grant(client, app_client, value):
    assert_invalid_grant(refresh(client, app_client, value), "The refresh token is not known")


def test_an_access_token_is_no_refresh_token(client, app_client, granted):
    assert_invalid_grant(refresh(client, app_client, granted["access_token"]), "The refresh token is not known")


def test_a_missing_refresh_token_is_invalid_request(client, app_client):
    response = client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": app_client.client_id})
    assert response.status_code == 400
    assert response.json == {"error": "invalid_request", "error_description": "refresh_token is required"}


def test_an_expired_refresh_token_is_invalid_grant(client, store, app_client, granted):
    store.conn.execute("UPDATE tokens SET expires_at = ? WHERE token_hash = ?",
                       (int(time.time()) - 1, digest(granted["refresh_token"])))
    assert_invalid_grant(refresh(client, app_client, granted["refresh_token"]), "The token has expired")


def test_a_confidential_client_must_authenticate_to_refresh(client, store):
    app = confidential_app(store)
    body = exchange(client, store, app, scope="offline_access patient/*.rs").json
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    response = client.post("/auth/token", data={**form, "client_id": app.client_id})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
    response = client.post("/auth/token", data=form, headers=basic(app.client_id, app.client_secret))
    assert response.status_code == 200


# -- online_access ----------------------------------------------------------------------------------------------


def start_session(store, session_id="sess-1", user_id="alice.smith", lifetime=8 * 3600):
    now = int(time.time())
    store.conn.execute("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                       (session_id, user_id, now, now + lifetime))
    return now + lifetime


@pytest.fixture
def online(client, store, app_client):
    clinician(store)
    session_expires = start_session(store)
    body = exchange(client, store, app_client, scope="openid fhirUser online_access patient/*.rs",
                    user_id="alice.smith", session_id="sess-1").json
    return body, session_expires


def test_an_online_refresh_token_lives_as_long_as_the_session(client, store, app_client, online):
    body, session_expires = online
    info = tokens.find(store, body["refresh_token"])
    assert (info.session_id, info.expires_at) == ("sess-1", session_expires)
    assert refresh(client, app_client, body["refresh_token"]).status_code == 200


@pytest.mark.parametrize("ending", ["UPDATE sessions SET ended_at = 1 WHERE id = 'sess-1'",
                                    "UPDATE sessions SET expires_at = 1 WHERE id = 'sess-1'",
                                    "DELETE FROM sessions WHERE id = 'sess-1'"])
def test_online_access_refresh_fails_once_the_session_ended(client, store, app_client, online, ending):
    body, _ = online
    store.conn.execute(ending)
    assert_invalid_grant(refresh(client, app_client, body["refresh_token"]),
                         "The user's session ended, and online_access refresh tokens end with it "
                         "(SMART App Launch 2.2)")
    assert tokens.active_token(store, body["access_token"]) is not None  # the access token runs its course


def test_offline_access_outlives_the_session(client, store, app_client):
    clinician(store)
    start_session(store)
    body = exchange(client, store, app_client, scope="offline_access online_access patient/*.rs",
                    user_id="alice.smith", session_id="sess-1").json
    store.conn.execute("UPDATE sessions SET ended_at = 1 WHERE id = 'sess-1'")
    assert refresh(client, app_client, body["refresh_token"]).status_code == 200


def test_online_access_without_a_session_lives_session_lifetime(client, store, app_client):
    body = exchange(client, store, app_client, scope="online_access patient/*.rs").json
    info = tokens.find(store, body["refresh_token"])
    assert info.expires_at - info.issued_at == 8 * 3600
    assert refresh(client, app_client, body["refresh_token"]).status_code == 200
