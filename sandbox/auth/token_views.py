"""The token side of the authorization server, mounted at /auth: token, introspection and revocation endpoints.

Views are thin: read the form, authenticate the client, call the grant, introspection or revocation
module, shape the JSON. Every answer carries `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749
§5.1) and CORS headers, so browser apps can call these endpoints (SMART App Launch 2.2 §CORS: no cookies
are involved, so any origin may). Every refusal is an RFC 6749 §5.2 JSON error and goes to the audit trail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, current_app, g, jsonify, request

from . import audit, introspection, ratelimit, revocation, tokens
from .client_auth import authenticate
from .errors import NO_STORE, InvalidClient, InvalidRequest, InvalidToken, OAuthError
from .token_endpoint import check_grant_type, require, token_response

blueprint = Blueprint("oauth", __name__)

FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 1000  # as werkzeug's form parser allows
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Expose-Headers": "WWW-Authenticate, Retry-After", "Access-Control-Max-Age": "600"}
BEARER_CHALLENGE = 'Bearer realm="sandbox"'


@blueprint.after_request
def no_store_and_cors(response):
    response.headers.update({**NO_STORE, **CORS})
    return response


@blueprint.errorhandler(OAuthError)
def refusal(error: OAuthError):
    """RFC 6749 §5.2 — the JSON error; recorded in the audit trail with the rule it names."""
    event = {"oauth.token": "token.refused", "oauth.introspect": "introspection",
             "oauth.revoke": "revocation"}.get(request.endpoint, "token.refused")
    form = request.form if request.mimetype == FORM else {}
    with _store().transaction() as conn:
        for seen in g.pop("unrecorded_jti", ()):  # a refused request used up its client assertion all the same
            with contextlib.suppress(InvalidClient):
                seen.record(conn)
        audit.record(_store(), event, audit.FAILURE, rule=error.description, error=error.error,
                     grant_type=form.get("grant_type"), request=audit.safe_params(form),
                     client_auth=_auth_method_tried(form), mismatch=error.mismatch,
                     **{k: error.who.get(k) for k in ("client_id", "user_id", "launch_id")})
    return error.response()


def _auth_method_tried(form: Mapping[str, str]) -> str:
    """The client authentication method a request tried, as RFC 6749 §2.3 and RFC 7523 name them."""
    if request.headers.get("Authorization", "").strip().lower().startswith("basic"):
        return "client_secret_basic"
    if "client_assertion" in form:
        return "private_key_jwt"
    return "client_secret_post" if "client_secret" in form else "none"


@blueprint.post("/token")
def token():
    """RFC 6749 §3.2 — the token endpoint: authorization_code, refresh_token and client_credentials grants."""
    form = _form()
    check_grant_type(form)
    # A client assertion's jti is recorded in the transaction that issues the tokens (or records the refusal).
    seen_jti = g.unrecorded_jti = []
    client = _authenticate(form, seen_jti)
    try:
        body = token_response(_store(), current_app.config, client, form, seen_jti)
    except InvalidClient as error:  # the assertion's jti was recorded by a concurrent request: a replay
        ratelimit.note_failure(_store(), current_app.config, *ratelimit.keys("client", request.remote_addr))
        error.who.setdefault("client_id", client.client_id)
        raise
    except OAuthError as error:
        error.who.setdefault("client_id", client.client_id)
        raise
    g.unrecorded_jti = []
    return jsonify(body)


@blueprint.post("/introspect")
def introspect():
    """RFC 7662 §2 — introspection for a confidential client or the bearer of an active access token."""
    form = _form()
    store = _store()
    scheme, _, bearer = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        caller = tokens.active_token(store, bearer.strip())
        if caller is None:
            raise InvalidToken("The bearer token is not an active access token (RFC 6750 §3.1)",
                               headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'})
        caller_id = caller.client_id
    else:
        if not request.headers.get("Authorization") and not _has_client_credentials(form):
            raise InvalidClient("Introspection needs the caller's client credentials or an access token as "
                                "Authorization: Bearer (RFC 7662 §2.1)",
                                headers={"WWW-Authenticate": f'Basic realm="sandbox", {BEARER_CHALLENGE}'})
        client = _authenticate(form)
        if client.is_public:
            raise InvalidClient("A public client has no credentials to introspect with: send one of its access "
                                "tokens as Authorization: Bearer instead").about(client_id=client.client_id)
        caller_id = client.client_id
    token = require(form, "token")
    body = introspection.introspect(store, current_app.config, token)
    if scheme.lower() == "bearer" and body.get("client_id") not in (None, caller_id):
        body = dict(introspection.INACTIVE)  # a bearer learns of its own client's tokens only, not another app's
    asked_about = tokens.find(store, token)  # the introspection joins the trail of the token it was asked about
    audit.record(store, "introspection", client_id=caller_id, rule="Token introspected (RFC 7662)",
                 launch_id=asked_about.context.get("launch_id") if asked_about else None,
                 active=body["active"], token_client_id=body.get("client_id"))
    return jsonify(body)


@blueprint.post("/revoke")
def revoke():
    """RFC 7009 §2 — revocation of a client's own access or refresh token; always 200 once authenticated."""
    form = _form()
    client = _authenticate(form)
    token_value = require(form, "token")
    revocation.revoke(_store(), client, token_value, form.get("token_type_hint"))
    return jsonify({})


def _store():
    return current_app.extensions["store"]


def _form() -> dict[str, str]:
    """The form parameters: RFC 6749 §3.2 form-encoded, each at most once; empty ones count as omitted (§3.1).
    A request without any body has no parameters."""
    if not request.mimetype and not request.content_length:
        return {}
    if request.mimetype != FORM:
        raise InvalidRequest(f"Send the parameters form-encoded, with Content-Type: {FORM} (RFC 6749 §4.1.3)")
    # read straight from the body (the size limit holds): half the time of werkzeug's general form parser
    try:
        pairs = parse_qsl(request.get_data().decode("utf-8", "replace"), keep_blank_values=True, errors="replace",
                          max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise InvalidRequest(f"More than {MAX_FORM_FIELDS} form parameters") from None
    params: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise InvalidRequest(f"{name} is given more than once (RFC 6749 §3.2)")
        seen.add(name)
        if value != "":
            params[name] = value
    return params


def _has_client_credentials(form: Mapping[str, Any]) -> bool:
    return any(name in form for name in ("client_id", "client_secret", "client_assertion", "client_assertion_type"))


def _authenticate(form: Mapping[str, str], defer: list | None = None):
    base_url = current_app.config["BASE_URL"]
    audiences = [f"{base_url}/auth/token", base_url + request.path]
    return authenticate(_store(), current_app.config, form, request.headers.get("Authorization"),
                        request.remote_addr, audiences, defer)
