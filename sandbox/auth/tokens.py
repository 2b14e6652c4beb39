"""Access and refresh tokens: issue, look up, rotate, revoke (RFC 6749 §1.4–1.5 and §6; RFC 9700 §4.14).

Tokens are opaque, random and URL-safe (`secrets.token_urlsafe(32)`, 256 bits); only their SHA-256 hash is
kept. Tokens issued together share a `family_id`: the code exchange starts a family, every refresh adds to
it. Refresh tokens rotate: each refresh marks the presented one `rotated_at` and issues a new one, and
presenting a rotated-out or revoked refresh token revokes the whole family (RFC 9700 §4.14.2).

SMART App Launch 2.2 §Scopes for requesting a refresh token — `offline_access` refresh tokens live
OFFLINE_LIFETIME from the start of their family; `online_access` ones carry the user's session and stop
working once it ended or expired (the `sessions` table).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..store import Store
from .codes import digest

ACCESS, REFRESH = "access", "refresh"
_COLUMNS = ("kind, family_id, client_id, user_id, session_id, scope, context, issued_at, expires_at, rotated_at, "
            "revoked_at")


@dataclass(frozen=True)
class TokenInfo:
    """What a token stands for. ``context`` holds the launch context (patient, encounter, fhirContext, …)."""

    kind: str  # access | refresh
    family_id: str
    client_id: str
    user_id: str | None
    session_id: str | None
    scope: str
    context: dict[str, Any] = field(default_factory=dict)
    issued_at: int = 0
    expires_at: int = 0
    rotated_at: int | None = None
    revoked_at: int | None = None

    @property
    def is_offline(self) -> bool:
        return "offline_access" in self.scope.split()


@dataclass(frozen=True)
class Issued:
    """Tokens just issued, in the clear: the only time they are."""

    access_token: str
    issued_at: int
    expires_at: int
    family_id: str
    refresh_token: str | None = None

    @property
    def expires_in(self) -> int:
        return self.expires_at - self.issued_at


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_family_id() -> str:
    return secrets.token_urlsafe(16)


# -- issuing -----------------------------------------------------------------------------------------------


def issue(store: Store, *, family_id: str, client_id: str, scope: str, access_lifetime: int,
          user_id: str | None = None, session_id: str | None = None, context: dict[str, Any] | None = None,
          refresh_expires_at: int | None = None, refresh_scope: str | None = None, now: int | None = None) -> Issued:
    """An access token, and a refresh token when ``refresh_expires_at`` is given, in ``family_id``, stored now
    (``mint`` and ``save`` apart let a caller store them in a transaction of its own)."""
    issued, rows = mint(family_id=family_id, client_id=client_id, scope=scope, access_lifetime=access_lifetime,
                        user_id=user_id, session_id=session_id, context=context,
                        refresh_expires_at=refresh_expires_at, refresh_scope=refresh_scope, now=now)
    with store.transaction() as conn:
        save(conn, rows)
    return issued


def mint(*, family_id: str, client_id: str, scope: str, access_lifetime: int, user_id: str | None = None,
         session_id: str | None = None, context: dict[str, Any] | None = None, refresh_expires_at: int | None = None,
         refresh_scope: str | None = None, now: int | None = None) -> tuple[Issued, list[tuple]]:
    """New tokens in the clear and the rows that store them (by hash), not yet stored.

    RFC 6749 §6 — a refresh token keeps the scope of its family (``refresh_scope``, default ``scope``) even
    when the access token issued beside it was narrowed.
    """
    now = int(time.time()) if now is None else now
    access, refresh = new_token(), None
    context_json = json.dumps(context or {})
    common = (family_id, client_id, user_id, session_id)
    rows = [(digest(access), ACCESS, *common, scope, context_json, now, now + access_lifetime)]
    if refresh_expires_at is not None:
        refresh = new_token()
        rows.append((digest(refresh), REFRESH, *common, refresh_scope or scope, context_json, now,
                     refresh_expires_at))
    return Issued(access, now, now + access_lifetime, family_id, refresh), rows


def save(conn, rows: list[tuple]) -> None:
    """Store minted tokens, inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO tokens (token_hash, kind, family_id, client_id, user_id, session_id, scope, context, "
        "issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def refresh_expiry(store: Store, settings: Mapping[str, Any], scope: str, session_id: str | None,
                   now: int, family_expires_at: int | None = None) -> int | None:
    """When a refresh token issued now expires, or None when the scope asks for none.

    offline_access: OFFLINE_LIFETIME after the family began (``family_expires_at`` carries it through
    rotations). online_access: when the user's session expires (SESSION_LIFETIME without a session).
    """
    scopes = scope.split()
    if "offline_access" in scopes:
        return family_expires_at or now + settings["OFFLINE_LIFETIME"]
    if "online_access" in scopes:
        if session_id is not None:
            row = store.conn.execute("SELECT expires_at FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is not None:
                return row[0]
        return family_expires_at or now + settings["SESSION_LIFETIME"]
    return None


# -- looking up ----------------------------------------------------------------------------------------------


def find(store: Store, token: str) -> TokenInfo | None:
    """Any token ever issued and not yet pruned, active or not; None for unknown strings."""
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM tokens WHERE token_hash = ?", (digest(token),)).fetchone()
    if row is None:
        return None
    *head, context, issued_at, expires_at, rotated_at, revoked_at = row
    return TokenInfo(*head, json.loads(context), issued_at, expires_at, rotated_at, revoked_at)


def active_token(store: Store, token: str, now: int | None = None) -> TokenInfo | None:
    """The access token a FHIR request presents as `Authorization: Bearer`, or None when it is unknown,
    expired or revoked (RFC 6750 §3.1 invalid_token). Refresh tokens are never bearer tokens."""
    info = find(store, token)
    if info is None or info.kind != ACCESS:
        return None
    return info if inactive_reason(store, info, now) is None else None


def inactive_reason(store: Store, info: TokenInfo, now: int | None = None) -> str | None:
    """Why a token can no longer be used, in words, or None when it is active."""
    now = int(time.time()) if now is None else now
    if info.revoked_at is not None:
        return "The token was revoked"
    if info.rotated_at is not None:
        return "The refresh token was already used: each refresh returns a new one (rotation)"
    if info.expires_at <= now:
        return "The token has expired"
    if info.kind == REFRESH and not info.is_offline and not session_active(store, info.session_id, now):
        return "The user's session ended, and online_access refresh tokens end with it (SMART App Launch 2.2)"
    return None


def session_active(store: Store, session_id: str | None, now: int) -> bool:
    """Whether the user's sign-in still lasts: not ended, not expired; a session no longer stored has ended.
    No session at all counts as active (an online_access token issued without one lives SESSION_LIFETIME)."""
    if session_id is None:
        return True
    row = store.conn.execute("SELECT ended_at, expires_at FROM sessions WHERE id = ?", (session_id,)).fetchone()
    return row is not None and row[0] is None and row[1] > now


# -- rotating and revoking -----------------------------------------------------------------------------------


def rotate(store: Store, presented: str, *, access_scope: str, access_lifetime: int, refresh_expires_at: int,
           now: int | None = None) -> Issued | None:
    """RFC 6749 §6, RFC 9700 §4.14.2 — mark the presented refresh token rotated and issue a new access and
    refresh token in its family, atomically. None when the token was rotated or revoked meanwhile (a
    concurrent refresh with the same token): the caller treats that as reuse."""
    now = int(time.time()) if now is None else now
    info = find(store, presented)
    if info is None:
        return None
    issued, rows = mint(family_id=info.family_id, client_id=info.client_id, scope=access_scope,
                        access_lifetime=access_lifetime, user_id=info.user_id, session_id=info.session_id,
                        context=info.context, refresh_expires_at=refresh_expires_at, refresh_scope=info.scope, now=now)
    with store.transaction() as conn:
        if not take_for_rotation(conn, presented, now):
            return None
        save(conn, rows)
    return issued


def take_for_rotation(conn, presented: str, now: int) -> bool:
    """Mark a refresh token rotated, inside the caller's transaction; False when it was rotated or revoked
    already (by a concurrent request with the same token, or a revocation)."""
    return conn.execute(
        "UPDATE tokens SET rotated_at = ? WHERE token_hash = ? AND kind = 'refresh' AND rotated_at IS NULL "
        "AND revoked_at IS NULL", (now, digest(presented))).rowcount > 0


def revoke_family(store: Store, family_id: str, now: int | None = None) -> int:
    """Revoke every access and refresh token of a family; returns how many were still unrevoked."""
    now = int(time.time()) if now is None else now
    with store.transaction() as conn:
        return conn.execute("UPDATE tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
                            (now, family_id)).rowcount


def revoke(store: Store, token: str, now: int | None = None) -> bool:
    """Revoke one token; returns whether it was still unrevoked."""
    now = int(time.time()) if now is None else now
    with store.transaction() as conn:
        return conn.execute("UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                            (now, digest(token))).rowcount > 0
