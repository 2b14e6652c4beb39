"""OpenID Connect id_tokens (OpenID Connect Core 1.0 §2; SMART App Launch 2.2 §Scopes for requesting identity data).

SMART App Launch 2.2 — when the app is granted `openid` with `fhirUser` (or the older `profile`), the token
response SHALL carry an id_token whose `fhirUser` claim is the absolute URL of the user's FHIR resource
(Practitioner, Patient, RelatedPerson). The id_token is signed with RS256 by the server's current key
(`kid` in the header); `iss` is the FHIR base URL, which is the issuer the discovery documents name.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..store import Store
from .keys import SigningKeys
from .users import UserDirectory


def wants_id_token(scope: str) -> bool:
    """SMART App Launch 2.2 — `openid` together with `fhirUser` or `profile`."""
    scopes = set(scope.split())
    return "openid" in scopes and bool(scopes & {"fhirUser", "profile"})


def issuer(base_url: str) -> str:
    return f"{base_url}/fhir"


def fhir_user_url(store: Store, base_url: str, user_id: str | None) -> str | None:
    """The absolute URL of the user's FHIR resource (`fhirUser`), or None when there is no such user."""
    user = UserDirectory(store).get(user_id) if user_id else None
    return f"{base_url}/fhir/{user.fhir_user}" if user else None


def make_id_token(store: Store, settings: Mapping[str, Any], client_id: str, user_id: str, scope: str,
                  nonce: str | None = None, now: int | None = None) -> str:
    """A signed id_token for ``user_id``: iss, sub, aud, iat, exp, fhirUser, and nonce when the authorize
    request carried one (OpenID Connect Core §3.1.3.6 — the nonce SHALL be passed through unmodified)."""
    now = int(time.time()) if now is None else now
    base_url = settings["BASE_URL"]
    claims: dict[str, Any] = {"iss": issuer(base_url), "sub": user_id, "aud": client_id, "iat": now,
                              "exp": now + settings["ACCESS_TOKEN_LIFETIME"]}
    user = UserDirectory(store).get(user_id)
    if user is not None:
        claims["fhirUser"] = f"{base_url}/fhir/{user.fhir_user}"
        if "profile" in scope.split():
            claims["name"] = user.display_name  # OpenID Connect Core §5.4: profile asks for the user's name
    if nonce is not None:
        claims["nonce"] = nonce
    return SigningKeys(store).sign(claims)
