"""Discovery documents: smart-configuration, openid-configuration, the CapabilityStatement's oauth-uris and the
smart_style_url document, all built from BASE_URL and consistent with each other."""

from __future__ import annotations

import pytest
from conftest import ANCHOR_DATE, with_test_token
from fhirclient.models.capabilitystatement import CapabilityStatement

from sandbox.app import create_app

BASE = "http://sandbox.example:9000"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


@pytest.fixture
def elsewhere(tmp_path):
    app = with_test_token(create_app({"DB": str(tmp_path / "d.sqlite"), "BASE_URL": BASE,
                                      "ANCHOR_DATE": ANCHOR_DATE}))
    return app.test_client()


def get(client, path):
    return client.get(path, base_url=BASE, headers={"Authorization": ""})  # no token needed


def test_smart_configuration_has_every_field(elsewhere):
    response = get(elsewhere, "/fhir/.well-known/smart-configuration")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    config = response.json
    assert config["issuer"] == f"{BASE}/fhir"
    assert config["jwks_uri"] == f"{BASE}/auth/jwks"
    assert config["authorization_endpoint"] == f"{BASE}/auth/authorize"
    assert config["token_endpoint"] == f"{BASE}/auth/token"
    assert config["registration_endpoint"] == f"{BASE}/auth/register"
    assert config["management_endpoint"] == f"{BASE}/auth/manage"
    assert config["introspection_endpoint"] == f"{BASE}/auth/introspect"
    assert config["revocation_endpoint"] == f"{BASE}/auth/revoke"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert config["response_types_supported"] == ["code"]
    assert {"RS384", "ES384"} <= set(config["token_endpoint_auth_signing_alg_values_supported"])
    assert {"private_key_jwt", "client_secret_basic"} <= set(config["token_endpoint_auth_methods_supported"])
    assert {"launch-ehr", "launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric",
            "client-confidential-asymmetric", "sso-openid-connect", "context-ehr-patient", "context-ehr-encounter",
            "context-standalone-patient", "permission-v1", "permission-v2", "permission-offline",
            "permission-online"} <= set(config["capabilities"])
    assert {"openid", "fhirUser", "launch/patient", "patient/*.rs", "system/*.rs"} <= set(config["scopes_supported"])


def test_every_advertised_endpoint_exists(client):
    config = client.get("/fhir/.well-known/smart-configuration").json
    for key in ("jwks_uri", "authorization_endpoint", "management_endpoint"):
        assert client.get(config[key].removeprefix("http://localhost")).status_code in (200, 302, 400), key
    for key in ("token_endpoint", "introspection_endpoint", "revocation_endpoint", "registration_endpoint"):
        assert client.post(config[key].removeprefix("http://localhost")).status_code in (400, 401), key


def test_openid_configuration_agrees_with_smart_configuration(elsewhere):
    smart = get(elsewhere, "/fhir/.well-known/smart-configuration").json
    openid = get(elsewhere, "/fhir/.well-known/openid-configuration").json
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        assert openid[key] == smart[key]
    assert openid["id_token_signing_alg_values_supported"] == ["RS256"]
    assert openid["subject_types_supported"] == ["public"]


def test_discovery_answers_cors_preflights(elsewhere):
    response = elsewhere.options("/fhir/.well-known/smart-configuration", base_url=BASE,
                                 headers={"Origin": "http://app.example", "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204 and response.headers["Access-Control-Allow-Origin"] == "*"


def test_capability_statement_carries_the_same_oauth_uris_and_parses_with_fhirclient(elsewhere):
    smart = get(elsewhere, "/fhir/.well-known/smart-configuration").json
    statement = get(elsewhere, "/fhir/metadata").json
    parsed = CapabilityStatement(statement)  # strict R4 models: unknown keys raise
    security = parsed.rest[0].security
    assert security.service[0].coding[0].code == "SMART-on-FHIR"
    uris = {e.url: e.valueUri for e in next(x for x in security.extension if x.url == OAUTH_URIS).extension}
    assert uris == {"authorize": smart["authorization_endpoint"], "token": smart["token_endpoint"],
                    "register": smart["registration_endpoint"], "manage": smart["management_endpoint"],
                    "introspect": smart["introspection_endpoint"], "revoke": smart["revocation_endpoint"]}


def test_smart_style_document_is_served_without_a_token(elsewhere):
    style = get(elsewhere, "/auth/smart-style.json")
    assert style.status_code == 200 and style.headers["Access-Control-Allow-Origin"] == "*"
    assert style.json["color_highlight"] == "#1D4E89"
    assert set(style.json) >= {"color_background", "color_error", "color_text", "font_family_body", "dim_font_size"}
