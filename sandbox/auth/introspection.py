"""Token introspection (RFC 7662, as SMART App Launch 2.2 §Token Introspection profiles it).

Who may ask: a client authenticating with its registered credentials (any confidential method of
client_auth.py), or any caller presenting an active access token as `Authorization: Bearer` (SMART 2.2:
"any client authorized to issue Token Introspection API calls SHALL be permitted to authenticate ... by
providing an appropriately-scoped SMART App or SMART Backend Service bearer token"). A client with credentials
may introspect tokens issued to any client (resource servers are the point of the endpoint); a bearer learns only
of tokens issued to its own client — a token leaked to one app must not let it probe another app's.

What they learn: RFC 7662 §2.2 — `active`, and for an active token SMART's required `scope`, `client_id`,
`exp`; then `iat`, `iss`, `sub` and `fhirUser` when a user authorised it, `token_type`, and every launch
context parameter the token response carried (SMART 2.2: they SHALL be included). An unknown, expired,
revoked or rotated-out token is just `{"active": false}` — never why (RFC 7662 §2.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..store import Store
from . import tokens
from .id_tokens import fhir_user_url, issuer
from .token_endpoint import context_params

INACTIVE: dict[str, Any] = {"active": False}


def introspect(store: Store, settings: Mapping[str, Any], token: str) -> dict[str, Any]:
    """RFC 7662 §2.2 — the introspection response for ``token`` (access or refresh)."""
    info = tokens.find(store, token)
    if info is None or tokens.inactive_reason(store, info) is not None:
        return dict(INACTIVE)
    base_url = settings["BASE_URL"]
    body: dict[str, Any] = {"active": True, "scope": info.scope, "client_id": info.client_id,
                            "exp": info.expires_at, "iat": info.issued_at, "iss": issuer(base_url)}
    if info.user_id:
        body["sub"] = info.user_id
        fhir_user = fhir_user_url(store, base_url, info.user_id)
        if fhir_user:
            body["fhirUser"] = fhir_user
    if info.kind == tokens.ACCESS:
        body["token_type"] = "Bearer"
    body.update(context_params(info.context))
    return body
