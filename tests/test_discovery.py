"""Discovery documents (SMART App Launch 2.2 §Conformance, §Styling; OpenID Connect Discovery 1.0 §3):
smart-configuration, openid-configuration, the CapabilityStatement's oauth-uris and the smart_style_url document,
all built from BASE_URL, public, CORS-enabled and consistent with each other."""

from __future__ import annotations

import base64
import json
import re

import pytest
import requests
from conftest import ANCHOR_DATE, ROOT, with_test_token
from fhirclient import client as fhirclient
from fhirclient.auth import FHIROAuth2Auth
from fhirclient.models.capabilitystatement import CapabilityStatement

from sandbox.app import create_app
from sandbox.auth.id_tokens import make_id_token
from sandbox.auth.keys import SigningKeys
from sandbox.auth.smart_config import capability_security, endpoints, style_url

BASE = "http://sandbox.example:9000"
SMART = "/fhir/.well-known/smart-configuration"
OPENID = "/fhir/.well-known/openid-configuration"
STYLE = "/auth/smart-style.json"
DOCUMENTS = [SMART, OPENID, STYLE]
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

SCOPES = ["openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access",
          "online_access", "patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds", "system/*.rs",
          "system/*.cruds", "patient/*.read", "patient/*.write", "patient/*.*", "user/*.read", "user/*.write",
          "user/*.*", "system/*.read", "system/*.write", "system/*.*"]
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]


@pytest.fixture
def elsewhere_app(tmp_path):
    return with_test_token(create_app({"DB": str(tmp_path / "d.sqlite"), "BASE_URL": BASE,
                                       "ANCHOR_DATE": ANCHOR_DATE}))


@pytest.fixture
def elsewhere(elsewhere_app):
    return elsewhere_app.test_client()


def get(client, path, **headers):
    return client.get(path, base_url=BASE, headers={"Authorization": "", **headers})  # no token


def test_smart_configuration_has_every_field_built_from_base_url(elsewhere):
    response = get(elsewhere, SMART)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json == {
        "issuer": f"{BASE}/fhir",
        "jwks_uri": f"{BASE}/auth/jwks",
        "authorization_endpoint": f"{BASE}/auth/authorize",
        "grant_types_supported": GRANT_TYPES,
        "token_endpoint": f"{BASE}/auth/token",
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384", "RS256", "ES256"],
        "registration_endpoint": f"{BASE}/auth/register",
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "management_endpoint": f"{BASE}/auth/manage",
        "introspection_endpoint": f"{BASE}/auth/introspect",
        "revocation_endpoint": f"{BASE}/auth/revoke",
        "capabilities": [
            "launch-ehr", "launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric",
            "client-confidential-asymmetric", "sso-openid-connect", "context-passthrough-banner",
            "context-passthrough-style", "context-ehr-patient", "context-ehr-encounter",
            "context-standalone-patient", "context-standalone-encounter", "permission-offline",
            "permission-online", "permission-patient", "permission-user", "permission-v1", "permission-v2"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
    }


def test_openid_configuration_has_every_field_and_the_same_issuer(elsewhere):
    smart = get(elsewhere, SMART).json
    response = get(elsewhere, OPENID)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json == {
        "issuer": f"{BASE}/fhir",
        "authorization_endpoint": f"{BASE}/auth/authorize",
        "token_endpoint": f"{BASE}/auth/token",
        "jwks_uri": f"{BASE}/auth/jwks",
        "registration_endpoint": f"{BASE}/auth/register",
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "grant_types_supported": GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "fhirUser", "name", "nonce"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
    }
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint",
                "scopes_supported", "grant_types_supported", "token_endpoint_auth_methods_supported",
                "code_challenge_methods_supported", "response_types_supported"):
        assert response.json[key] == smart[key], key
    # OpenID Connect Discovery §4.3: the issuer is the URL the document was fetched under, minus the suffix
    assert response.json["issuer"] + "/.well-known/openid-configuration" == BASE + OPENID


def test_the_issuer_is_the_iss_of_the_id_tokens(elsewhere_app, elsewhere):
    openid = get(elsewhere, OPENID).json
    keys = SigningKeys(elsewhere_app.extensions["store"])
    id_token = make_id_token(elsewhere_app.extensions["store"], elsewhere_app.config, "an-app", "someone",
                             "openid fhirUser")
    assert keys.verify(id_token)["iss"] == openid["issuer"]
    header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
    assert [header["alg"]] == openid["id_token_signing_alg_values_supported"]
    assert get(elsewhere, "/auth/jwks").json["keys"][0]["kid"] == keys.current_kid()


@pytest.mark.parametrize("path", DOCUMENTS)
@pytest.mark.parametrize("authorization", ["", "Bearer not-a-token", "Basic Zm9vOmJhcg=="])
def test_documents_need_no_token(elsewhere, path, authorization):
    response = elsewhere.get(path, base_url=BASE, headers={"Authorization": authorization})
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("path", DOCUMENTS)
@pytest.mark.parametrize("accept", ["application/fhir+xml", "application/xml", "text/html", "*/*",
                                    "application/fhir+json"])
def test_fhir_content_negotiation_does_not_apply(elsewhere, path, accept):
    """The FHIR blueprint refuses XML with 406; discovery documents are plain JSON whatever is asked for."""
    response = get(elsewhere, path, Accept=accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("path, endpoint", [(SMART, "smart_config.smart_configuration_document"),
                                            (OPENID, "smart_config.openid_configuration_document"),
                                            (STYLE, "smart_config.smart_style_document")])
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_routes_win_over_the_fhir_catch_all(elsewhere_app, path, endpoint, method):
    adapter = elsewhere_app.url_map.bind("sandbox.example:9000")
    assert adapter.match(path, method=method)[0] == endpoint
    assert adapter.match("/fhir/.well-known/unknown", method="GET")[0].startswith("fhir.")  # the catch-all


@pytest.mark.parametrize("path", [SMART, OPENID])
def test_a_different_path_under_well_known_is_a_fhir_404_without_a_token(elsewhere, path):
    response = get(elsewhere, path + "-nope")
    assert response.status_code == 404 and response.json["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("path", DOCUMENTS)
def test_documents_answer_cors_preflights(elsewhere, path):
    response = elsewhere.options(path, base_url=BASE, headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("path", DOCUMENTS)
def test_head_has_the_headers_and_no_body(elsewhere, path):
    response = elsewhere.head(path, base_url=BASE)
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("path", DOCUMENTS)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_documents_are_read_only(elsewhere, path, method):
    """Not swallowed by the FHIR routes (`/fhir/<rtype>/<rid>` would take a POST): a 405 of their own."""
    response = elsewhere.open(path, method=method, base_url=BASE, json={})
    assert response.status_code == 405
    assert response.json["error"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_every_advertised_endpoint_exists(client):
    config = client.get(SMART).json
    for key in ("jwks_uri", "authorization_endpoint", "management_endpoint"):
        assert client.get(config[key].removeprefix("http://localhost")).status_code in (200, 302, 400), key
    for key in ("token_endpoint", "introspection_endpoint", "revocation_endpoint", "registration_endpoint"):
        assert client.post(config[key].removeprefix("http://localhost")).status_code in (400, 401), key
    assert client.get(config["issuer"].removeprefix("http://localhost") + "/metadata").status_code == 200


def oauth_uris(security) -> dict[str, str]:
    extension = next(e for e in security.extension if e.url == OAUTH_URIS)
    return {e.url: e.valueUri for e in extension.extension}


def test_capability_statement_security_parses_with_fhirclient_and_agrees(elsewhere):
    smart = get(elsewhere, SMART).json
    statement = get(elsewhere, "/fhir/metadata").json
    security = CapabilityStatement(statement).rest[0].security  # strict R4 models: unknown keys raise
    assert security.cors is True
    assert [(c.system, c.code) for c in security.service[0].coding] == [
        ("http://terminology.hl7.org/CodeSystem/restful-security-service", "SMART-on-FHIR")]
    assert security.service[0].text == "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"
    assert oauth_uris(security) == {
        "authorize": smart["authorization_endpoint"], "token": smart["token_endpoint"],
        "register": smart["registration_endpoint"], "manage": smart["management_endpoint"],
        "introspect": smart["introspection_endpoint"], "revoke": smart["revocation_endpoint"]}
    assert statement["rest"][0]["security"] == capability_security(BASE)


def test_one_list_of_endpoints_feeds_every_document(elsewhere):
    urls = endpoints(BASE)
    smart = get(elsewhere, SMART).json
    openid = get(elsewhere, OPENID).json
    assert {key: smart[key] for key in urls} == urls
    assert all(openid[key] == urls[key] for key in openid if key in urls)


def test_fhirclient_prepare_discovers_the_oauth_endpoints(live_server):
    smart = fhirclient.FHIRClient(settings={"app_id": "sandbox-tests", "api_base": f"{live_server}/fhir"})
    smart.prepare()  # GET /metadata without a token
    assert isinstance(smart.server.auth, FHIROAuth2Auth)
    state = smart.server.auth.state
    assert state["authorize_uri"] == f"{live_server}/auth/authorize"
    assert state["token_uri"] == f"{live_server}/auth/token"
    assert state["registration_uri"] == f"{live_server}/auth/register"


def test_discovery_over_real_http(live_server):
    origin = {"Origin": "http://app.example", "Accept": "application/json"}
    smart = requests.get(f"{live_server}{SMART}", headers=origin, timeout=10)
    assert smart.status_code == 200 and smart.headers["Access-Control-Allow-Origin"] == "*"
    assert smart.headers["Content-Type"].startswith("application/json")
    assert smart.json()["issuer"] == f"{live_server}/fhir"
    openid = requests.get(f"{live_server}{OPENID}", headers=origin, timeout=10).json()
    assert openid["issuer"] == smart.json()["issuer"]
    preflight = requests.options(f"{live_server}{SMART}", timeout=10, headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"


def design_tokens() -> dict[str, str]:
    css = (ROOT / "static" / "css" / "tokens.css").read_text()
    root = css[css.index(":root {"):css.index("}")]
    return dict(re.findall(r"--([\w-]+):\s*([^;]+);", root))


def test_smart_style_document_follows_the_design_tokens(elsewhere):
    response = get(elsewhere, STYLE)
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    tokens = design_tokens()
    assert response.json == {
        "color_background": tokens["page"],
        "color_error": tokens["critical"],
        "color_highlight": tokens["primary"],
        "color_modal_backdrop": "rgba(31, 41, 51, 0.5)",
        "color_success": tokens["success"],
        "color_text": tokens["text"],
        "dim_border_radius": tokens["radius"],
        "dim_font_size": "14px",
        "dim_spacing_size": "8px",
        "font_family_body": tokens["font"],
        "font_family_heading": tokens["font"],
    }
    assert response.json["color_highlight"] == "#1D4E89"
    assert response.json["color_background"] == "#F5F7FA" and response.json["color_text"] == "#1F2933"


def test_style_url_is_built_from_base_url(elsewhere):
    assert style_url(BASE) == f"{BASE}/auth/smart-style.json"
    assert get(elsewhere, style_url(BASE).removeprefix(BASE)).status_code == 200
