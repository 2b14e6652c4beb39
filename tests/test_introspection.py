"""POST /auth/introspect — RFC 7662 as SMART App Launch 2.2 §Token Introspection profiles it."""

from __future__ import annotations

import time

import pytest
from oauth_support import (
    ASSERTION_TYPE,
    assertion,
    backend_client,
    basic,
    clinician,
    confidential_app,
    exchange,
    public_app,
    rsa_key,
)

from sandbox.auth import audit, tokens
from sandbox.auth.codes import digest

CONTEXT = {"patient": "pat-1", "encounter": "enc-1", "fhirContext": [{"reference": "Appointment/apt-1"}],
           "intent": "reconcile-medications", "need_patient_banner": True, "tenant": "clinic-a"}
SCOPE = "openid fhirUser launch offline_access patient/*.rs"


@pytest.fixture
def resource_server(store):
    """A confidential client that introspects the tokens it is shown (a resource server)."""
    return confidential_app(store)


@pytest.fixture
def issued(client, store):
    clinician(store)
    app = public_app(store)
    body = exchange(client, store, app, scope=SCOPE, user_id="alice.smith", context=CONTEXT).json
    return app, body


def introspect(http, server, token, **extra):
    return http.post("/auth/introspect", data={"token": token, **extra},
                     headers=basic(server.client_id, server.client_secret))


def test_an_active_access_token_is_described(client, store, resource_server, issued):
    app, body = issued
    response = introspect(client, resource_server, body["access_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    info = tokens.find(store, body["access_token"])
    assert response.json == {
        "active": True, "scope": SCOPE, "client_id": app.client_id, "exp": info.expires_at, "iat": info.issued_at,
        "iss": "http://localhost/fhir", "sub": "alice.smith", "fhirUser": "http://localhost/fhir/Practitioner/prac-1",
        "token_type": "Bearer", "patient": "pat-1", "encounter": "enc-1",
        "fhirContext": [{"reference": "Appointment/apt-1"}], "need_patient_banner": True,
        "intent": "reconcile-medications", "tenant": "clinic-a"}
    event = audit.recent(store, event="introspection")[0]
    assert (event.outcome, event.client_id, event.detail) == \
        ("success", resource_server.client_id, {"active": True, "token_client_id": app.client_id})


def test_a_bearer_token_may_authorise_introspection(client, issued):
    _, body = issued
    response = client.post("/auth/introspect", data={"token": body["access_token"]},
                           headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.status_code == 200
    assert response.json["active"] is True


def test_a_backend_service_introspects_with_a_client_assertion(client, store, issued):
    _, body = issued
    service = backend_client(store, [rsa_key()])
    for aud in ("http://localhost/auth/introspect", "http://localhost/auth/token"):
        response = client.post("/auth/introspect", data={
            "token": body["access_token"], "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(rsa_key(), service.client_id, aud=aud)})
        assert response.json["active"] is True


def test_a_refresh_token_is_described_without_token_type(client, resource_server, issued):
    _, body = issued
    response = introspect(client, resource_server, body["refresh_token"])
    assert response.json["active"] is True
    assert "token_type" not in response.json
    assert response.json["scope"] == SCOPE


def test_a_backend_token_has_no_sub_and_no_fhir_user(client, store, resource_server):
    service = backend_client(store, [rsa_key()])
    token = client.post("/auth/token", data={
        "grant_type": "client_credentials", "scope": "system/Patient.rs", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(rsa_key(), service.client_id)}).json["access_token"]
    body = introspect(client, resource_server, token).json
    assert set(body) == {"active", "scope", "client_id", "exp", "iat", "iss", "token_type"}


@pytest.mark.parametrize("change", [
    "UPDATE tokens SET expires_at = 1 WHERE token_hash = ?",
    "UPDATE tokens SET revoked_at = 1 WHERE token_hash = ?",
    "DELETE FROM tokens WHERE token_hash = ?",
])
def test_expired_revoked_or_unknown_tokens_are_just_inactive(client, store, resource_server, issued, change):
    _, body = issued
    store.conn.execute(change, (digest(body["access_token"]),))
    response = introspect(client, resource_server, body["access_token"])
    assert response.status_code == 200
    assert response.json == {"active": False}


@pytest.mark.parametrize("token", ["garbage", "x" * 5000, "\u00e9\u00e8", "a b c"])
def test_garbage_is_inactive(client, resource_server, token):
    assert introspect(client, resource_server, token).json == {"active": False}


def test_a_rotated_refresh_token_is_inactive(client, resource_server, issued):
    app, body = issued
    client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                     "client_id": app.client_id})
    assert introspect(client, resource_server, body["refresh_token"]).json == {"active": False}


def test_an_unauthenticated_caller_gets_401(client, issued):
    _, body = issued
    response = client.post("/auth/introspect", data={"token": body["access_token"]})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="sandbox", Bearer realm="sandbox"'
    assert audit.recent(store=client.application.extensions["store"], event="introspection")[0].outcome == "failure"


def test_an_inactive_bearer_token_gets_401_invalid_token(client, store, issued):
    _, body = issued
    tokens.revoke(store, body["access_token"])
    response = client.post("/auth/introspect", data={"token": body["refresh_token"]},
                           headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="sandbox", error="invalid_token"'


def test_a_refresh_token_is_no_bearer_credential(client, issued):
    _, body = issued
    response = client.post("/auth/introspect", data={"token": body["access_token"]},
                           headers={"Authorization": f"Bearer {body['refresh_token']}"})
    assert response.status_code == 401


def test_a_public_client_id_alone_does_not_authenticate(client, issued):
    app, body = issued
    response = client.post("/auth/introspect", data={"token": body["access_token"], "client_id": app.client_id})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_a_wrong_secret_gets_401(client, resource_server, issued):
    _, body = issued
    response = client.post("/auth/introspect", data={"token": body["access_token"]},
                           headers=basic(resource_server.client_id, "wrong"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="sandbox"'


def test_the_token_parameter_is_required(client, resource_server):
    response = client.post("/auth/introspect", data={}, headers=basic(resource_server.client_id,
                                                                      resource_server.client_secret))
    assert response.status_code == 400
    assert response.json == {"error": "invalid_request", "error_description": "token is required"}


def test_exp_is_the_access_token_expiry(client, resource_server, issued):
    _, body = issued
    answer = introspect(client, resource_server, body["access_token"], token_type_hint="access_token").json
    assert abs(answer["exp"] - (time.time() + 3600)) < 5
