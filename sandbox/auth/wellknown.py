"""Discovery: `.well-known/smart-configuration`, `.well-known/openid-configuration`, the CapabilityStatement's
security section, and the `smart_style_url` document (SMART App Launch 2.2 §Conformance, §Styling; OpenID
Connect Discovery 1.0 §3). All of them come from one list of endpoint URLs built from BASE_URL, so they
always agree; JS clients read the first, Python fhirclient only the CapabilityStatement.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

blueprint = Blueprint("wellknown", __name__)

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type", "Cache-Control": "public, max-age=60"}

GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]  # public clients send none
SIGNING_ALGS = ["RS384", "ES384", "RS256", "ES256"]
SCOPES = ["openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access",
          "online_access", "patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds", "system/*.rs",
          "system/*.cruds", "patient/*.read", "patient/*.write", "patient/*.*", "user/*.read", "user/*.write",
          "user/*.*", "system/*.read", "system/*.write", "system/*.*"]
CAPABILITIES = [
    "launch-ehr", "launch-standalone", "authorize-post",
    "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-passthrough-banner", "context-passthrough-style",
    "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient", "context-standalone-encounter",
    "permission-offline", "permission-online", "permission-patient", "permission-user", "permission-v1",
    "permission-v2",
]


def endpoints(base_url: str) -> dict[str, str]:
    """Every URL the authorization server publishes, by role."""
    return {
        "issuer": f"{base_url}/fhir",
        "jwks_uri": f"{base_url}/auth/jwks",
        "authorization_endpoint": f"{base_url}/auth/authorize",
        "token_endpoint": f"{base_url}/auth/token",
        "registration_endpoint": f"{base_url}/auth/register",
        "management_endpoint": f"{base_url}/auth/manage",
        "introspection_endpoint": f"{base_url}/auth/introspect",
        "revocation_endpoint": f"{base_url}/auth/revoke",
    }


def smart_configuration(base_url: str) -> dict:
    urls = endpoints(base_url)
    return {
        "issuer": urls["issuer"],  # REQUIRED when sso-openid-connect is offered
        "jwks_uri": urls["jwks_uri"],  # REQUIRED for sso-openid-connect
        "authorization_endpoint": urls["authorization_endpoint"],  # REQUIRED
        "grant_types_supported": GRANT_TYPES,  # REQUIRED
        "token_endpoint": urls["token_endpoint"],  # REQUIRED
        "token_endpoint_auth_methods_supported": AUTH_METHODS,  # OPTIONAL
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,  # REQUIRED for asymmetric clients
        "registration_endpoint": urls["registration_endpoint"],  # OPTIONAL
        "scopes_supported": SCOPES,  # RECOMMENDED
        "response_types_supported": ["code"],  # RECOMMENDED
        "management_endpoint": urls["management_endpoint"],  # RECOMMENDED
        "introspection_endpoint": urls["introspection_endpoint"],  # RECOMMENDED
        "revocation_endpoint": urls["revocation_endpoint"],  # RECOMMENDED
        "capabilities": CAPABILITIES,  # REQUIRED
        "code_challenge_methods_supported": ["S256"],  # REQUIRED: S256 only, never plain
    }


def openid_configuration(base_url: str) -> dict:
    urls = endpoints(base_url)
    return {
        "issuer": urls["issuer"],
        "authorization_endpoint": urls["authorization_endpoint"],
        "token_endpoint": urls["token_endpoint"],
        "jwks_uri": urls["jwks_uri"],
        "registration_endpoint": urls["registration_endpoint"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "fhirUser", "profile", "offline_access", "online_access"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "fhirUser", "name", "nonce"],
        "grant_types_supported": GRANT_TYPES,
        "code_challenge_methods_supported": ["S256"],
    }


def capability_security(_fhir_base: str | None = None) -> dict:
    """`rest[0].security` of the CapabilityStatement: the SMART service and the oauth-uris extension."""
    urls = endpoints(current_app.config["BASE_URL"])
    uris = [("authorize", "authorization_endpoint"), ("token", "token_endpoint"),
            ("register", "registration_endpoint"), ("manage", "management_endpoint"),
            ("introspect", "introspection_endpoint"), ("revoke", "revocation_endpoint")]
    return {
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [{"url": name, "valueUri": urls[key]} for name, key in uris],
        }],
        "cors": True,
        "service": [{
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
        }],
        "description": "SMART App Launch 2.2: see .well-known/smart-configuration",
    }


# Styling (SMART App Launch 2.2 §smart_style_url): the sandbox's own design tokens.
SMART_STYLE = {
    "color_background": "#F5F7FA",
    "color_error": "#B42318",
    "color_highlight": "#1D4E89",
    "color_modal_backdrop": "rgba(31, 41, 51, 0.5)",
    "color_success": "#067647",
    "color_text": "#1F2933",
    "dim_border_radius": "6px",
    "dim_font_size": "14px",
    "dim_spacing_size": "8px",
    "font_family_body": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
    "font_family_heading": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
}


def _document(body: dict):
    if request.method == "OPTIONS":
        return "", 204, CORS
    return jsonify(body), 200, CORS


@blueprint.route("/fhir/.well-known/smart-configuration", methods=["GET", "HEAD", "OPTIONS"])
def smart_config():
    return _document(smart_configuration(current_app.config["BASE_URL"]))


@blueprint.route("/fhir/.well-known/openid-configuration", methods=["GET", "HEAD", "OPTIONS"])
def openid_config():
    return _document(openid_configuration(current_app.config["BASE_URL"]))


@blueprint.route("/auth/smart-style.json", methods=["GET", "HEAD", "OPTIONS"])
def smart_style():
    return _document({**SMART_STYLE, "color_highlight": current_app.config["BRAND_ACCENT"]})
