"""SMART Backend Services (SMART App Launch 2.2 §Backend Services): the client_credentials grant with
private_key_jwt, system/ scopes only, short-lived tokens, no refresh token — and end to end over real HTTP."""

from __future__ import annotations

import time

import pytest
import requests
from oauth_support import (
    ASSERTION_TYPE,
    JwksServer,
    assertion,
    backend_client,
    backend_form,
    basic,
    confidential_app,
    ec_key,
    public_jwks,
    register,
    rsa_key,
)

from sandbox.app import create_app
from sandbox.auth import audit, tokens


@pytest.fixture
def keys():
    return rsa_key(), ec_key()


@pytest.fixture
def backend(store, keys):
    return backend_client(store, keys, scope="system/Patient.rs system/Observation.rs")


def request_token(http, client, key, scope, alg="RS384"):
    return http.post("/auth/token", data=backend_form(assertion(key, client.client_id, alg), scope))


def test_a_backend_service_gets_a_short_lived_token_without_refresh(client, store, backend, keys):
    response = request_token(client, backend, keys[1], "system/Patient.rs system/Observation.rs", "ES384")
    assert response.status_code == 200
    assert response.json == {"access_token": response.json["access_token"], "token_type": "Bearer",
                             "expires_in": 300, "scope": "system/Patient.rs system/Observation.rs"}
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    info = tokens.active_token(store, response.json["access_token"])
    assert (info.client_id, info.user_id, info.context) == (backend.client_id, None, {})
    event = audit.recent(store, event="token.issued")[0]
    assert (event.client_id, event.detail["grant_type"]) == (backend.client_id, "client_credentials")


def test_scopes_that_are_not_system_scopes_are_dropped(client, backend, keys):
    response = request_token(client, backend, keys[0], "system/Patient.rs patient/Observation.rs openid launch")
    assert response.json["scope"] == "system/Patient.rs"


def test_scopes_are_narrowed_to_what_the_client_registered(client, backend, keys):
    response = request_token(client, backend, keys[0], "system/*.rs")
    assert response.json["scope"] == "system/Patient.rs system/Observation.rs"


@pytest.mark.parametrize("scope", ["patient/Observation.rs user/*.rs", "system/Encounter.rs", "bogus"])
def test_no_grantable_system_scope_is_invalid_scope(client, backend, keys, scope):
    response = request_token(client, backend, keys[0], scope)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_scope"


def test_the_scope_is_required(client, backend, keys):
    form = {k: v for k, v in backend_form(assertion(keys[0], backend.client_id)).items() if k != "scope"}
    response = client.post("/auth/token", data=form)
    assert response.status_code == 400
    assert response.json == {"error": "invalid_request", "error_description": "scope is required"}


def test_the_token_lifetime_never_exceeds_300_seconds(tmp_path, keys):
    app = create_app({"DB": str(tmp_path / "t.sqlite"), "BASE_URL": "http://localhost", "TESTING": True,
                      "BACKEND_TOKEN_LIFETIME": 3600})
    store = app.extensions["store"]
    service = backend_client(store, keys)
    response = request_token(app.test_client(), service, keys[0], "system/Patient.rs")
    assert response.json["expires_in"] == 300


def test_a_client_secret_client_cannot_use_client_credentials(client, store):
    app = confidential_app(store)
    response = client.post("/auth/token", data={"grant_type": "client_credentials", "scope": "system/Patient.rs"},
                           headers=basic(app.client_id, app.client_secret))
    assert response.status_code == 400
    assert response.json["error"] == "unauthorized_client"


def test_a_private_key_jwt_app_not_registered_for_client_credentials_is_unauthorized_client(client, store, keys):
    app = register(store, token_endpoint_auth_method="private_key_jwt", redirect_uris=["http://localhost:3000/cb"],
                   jwks=public_jwks(*keys), scope="launch patient/*.rs")
    response = request_token(client, app, keys[0], "system/Patient.rs")
    assert response.status_code == 400
    assert response.json["error"] == "unauthorized_client"


def test_an_invalid_grant_type_with_a_good_assertion_is_a_400(client, backend, keys):
    form = {**backend_form(assertion(keys[0], backend.client_id)), "grant_type": "not_a_grant_type"}
    response = client.post("/auth/token", data=form)
    assert response.status_code == 400
    assert response.json["error"] == "unsupported_grant_type"


def test_a_client_id_that_is_not_a_backend_service_cannot_sign_for_one(client, store, backend, keys):
    other = backend_client(store, [rsa_key("other")])
    signed = assertion(rsa_key("other"), other.client_id, sub=backend.client_id, iss=backend.client_id)
    response = client.post("/auth/token", data=backend_form(signed))
    assert response.status_code == 401  # looked up as `backend`, whose keys hold no kid "other"


# -- end to end over real HTTP --------------------------------------------------------------------------------------


def test_backend_services_end_to_end(live_server, keys):
    """A backend service with RS384 and ES384 keys at its own jwks_uri registers (RFC 7591), gets tokens
    from the real server, and checks them with introspection."""
    token_url = f"{live_server}/auth/token"
    with JwksServer(public_jwks(*keys)) as jwks:
        registered = requests.post(f"{live_server}/auth/register", timeout=10, json={
            "client_name": "Nightly export", "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"], "jwks_uri": jwks.url, "scope": "system/*.rs"})
        assert registered.status_code == 201
        client_id = registered.json()["client_id"]
        answers = []
        for key, alg in ((keys[0], "RS384"), (keys[1], "ES384")):
            response = requests.post(token_url, timeout=10, data={
                "grant_type": "client_credentials", "scope": "system/Patient.rs system/Observation.rs",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion(key, client_id, alg, aud=token_url)})
            assert response.status_code == 200, response.text
            assert response.headers["Cache-Control"] == "no-store"
            answers.append(response.json())
        assert jwks.hits == 1  # the second worker or request found the cached key set
    token = answers[0]["access_token"]
    assert answers[0]["expires_in"] <= 300 and "refresh_token" not in answers[0]

    by_bearer = requests.post(f"{live_server}/auth/introspect", data={"token": token}, timeout=10,
                              headers={"Authorization": f"Bearer {answers[1]['access_token']}"})
    assert by_bearer.status_code == 200
    body = by_bearer.json()
    assert body == {"active": True, "scope": "system/Patient.rs system/Observation.rs", "client_id": client_id,
                    "exp": body["exp"], "iat": body["iat"], "iss": f"{live_server}/fhir", "token_type": "Bearer"}
    assert 0 < body["exp"] - time.time() <= 300

    by_assertion = requests.post(f"{live_server}/auth/introspect", timeout=10, data={
        "token": token, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(keys[0], client_id, aud=f"{live_server}/auth/introspect")})
    assert by_assertion.json() == body

    revoked = requests.post(f"{live_server}/auth/revoke", timeout=10, data={
        "token": token, "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(keys[1], client_id, "ES384", aud=token_url)})
    assert revoked.status_code == 200
    after = requests.post(f"{live_server}/auth/introspect", data={"token": token}, timeout=10,
                          headers={"Authorization": f"Bearer {answers[1]['access_token']}"})
    assert after.json() == {"active": False}
