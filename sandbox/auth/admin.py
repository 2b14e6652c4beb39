"""Who may use the sandbox's admin endpoints (dynamic registration, headless launches).

Callers on this machine (loopback addresses 127.0.0.0/8 and ::1) may; anyone else presents the admin
token as a bearer token (RFC 6750 §2.1). The token is the ADMIN_TOKEN setting, or else a random one
kept in the database (`sandbox admin-token` prints it). A request that came through a proxy (it
carries `Forwarded` or `X-Forwarded-For`) is not taken as local even when the proxy itself is.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Mapping
from typing import Any

from flask import current_app, jsonify, request

from ..store import Store

SECRET_NAME = "admin_token"
REALM = "sandbox-admin"


def admin_token(store: Store, settings: Mapping[str, Any]) -> str:
    """The admin token in use: the ADMIN_TOKEN setting, else the one generated once for this database."""
    return settings.get("ADMIN_TOKEN") or store.secret(SECRET_NAME)


def is_loopback(address: str | None) -> bool:
    """Whether a peer address is this machine (127.0.0.0/8, ::1, or IPv4 loopback mapped into IPv6)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def is_local_request() -> bool:
    proxied = "Forwarded" in request.headers or "X-Forwarded-For" in request.headers
    return not proxied and is_loopback(request.remote_addr)


def presents_admin_token(token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def refusal():
    """RFC 6750 §3 — 401 with a Bearer challenge; the body in the OAuth error shape (RFC 6749 §5.2)."""
    presented = bool(request.headers.get("Authorization"))
    if presented:
        description = "The admin token is not valid."
        challenge = f'Bearer realm="{REALM}", error="invalid_token"'
    else:
        description = ("Callers on other machines need the admin token: send Authorization: Bearer <token>. "
                       "`sandbox admin-token` prints it.")
        challenge = f'Bearer realm="{REALM}"'
    response = jsonify(error="invalid_token" if presented else "unauthorized", error_description=description)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


def require_local_or_admin(view):
    """Let loopback callers through; others need the admin token, or get a 401 JSON error."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if not is_local_request():
            store = current_app.extensions["store"]
            if not presents_admin_token(admin_token(store, current_app.config)):
                return refusal()
        return view(*args, **kwargs)

    return guarded
