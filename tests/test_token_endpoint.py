"""POST /auth/token with the authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6, SMART App Launch 2.2
§Obtain access token), and the rules every token response follows."""

from __future__ import annotations

import re
import time

import pytest
from oauth_support import (
    REDIRECT_URI,
    basic,
    clinician,
    code_form,
    confidential_app,
    exchange,
    issue,
    new_verifier,
    public_app,
)

from sandbox.auth import audit, tokens
from sandbox.auth.codes import digest
from sandbox.auth.keys import SigningKeys
from sandbox.auth.pkce import s256

URL_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
FULL_CONTEXT = {"patient": "pat-1", "encounter": "enc-1", "need_patient_banner": True,
                "smart_style_url": "http://localhost/smart-style.json", "intent": "reconcile-medications",
                "tenant": "clinic-a",
                "fhirContext": [{"reference": "Appointment/apt-1"}, {"reference": "DiagnosticReport/dr-1",
                                                                     "role": "https://example.org/role"}]}


def assert_no_store(response):
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def assert_error(response, status, error, description=None):
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    if description is not None:
        assert response.json["error_description"] == description
    assert_no_store(response)


@pytest.fixture
def app_client(store):
    return public_app(store)


@pytest.fixture
def user(store):
    return clinician(store)


# -- success -----------------------------------------------------------------------------------------------


def test_the_code_is_exchanged_for_tokens_with_id_token_and_launch_context(client, store, app_client, user):
    response = exchange(client, store, app_client, user_id=user.id, context=FULL_CONTEXT, nonce="n-0S6_WzA2Mj",
                        launch_id="launch-1")
    assert response.status_code == 200
    assert_no_store(response)
    body = response.json
    assert list(body) == ["access_token", "token_type", "expires_in", "scope", "refresh_token", "id_token",
                          "patient", "encounter", "fhirContext", "need_patient_banner", "smart_style_url", "intent",
                          "tenant"]
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["scope"] == "openid fhirUser profile launch launch/patient online_access offline_access " \
                            "patient/*.rs user/*.rs"
    assert URL_SAFE_TOKEN.fullmatch(body["access_token"]) and URL_SAFE_TOKEN.fullmatch(body["refresh_token"])
    assert {k: body[k] for k in FULL_CONTEXT} == FULL_CONTEXT
    claims = SigningKeys(store).verify(body["id_token"])
    assert claims == {"iss": "http://localhost/fhir", "sub": "alice.smith", "aud": app_client.client_id,
                      "iat": claims["iat"], "exp": claims["iat"] + 3600,
                      "fhirUser": "http://localhost/fhir/Practitioner/prac-1", "name": "Dr. Alice Smith",
                      "nonce": "n-0S6_WzA2Mj"}
    assert abs(claims["iat"] - time.time()) < 5


def test_fhir_context_references_given_as_strings_become_objects(client, store, app_client):
    body = exchange(client, store, app_client, context={"fhirContext": ["Appointment/apt-1",
                                                                         {"canonical": "http://x.org/Q|1"}]}).json
    assert body["fhirContext"] == [{"reference": "Appointment/apt-1"}, {"canonical": "http://x.org/Q|1"}]


def test_the_id_token_header_names_the_signing_key(client, store, app_client, user):
    from joserfc import jws

    body = exchange(client, store, app_client, user_id=user.id).json
    header = jws.extract_compact(body["id_token"].encode()).headers()
    assert header == {"alg": "RS256", "kid": SigningKeys(store).current_kid(), "typ": "JWT"}


def test_only_hashes_of_tokens_are_stored(client, store, app_client, user):
    body = exchange(client, store, app_client, user_id=user.id).json
    rows = store.conn.execute("SELECT token_hash, kind FROM tokens WHERE client_id = ? ORDER BY kind",
                              (app_client.client_id,)).fetchall()
    assert rows == [(digest(body["access_token"]), "access"), (digest(body["refresh_token"]), "refresh")]


def test_the_access_token_is_active_with_its_grant(client, store, app_client, user):
    body = exchange(client, store, app_client, user_id=user.id, context={"patient": "pat-1"}).json
    info = tokens.active_token(store, body["access_token"])
    assert (info.client_id, info.user_id, info.scope, info.context) == \
        (app_client.client_id, "alice.smith", body["scope"], {"patient": "pat-1"})
    assert info.expires_at - info.issued_at == 3600
    assert tokens.active_token(store, body["refresh_token"]) is None  # a refresh token is no bearer token


@pytest.mark.parametrize(("scope", "fields"), [
    ("launch patient/*.rs", {"access_token", "token_type", "expires_in", "scope"}),
    ("openid patient/*.rs", {"access_token", "token_type", "expires_in", "scope"}),
    ("openid fhirUser patient/*.rs", {"access_token", "token_type", "expires_in", "scope", "id_token"}),
    ("openid profile patient/*.rs", {"access_token", "token_type", "expires_in", "scope", "id_token"}),
    ("online_access patient/*.rs", {"access_token", "token_type", "expires_in", "scope", "refresh_token"}),
])
def test_refresh_and_id_tokens_only_when_their_scopes_are_granted(client, store, app_client, user, scope, fields):
    body = exchange(client, store, app_client, scope=scope, user_id=user.id).json
    assert set(body) == fields
    assert body["scope"] == scope


def test_no_id_token_without_a_user(client, store, app_client):
    body = exchange(client, store, app_client, scope="openid fhirUser patient/*.rs").json
    assert "id_token" not in body


def test_a_v1_grant_is_answered_in_v1_and_granular_scopes_verbatim(client, store, app_client):
    scope = "patient/Observation.read patient/Condition.rs?category=problem-list-item"
    assert exchange(client, store, app_client, scope=scope).json["scope"] == scope


def test_no_refresh_token_for_a_client_not_registered_for_the_refresh_grant(client, store):
    app = public_app(store, grant_types=["authorization_code"])
    body = exchange(client, store, app, scope="offline_access patient/*.rs").json
    assert "refresh_token" not in body


def test_a_confidential_client_exchanges_with_basic(client, store, user):
    app = confidential_app(store)
    response = exchange(client, store, app, user_id=user.id)
    assert response.status_code == 200
    assert "id_token" in response.json


def test_issuance_is_audited(client, store, app_client, user):
    body = exchange(client, store, app_client, user_id=user.id, launch_id="launch-7").json
    event = audit.recent(store, event="token.issued")[0]
    assert (event.outcome, event.client_id, event.user_id, event.launch_id, event.rule) == \
        ("success", app_client.client_id, "alice.smith", "launch-7", "Authorization code exchanged for tokens")
    assert event.detail["scope"] == body["scope"] and event.detail["grant_type"] == "authorization_code"


# -- refusals ------------------------------------------------------------------------------------------------


@pytest.fixture
def good(store, app_client):
    """A fresh code, its verifier and the form that would exchange it."""
    verifier = new_verifier()
    code = issue(store, app_client, verifier)
    return code, verifier, code_form(code, verifier, app_client.client_id)


@pytest.mark.parametrize(("change", "status", "error", "description"), [
    ({"grant_type": None}, 400, "invalid_request", "grant_type is required"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type",
     "grant_type 'password' is not supported; use one of authorization_code, refresh_token, client_credentials"),
    ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}, 400, "unsupported_grant_type", None),
    ({"code": None}, 400, "invalid_request", "code is required"),
    ({"redirect_uri": None}, 400, "invalid_request", "redirect_uri is required"),
    ({"code": "not-a-code"}, 400, "invalid_grant", "The authorization code is not known"),
    ({"redirect_uri": REDIRECT_URI + "/other"}, 400, "invalid_grant",
     "redirect_uri differs from the one of the authorization request; it must be identical (RFC 6749 §4.1.3)"),
    ({"client_id": None}, 401, "invalid_client", None),
    ({"client_id": "unknown-app"}, 401, "invalid_client", "Unknown client_id 'unknown-app': register the app first"),
])
def test_bad_token_requests_get_rfc_6749_errors(client, good, change, status, error, description):
    form = {k: v for k, v in {**good[2], **change}.items() if v is not None}
    assert_error(client.post("/auth/token", data=form), status, error, description)


@pytest.mark.parametrize(("verifier", "description"), [
    (None, "code_verifier is required"),
    ("", "code_verifier is required"),
    ("   ", "code_verifier is required"),
    ("too-short", "code_verifier must be 43 to 128 characters"),
    ("a" * 129, "code_verifier must be 43 to 128 characters"),
    ("a" * 42 + "!", "code_verifier must be 43 to 128 characters"),
    ("a" * 50 + "\n", "code_verifier must be 43 to 128 characters"),
    ("wrong-" * 12, "code_verifier does not match the code_challenge"),
    ("CHALLENGE", "code_verifier equals the code_challenge: that is PKCE 'plain'"),
])
def test_pkce_verifier_missing_blank_malformed_wrong_or_plain_is_invalid_grant(client, good, verifier, description):
    code, real, form = good
    form = {k: v for k, v in form.items() if k != "code_verifier"}
    if verifier is not None:
        form["code_verifier"] = s256(real) if verifier == "CHALLENGE" else verifier
    response = client.post("/auth/token", data=form)
    assert_error(response, 400, "invalid_grant")
    assert response.json["error_description"].startswith(description)


def test_pkce_is_required_of_confidential_clients_too(client, store):
    app = confidential_app(store)
    verifier = new_verifier()
    code = issue(store, app, verifier)
    response = client.post("/auth/token", data=code_form(code, None), headers=basic(app.client_id, app.client_secret))
    assert_error(response, 400, "invalid_grant")


def test_an_expired_code_is_invalid_grant(client, store, app_client):
    verifier = new_verifier()
    code = issue(store, app_client, verifier, lifetime=0)
    response = client.post("/auth/token", data=code_form(code, verifier, app_client.client_id))
    assert_error(response, 400, "invalid_grant", "The authorization code has expired")


def test_a_code_of_another_client_is_invalid_grant(client, store, app_client):
    other = public_app(store)
    verifier = new_verifier()
    code = issue(store, app_client, verifier)
    response = client.post("/auth/token", data=code_form(code, verifier, other.client_id))
    assert_error(response, 400, "invalid_grant",
                 "The authorization code was issued to another client (RFC 6749 §4.1.3)")


def test_a_reused_code_is_refused_and_revokes_the_tokens_it_issued(client, store, app_client, user):
    verifier = new_verifier()
    code = issue(store, app_client, verifier)
    form = code_form(code, verifier, app_client.client_id)
    first = client.post("/auth/token", data=form).json
    second = client.post("/auth/token", data=form)
    assert_error(second, 400, "invalid_grant", "The authorization code was already used; the tokens issued with it "
                                               "are now revoked (RFC 6749 §4.1.2)")
    assert tokens.active_token(store, first["access_token"]) is None
    assert tokens.find(store, first["refresh_token"]).revoked_at is not None
    refreshed = client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": app_client.client_id,
                                                  "refresh_token": first["refresh_token"]})
    assert_error(refreshed, 400, "invalid_grant")
    reused = audit.recent(store, event="code.reused")[0]
    assert (reused.outcome, reused.client_id, reused.detail["revoked"]) == ("failure", app_client.client_id, 2)


def test_a_client_not_registered_for_a_grant_is_unauthorized_client(client, store):
    app = public_app(store, grant_types=["authorization_code"])
    response = client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "x",
                                                 "client_id": app.client_id})
    assert_error(response, 400, "unauthorized_client", f"Client {app.client_id} is not registered for the "
                                                       "refresh_token grant (its grant_types: authorization_code)")


def test_refusals_are_audited_with_the_rule(client, good, store, app_client):
    form = {**good[2], "code_verifier": "wrong-" * 12}
    client.post("/auth/token", data=form)
    event = audit.recent(store, event="token.refused")[0]
    assert (event.outcome, event.client_id, event.detail["error"], event.detail["grant_type"]) == \
        ("failure", app_client.client_id, "invalid_grant", "authorization_code")
    assert event.rule.startswith("code_verifier does not match the code_challenge")


# -- the shape of requests and answers -------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {"json": {"grant_type": "authorization_code"}},
    {"data": b"\xff\xfe\x00", "content_type": "application/octet-stream"},
    {"data": "grant_type=authorization_code", "content_type": "text/plain"},
])
def test_a_body_that_is_not_a_form_is_invalid_request(client, kwargs):
    response = client.post("/auth/token", **kwargs)
    assert_error(response, 400, "invalid_request", "Send the parameters form-encoded, with Content-Type: "
                                                   "application/x-www-form-urlencoded (RFC 6749 §4.1.3)")


def test_a_request_without_a_body_has_no_parameters(client):
    assert_error(client.post("/auth/token"), 400, "invalid_request", "grant_type is required")


@pytest.mark.parametrize(("body", "status", "error"), [
    ("grant_type=authorization_code&grant_type=authorization_code", 400, "invalid_request"),
    ("%ff%fe=%00&grant_type=%ff", 400, "unsupported_grant_type"),
    ("grant_type=authorization_code&code=%00&redirect_uri=%zz&code_verifier=" + "x" * 5000, 401, "invalid_client"),
    ("grant_type=authorization_code&client_id=%00&code=%00&redirect_uri=%zz", 401, "invalid_client"),
    ("&&&=&==", 400, "invalid_request"),
])
def test_malformed_forms_get_an_oauth_error_never_a_500(client, body, status, error):
    response = client.post("/auth/token", data=body, content_type="application/x-www-form-urlencoded")
    assert_error(response, status, error)


def test_a_repeated_parameter_is_invalid_request(client, good):
    body = "&".join(f"{k}={v}" for k, v in good[2].items()) + "&code=again"
    response = client.post("/auth/token", data=body, content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, "invalid_request", "code is given more than once (RFC 6749 §3.2)")


@pytest.mark.parametrize("path", ["/auth/token", "/auth/introspect", "/auth/revoke"])
def test_cors_preflight_is_answered(client, path):
    response = client.options(path, headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"POST", "OPTIONS"}
    assert set(response.headers["Access-Control-Allow-Headers"].split(", ")) == {"Authorization", "Content-Type"}


def test_token_answers_carry_cors_and_no_store_headers(client, store, app_client):
    for response in (exchange(client, store, app_client), client.post("/auth/token", data={"grant_type": "x"})):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert_no_store(response)


def test_the_token_endpoint_only_accepts_post(client):
    assert client.get("/auth/token").status_code == 405
