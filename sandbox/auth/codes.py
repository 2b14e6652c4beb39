"""Authorization codes (RFC 6749 §4.1.2, RFC 9700 §2.1.1 and §4.5; SMART App Launch 2.2 §App Launch).

A code is random and URL-safe, lives CODE_LIFETIME seconds (60 by default), can be redeemed once, and is
bound to the client, the redirect_uri, the PKCE challenge, the granted scope, the user, their session and
the launch context. Only its SHA-256 hash is stored. A second redemption is refused and reports the
token family the first one issued, so the caller can revoke it (RFC 6749 §4.1.2: "SHOULD revoke").
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from ..store import Store


def digest(value: str) -> str:
    """How codes and tokens are kept: SHA-256, hex."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class CodeGrant:
    """What a code stands for, as the authorize step decided it."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    user_id: str | None = None
    session_id: str | None = None
    launch_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)  # patient, encounter, fhirContext, intent, …
    nonce: str | None = None


@dataclass(frozen=True)
class Redemption:
    """The outcome of presenting a code: ``grant`` when it is good; else ``problem`` says why, and
    ``reused_family`` names the tokens a first redemption issued (to revoke) when it was used before."""

    grant: CodeGrant | None
    problem: str | None = None
    reused_family: str | None = None
    who: dict[str, str | None] = field(default_factory=dict)  # user_id and launch_id of a known code, for the audit


def issue_code(store: Store, grant: CodeGrant, lifetime: int) -> str:
    code = secrets.token_urlsafe(32)
    with store.transaction() as conn:
        save_code(conn, code, grant, lifetime)
    return code


def save_code(conn, code: str, grant: CodeGrant, lifetime: int, now: int | None = None) -> None:
    """Store a new code, inside the caller's transaction. Codes stay stored, used or not, until pruned (a
    retention after their expiry, auth/pruning.py): their reuse is detected until then."""
    now = int(time.time()) if now is None else now
    conn.execute(
        "INSERT INTO codes (code_hash, client_id, redirect_uri, code_challenge, scope, user_id, session_id, "
        "launch_id, context, nonce, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (digest(code), grant.client_id, grant.redirect_uri, grant.code_challenge, grant.scope, grant.user_id,
         grant.session_id, grant.launch_id, json.dumps(grant.context), grant.nonce, now, now + lifetime))


def redeem_code(store: Store, code: str, family_id: str) -> Redemption:
    """Mark the code used by the token family ``family_id`` (the tokens about to be issued) and return
    its grant. Checking that the client, redirect_uri and PKCE verifier fit the grant is the caller's job."""
    redemption = look_up(store, code)
    if redemption.grant is not None:
        with store.transaction() as conn:
            if not spend(conn, code, family_id):
                return look_up(store, code)  # another request redeemed it meanwhile
    return redemption


def look_up(store: Store, code: str, now: int | None = None) -> Redemption:
    """What presenting the code now would give, without spending it: its grant while it is unused and
    unexpired, else why not (and the tokens its first use issued)."""
    now = int(time.time()) if now is None else now
    row = store.conn.execute(
        "SELECT client_id, redirect_uri, code_challenge, scope, user_id, session_id, launch_id, context, nonce, "
        "expires_at, used_at, family_id FROM codes WHERE code_hash = ?", (digest(code),)).fetchone()
    if row is None:
        return Redemption(None, "The authorization code is not known")
    *fields, expires_at, used_at, used_by = row
    who = {"user_id": fields[4], "launch_id": fields[6]}
    if used_at is not None:
        return Redemption(None, "The authorization code was already used", reused_family=used_by, who=who)
    if expires_at <= now:
        return Redemption(None, "The authorization code has expired", who=who)
    fields[7] = json.loads(fields[7])
    return Redemption(CodeGrant(*fields), who=who)


def spend(conn, code: str, family_id: str, now: int | None = None) -> bool:
    """Mark the code used by ``family_id``, inside the caller's transaction; False when it was used meanwhile or
    has expired (it can be spent once)."""
    now = int(time.time()) if now is None else now
    return conn.execute("UPDATE codes SET used_at = ?, family_id = ? WHERE code_hash = ? AND used_at IS NULL "
                        "AND expires_at > ?", (now, family_id, digest(code), now)).rowcount > 0


def holder_of(store: Store, code: str) -> dict[str, str | None]:
    """The user and activity trail a code was issued in (empty for an unknown code), to audit a refusal."""
    row = store.conn.execute("SELECT user_id, launch_id FROM codes WHERE code_hash = ?", (digest(code),)).fetchone()
    return {"user_id": row[0], "launch_id": row[1]} if row else {}
