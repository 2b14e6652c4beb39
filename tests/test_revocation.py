"""POST /auth/revoke — RFC 7009 token revocation."""

from __future__ import annotations

import pytest
from oauth_support import basic, confidential_app, exchange, public_app

from sandbox.auth import audit, tokens

SCOPE = "offline_access patient/*.rs"


@pytest.fixture
def app_client(store):
    return public_app(store)


@pytest.fixture
def issued(client, store, app_client):
    first = exchange(client, store, app_client, scope=SCOPE).json
    second = client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                              "client_id": app_client.client_id}).json
    return first, second


def revoke(http, app_client, token, **extra):
    return http.post("/auth/revoke", data={"token": token, "client_id": app_client.client_id, **extra})


def test_revoking_an_access_token_revokes_just_it(client, store, app_client, issued):
    first, second = issued
    response = revoke(client, app_client, second["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert response.json == {}
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    assert tokens.active_token(store, second["access_token"]) is None
    assert tokens.active_token(store, first["access_token"]) is not None
    event = audit.recent(store, event="revocation")[0]
    assert (event.outcome, event.client_id, event.rule) == ("success", app_client.client_id, "Access token revoked")


def test_revoking_a_refresh_token_revokes_its_family(client, store, app_client, issued):
    first, second = issued
    assert revoke(client, app_client, second["refresh_token"], token_type_hint="refresh_token").status_code == 200
    for token in (first["access_token"], second["access_token"]):
        assert tokens.active_token(store, token) is None
    refreshed = client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": app_client.client_id,
                                                  "refresh_token": second["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    assert audit.recent(store, event="revocation")[0].rule == "Refresh token revoked with its family (4 tokens)"


@pytest.mark.parametrize("hint", ["refresh_token", "bogus", None])
def test_the_hint_does_not_matter(client, store, app_client, issued, hint):
    _, second = issued
    extra = {"token_type_hint": hint} if hint else {}
    assert revoke(client, app_client, second["access_token"], **extra).status_code == 200
    assert tokens.active_token(store, second["access_token"]) is None


@pytest.mark.parametrize("token", ["unknown", "x" * 43, "\u00e9"])
def test_an_unknown_token_is_answered_200(client, app_client, token):
    response = revoke(client, app_client, token)
    assert response.status_code == 200
    assert response.json == {}


def test_revoking_twice_is_fine(client, app_client, issued):
    _, second = issued
    assert revoke(client, app_client, second["access_token"]).status_code == 200
    assert revoke(client, app_client, second["access_token"]).status_code == 200


def test_a_token_of_another_client_is_not_revoked(client, store, app_client, issued):
    _, second = issued
    other = public_app(store)
    assert revoke(client, other, second["access_token"]).status_code == 200
    assert revoke(client, other, second["refresh_token"]).status_code == 200
    assert tokens.active_token(store, second["access_token"]) is not None
    assert tokens.find(store, second["refresh_token"]).revoked_at is None
    event = audit.recent(store, event="revocation")[0]
    assert (event.outcome, event.client_id) == ("failure", other.client_id)


def test_a_confidential_client_authenticates_to_revoke(client, store):
    app = confidential_app(store)
    body = exchange(client, store, app, scope=SCOPE).json
    refused = client.post("/auth/revoke", data={"token": body["access_token"], "client_id": app.client_id})
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert tokens.active_token(store, body["access_token"]) is not None
    accepted = client.post("/auth/revoke", data={"token": body["access_token"]},
                           headers=basic(app.client_id, app.client_secret))
    assert accepted.status_code == 200
    assert tokens.active_token(store, body["access_token"]) is None


def test_an_unauthenticated_request_is_401(client, issued):
    _, second = issued
    response = client.post("/auth/revoke", data={"token": second["access_token"]})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_the_token_parameter_is_required(client, app_client):
    response = client.post("/auth/revoke", data={"client_id": app_client.client_id})
    assert response.status_code == 400
    assert response.json == {"error": "invalid_request", "error_description": "token is required"}


def test_revocation_needs_a_form_body(client, app_client):
    response = client.post("/auth/revoke", json={"token": "x", "client_id": app_client.client_id})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
