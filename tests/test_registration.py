"""RFC 7591 dynamic registration at POST /auth/register, open to loopback callers, else behind the admin token."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sandbox.app import create_app
from sandbox.auth.admin import SECRET_NAME, is_loopback
from sandbox.auth.cli import admin_token as admin_token_cli
from sandbox.auth.clients import ClientRegistry
from sandbox.settings import load

PUBLIC_APP = {"client_name": "Growth Chart", "token_endpoint_auth_method": "none",
              "redirect_uris": ["http://localhost:3000/callback"], "scope": "launch openid fhirUser patient/*.rs"}
REMOTE = {"REMOTE_ADDR": "10.1.2.3"}


def assert_no_store(response):
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_a_public_app_registers_and_gets_its_metadata_back(client, store):
    response = client.post("/auth/register", json=PUBLIC_APP)
    assert response.status_code == 201
    assert_no_store(response)
    body = response.json
    assert set(body) == {"client_id", "client_id_issued_at", "client_name", "token_endpoint_auth_method",
                         "grant_types", "response_types", "redirect_uris", "scope", "pre_approved", "launch_mode"}
    assert body["redirect_uris"] == PUBLIC_APP["redirect_uris"]
    assert body["grant_types"] == ["authorization_code"] and body["response_types"] == ["code"]
    registered = ClientRegistry(store).get(body["client_id"])
    assert (registered.client_type, registered.origin, registered.created_at) == \
        ("public", "dynamic", body["client_id_issued_at"])


def test_a_confidential_app_gets_a_secret_that_never_expires(client, store):
    response = client.post("/auth/register", json={**PUBLIC_APP, "token_endpoint_auth_method": "client_secret_basic"})
    assert response.status_code == 201
    body = response.json
    assert body["client_secret_expires_at"] == 0
    assert ClientRegistry(store).get(body["client_id"]).check_secret(body["client_secret"])


def test_a_backend_service_registers_with_a_jwks_uri(client):
    response = client.post("/auth/register", json={
        "client_name": "Nightly export", "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials"], "jwks_uri": "https://backend.example.org/.well-known/jwks.json",
        "scope": "system/Patient.rs system/Observation.rs"})
    assert response.status_code == 201
    assert response.json["jwks_uri"] == "https://backend.example.org/.well-known/jwks.json"
    assert "client_secret" not in response.json and "redirect_uris" in response.json


@pytest.mark.parametrize(("metadata", "error", "description"), [
    ({**PUBLIC_APP, "redirect_uris": ["http://localhost:3000/cb#frag"]}, "invalid_redirect_uri",
     "redirect_uri 'http://localhost:3000/cb#frag' has a fragment, which RFC 6749 §3.1.2 forbids"),
    ({"token_endpoint_auth_method": "none"}, "invalid_redirect_uri",
     "redirect_uris is required for the authorization_code grant"),
    ({**PUBLIC_APP, "grant_types": ["implicit"]}, "invalid_client_metadata",
     "grant_types implicit not supported; use authorization_code, refresh_token, client_credentials"),
    ({**PUBLIC_APP, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata",
     "private_key_jwt needs the client's public keys: jwks_uri or jwks"),
    ({**PUBLIC_APP, "scope": "launch openid system/*.cruds"}, "invalid_client_metadata",
     "system/ scopes are for backend services (client_credentials with private_key_jwt), not apps a person "
     "authorizes; remove system/*.cruds"),
])
def test_invalid_metadata_gets_a_400_with_the_rfc_7591_error(client, store, metadata, error, description):
    response = client.post("/auth/register", json=metadata)
    assert response.status_code == 400
    assert response.json == {"error": error, "error_description": description}
    assert_no_store(response)
    assert ClientRegistry(store).list() == []


@pytest.mark.parametrize(("kwargs", "description"), [
    ({"data": "client_name=x", "content_type": "application/x-www-form-urlencoded"},
     "Send the client metadata as a JSON object with Content-Type: application/json (RFC 7591 §3.1)"),
    ({"data": '{"client_name": "x",', "content_type": "application/json"}, "The request body is not a JSON object"),
    ({"data": '["redirect_uris"]', "content_type": "application/json"}, "The request body is not a JSON object"),
    ({"data": "", "content_type": "application/json"}, "The request body is not a JSON object"),
    ({"data": b"\xff\xfe", "content_type": "application/json; charset=utf-8"}, "The request body is not a JSON object"),
])
def test_a_body_that_is_not_json_metadata_is_invalid_client_metadata_never_a_500(client, kwargs, description):
    response = client.post("/auth/register", **kwargs)
    assert response.status_code == 400
    assert response.json == {"error": "invalid_client_metadata", "error_description": description}


def test_registration_only_accepts_post(client):
    assert client.get("/auth/register").status_code == 405


# -- who may register ------------------------------------------------------------------------------------------

def test_a_caller_on_another_machine_without_the_admin_token_is_refused(client, store):
    response = client.post("/auth/register", json=PUBLIC_APP, environ_base=REMOTE)
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert "sandbox admin-token" in response.json["error_description"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="sandbox-admin"'
    assert ClientRegistry(store).list() == []


def test_a_wrong_admin_token_is_refused(client):
    response = client.post("/auth/register", json=PUBLIC_APP, environ_base=REMOTE,
                           headers={"Authorization": "Bearer not-the-token"})
    assert response.status_code == 401
    assert response.json == {"error": "invalid_token", "error_description": "The admin token is not valid."}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="sandbox-admin", error="invalid_token"'


def test_a_caller_on_another_machine_with_the_admin_token_registers(client, store):
    token = store.secret(SECRET_NAME)
    response = client.post("/auth/register", json=PUBLIC_APP, environ_base=REMOTE,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201


def test_the_admin_token_setting_replaces_the_generated_one(tmp_path):
    app = create_app({"DB": str(tmp_path / "t.sqlite"), "BASE_URL": "http://localhost", "ANCHOR_DATE": "2026-06-01",
                      "ADMIN_TOKEN": "let-me-in", "TESTING": True})
    client = app.test_client()
    generated = app.extensions["store"].secret(SECRET_NAME)
    assert client.post("/auth/register", json=PUBLIC_APP, environ_base=REMOTE,
                       headers={"Authorization": f"Bearer {generated}"}).status_code == 401
    assert client.post("/auth/register", json=PUBLIC_APP, environ_base=REMOTE,
                       headers={"Authorization": "Bearer let-me-in"}).status_code == 201


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-token"}])
def test_pre_approval_needs_the_admin_token_even_from_this_machine(client, store, headers):
    response = client.post("/auth/register", json={**PUBLIC_APP, "pre_approved": True}, headers=headers)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_client_metadata"
    assert "pre_approved (skip consent) is the sandbox administrator's decision" in response.json["error_description"]
    assert ClientRegistry(store).list() == []


def test_the_admin_token_pre_approves_and_asking_for_consent_needs_no_token(client, store):
    token = store.secret(SECRET_NAME)
    approved = client.post("/auth/register", json={**PUBLIC_APP, "pre_approved": True},
                           headers={"Authorization": f"Bearer {token}"})
    asks = client.post("/auth/register", json={**PUBLIC_APP, "pre_approved": False})
    assert (approved.status_code, approved.json["pre_approved"]) == (201, True)
    assert (asks.status_code, asks.json["pre_approved"]) == (201, False)
    assert ClientRegistry(store).get(approved.json["client_id"]).owner == "admin"  # RFC 7591 apps: the administrator's


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_callers_need_no_token(client, address):
    response = client.post("/auth/register", json=PUBLIC_APP, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 201


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded"])
def test_a_request_relayed_by_a_local_proxy_is_not_local(client, header):
    response = client.post("/auth/register", json=PUBLIC_APP, headers={header: "for=203.0.113.9"})
    assert response.status_code == 401


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.2", True), ("10.1.2.3", False), ("192.168.1.10", False),
    ("::ffff:10.0.0.1", False), ("", False), (None, False), ("localhost", False),
])
def test_is_loopback(address, loopback):
    assert is_loopback(address) is loopback


def test_cli_prints_the_admin_token_in_use(tmp_path, store):
    values = load({"DB": store.path}, environ={})
    result = CliRunner().invoke(admin_token_cli, [], obj=values)
    assert (result.exit_code, result.output) == (0, store.secret(SECRET_NAME) + "\n")
    explicit = load({"DB": store.path}, environ={"SANDBOX_ADMIN_TOKEN": "from-the-environment"})
    assert CliRunner().invoke(admin_token_cli, [], obj=explicit).output == "from-the-environment\n"
