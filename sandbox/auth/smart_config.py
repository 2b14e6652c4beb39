"""Discovery: `.well-known/smart-configuration`, `.well-known/openid-configuration`, the CapabilityStatement's
security section and the `smart_style_url` document.

SMART App Launch 2.2 §Conformance (Metadata) — the server SHALL publish its endpoints and capabilities at
`[base]/.well-known/smart-configuration` as `application/json`, without authentication; browser apps read it
from any origin (CORS `*`, preflights answered).
Every URL comes from `endpoints(base_url)`, so the four documents agree: the JS client reads the
smart-configuration, Python fhirclient only the CapabilityStatement's `oauth-uris` extension, OpenID Connect
relying parties the openid-configuration.

The routes live on their own blueprint, registered before the FHIR one: their paths are fully static, so they win
over the FHIR catch-all, and the FHIR blueprint's hooks (token check, content negotiation) never see them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, current_app, jsonify, request

from .id_tokens import issuer
from .keys import ALGORITHM as ID_TOKEN_ALGORITHM
from .registration import SIGNING_ALGORITHMS

blueprint = Blueprint("smart_config", __name__)

SMART_CONFIGURATION_PATH = "/fhir/.well-known/smart-configuration"
OPENID_CONFIGURATION_PATH = "/fhir/.well-known/openid-configuration"
STYLE_PATH = "/auth/smart-style.json"
READ_METHODS = ["GET", "HEAD"]
ALL_METHODS = [*READ_METHODS, "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type", "Access-Control-Max-Age": "600",
        "Cache-Control": "public, max-age=60"}

GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]  # public clients send none
SIGNING_ALGS = list(SIGNING_ALGORITHMS)  # RS384, ES384 (SMART's), RS256, ES256: what auth/assertions.py verifies
SCOPES = [
    "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access",
    "online_access",
    "patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds", "system/*.rs", "system/*.cruds",
    "patient/*.read", "patient/*.write", "patient/*.*", "user/*.read", "user/*.write", "user/*.*",
    "system/*.read", "system/*.write", "system/*.*",
]
CAPABILITIES = [
    "launch-ehr", "launch-standalone", "authorize-post",
    "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-passthrough-banner", "context-passthrough-style",
    "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient", "context-standalone-encounter",
    "permission-offline", "permission-online", "permission-patient", "permission-user", "permission-v1",
    "permission-v2",
]
ID_TOKEN_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "fhirUser", "name", "nonce"]  # auth/id_tokens.py
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
# oauth-uris sub-extension name → endpoint, in the order the SMART extension lists them.
OAUTH_URI_NAMES = {"authorize": "authorization_endpoint", "token": "token_endpoint",
                   "register": "registration_endpoint", "manage": "management_endpoint",
                   "introspect": "introspection_endpoint", "revoke": "revocation_endpoint"}


def endpoints(base_url: str) -> dict[str, str]:
    """Every URL the authorization server publishes, by metadata name: the one list all discovery documents use."""
    return {
        "issuer": issuer(base_url),  # the FHIR base URL, also the id_token `iss`
        "jwks_uri": f"{base_url}/auth/jwks",
        "authorization_endpoint": f"{base_url}/auth/authorize",
        "token_endpoint": f"{base_url}/auth/token",
        "registration_endpoint": f"{base_url}/auth/register",
        "management_endpoint": f"{base_url}/auth/manage",
        "introspection_endpoint": f"{base_url}/auth/introspect",
        "revocation_endpoint": f"{base_url}/auth/revoke",
    }


def style_url(base_url: str) -> str:
    """The `smart_style_url` launch context parameter (SMART App Launch 2.2 §Styling)."""
    return base_url + STYLE_PATH


def smart_configuration(base_url: str) -> dict:
    """SMART App Launch 2.2 §Metadata — the fields of `.well-known/smart-configuration`."""
    urls = endpoints(base_url)
    return {
        "issuer": urls["issuer"],  # CONDITIONAL: REQUIRED with sso-openid-connect
        "jwks_uri": urls["jwks_uri"],  # CONDITIONAL: REQUIRED with sso-openid-connect
        "authorization_endpoint": urls["authorization_endpoint"],  # CONDITIONAL: REQUIRED with launch-ehr/-standalone
        "grant_types_supported": GRANT_TYPES,  # REQUIRED
        "token_endpoint": urls["token_endpoint"],  # REQUIRED
        "token_endpoint_auth_methods_supported": AUTH_METHODS,  # OPTIONAL
        # CONDITIONAL: REQUIRED with client-confidential-asymmetric (SHALL include RS384 or ES384)
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "registration_endpoint": urls["registration_endpoint"],  # OPTIONAL
        "scopes_supported": SCOPES,  # RECOMMENDED
        "response_types_supported": ["code"],  # RECOMMENDED
        "management_endpoint": urls["management_endpoint"],  # RECOMMENDED
        "introspection_endpoint": urls["introspection_endpoint"],  # RECOMMENDED
        "revocation_endpoint": urls["revocation_endpoint"],  # RECOMMENDED
        "capabilities": CAPABILITIES,  # REQUIRED
        "code_challenge_methods_supported": ["S256"],  # REQUIRED: SHALL include S256, SHALL NOT include plain
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
    }


def openid_configuration(base_url: str) -> dict:
    """OpenID Connect Discovery 1.0 §3 — the provider metadata. §4.3: `issuer` is exactly the URL this document
    is fetched under minus `/.well-known/openid-configuration`, and the `iss` of every id_token."""
    urls = endpoints(base_url)
    return {
        "issuer": urls["issuer"],  # REQUIRED
        "authorization_endpoint": urls["authorization_endpoint"],  # REQUIRED
        "token_endpoint": urls["token_endpoint"],  # REQUIRED
        "jwks_uri": urls["jwks_uri"],  # REQUIRED
        "registration_endpoint": urls["registration_endpoint"],  # RECOMMENDED
        "scopes_supported": SCOPES,  # RECOMMENDED
        "response_types_supported": ["code"],  # REQUIRED
        "grant_types_supported": GRANT_TYPES,  # OPTIONAL
        "subject_types_supported": ["public"],  # REQUIRED
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALGORITHM],  # REQUIRED: RS256
        "token_endpoint_auth_methods_supported": AUTH_METHODS,  # OPTIONAL
        "claims_supported": ID_TOKEN_CLAIMS,  # RECOMMENDED
        "code_challenge_methods_supported": ["S256"],  # OPTIONAL (RFC 8414 §2)
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
    }


def capability_security(base_url: str) -> dict:
    """`rest[0].security` of the CapabilityStatement (the `fhir.capability_security` hook): the SMART-on-FHIR
    service and the `oauth-uris` extension (SMART App Launch 2.2 §Conformance) — only R4 elements, as strict
    clients (Python fhirclient) parse it."""
    urls = endpoints(base_url)
    return {
        "extension": [{
            "url": OAUTH_URIS,
            "extension": [{"url": name, "valueUri": urls[key]} for name, key in OAUTH_URI_NAMES.items()],
        }],
        "cors": True,
        "service": [{
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
        }],
        "description": "SMART App Launch 2.2: see .well-known/smart-configuration",
    }


# SMART App Launch 2.2 §Styling — the sandbox's own design tokens (static/css/tokens.css); the highlight colour
# follows the BRAND_ACCENT setting, whose default is the tokens' --primary.
FONT_STACK = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
SMART_STYLE = {
    "color_background": "#F5F7FA",  # --page
    "color_error": "#B42318",  # --critical
    "color_highlight": "#1D4E89",  # --primary
    "color_modal_backdrop": "rgba(31, 41, 51, 0.5)",  # --text at half opacity
    "color_success": "#067647",  # --success
    "color_text": "#1F2933",  # --text
    "dim_border_radius": "6px",  # --radius
    "dim_font_size": "14px",  # body font size
    "dim_spacing_size": "8px",  # table cell padding, the base spacing unit
    "font_family_body": FONT_STACK,  # --font
    "font_family_heading": FONT_STACK,
}


def smart_style(accent: str | None = None) -> dict:
    return {**SMART_STYLE, "color_highlight": accent or SMART_STYLE["color_highlight"]}


def _document(body: dict):
    """A public JSON document: CORS for any origin, preflights answered, no token (SMART App Launch 2.2 §CORS).
    Other methods get 405 here: left unrouted, a write to a path under /fhir would fall to the FHIR routes."""
    if request.method == "OPTIONS":
        return "", 204, CORS
    if request.method not in READ_METHODS:
        refusal = {"error": "method_not_allowed",
                   "error_description": f"{request.path} is a read-only discovery document: use GET"}
        return jsonify(refusal), 405, {**CORS, "Allow": ", ".join(READ_METHODS + ["OPTIONS"])}
    return jsonify(body), 200, CORS


@blueprint.route(SMART_CONFIGURATION_PATH, methods=ALL_METHODS)
def smart_configuration_document():
    return _document(_built(smart_configuration, current_app.config["BASE_URL"]))


@blueprint.route(OPENID_CONFIGURATION_PATH, methods=ALL_METHODS)
def openid_configuration_document():
    return _document(_built(openid_configuration, current_app.config["BASE_URL"]))


@functools.lru_cache(maxsize=16)
def _built(document: Callable[[str], dict], base_url: str) -> dict:
    """A discovery document depends on the base URL alone: built once per process (callers never change it)."""
    return document(base_url)


@blueprint.route(STYLE_PATH, methods=ALL_METHODS)
def smart_style_document():
    return _document(smart_style(current_app.config.get("BRAND_ACCENT")))
