"""The authorization server's blueprint, mounted at /auth: dynamic registration and the JWKS.

Views are thin: they read the request, call the registry or the keys, and shape the response.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .admin import admin_token, presents_admin_token, require_local_or_admin
from .clients import ClientRegistry
from .keys import SigningKeys
from .registration import InvalidClientMetadata, RegistrationError

blueprint = Blueprint("auth", __name__)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _store():
    return current_app.extensions["store"]


@blueprint.post("/register")
@require_local_or_admin
def register():
    """RFC 7591 §3 — client registration: JSON metadata in, 201 with the registered client out.

    Errors (RFC 7591 §3.2.2) are 400 JSON `{"error", "error_description"}`; a body that is not a JSON
    object is invalid_client_metadata too. Responses carry secrets, so none may be cached.
    """
    if not request.is_json:
        return _registration_error(InvalidClientMetadata(
            "Send the client metadata as a JSON object with Content-Type: application/json (RFC 7591 §3.1)"))
    metadata = request.get_json(silent=True)
    if not isinstance(metadata, dict):
        return _registration_error(InvalidClientMetadata("The request body is not a JSON object"))
    if metadata.get("pre_approved") and not presents_admin_token(admin_token(_store(), current_app.config)):
        return _registration_error(InvalidClientMetadata(
            "pre_approved (skip consent) is the sandbox administrator's decision: send the admin token as "
            "Authorization: Bearer <token> (sandbox admin-token prints it), even from this machine", "pre_approved"))
    registry = ClientRegistry(_store(), current_app.config["BASE_URL"])
    try:
        client = registry.register(metadata, origin="dynamic")
    except RegistrationError as exc:
        return _registration_error(exc)
    return jsonify(client.registration_response()), 201, NO_STORE


@blueprint.get("/jwks")
def jwks():
    """RFC 7517 §5 — the public keys that verify the server's signatures (OpenID Connect `jwks_uri`).

    Open to any origin: browser apps fetch it to check id_tokens.
    """
    headers = {"Cache-Control": "public, max-age=60", "Access-Control-Allow-Origin": "*"}
    return jsonify(SigningKeys(_store()).jwks()), 200, headers


def _registration_error(error: RegistrationError):
    return jsonify(error.as_json()), error.status_code, NO_STORE
