"""EHR launch contexts (SMART App Launch 2.2 §EHR Launch): the opaque `launch` value an app receives.

A launch is bound to one client and one user (and that user's session), lives LAUNCH_LIFETIME seconds and
can be used once. Its context holds what the token response will carry: patient, encounter, fhirContext
(STU2.2 list of objects), intent, need_patient_banner, smart_style_url, tenant.

A launch has two values: its `id`, which names its activity trail and the EHR's panes and is shown to anyone who
may read the trail, and its `secret`, the opaque `launch` parameter only the app's launch URL carries. Knowing a
trail id is never enough to redeem the launch.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from ..store import Store
from . import audit
from .errors import append_query


@dataclass(frozen=True)
class Launch:
    id: str  # the trail id
    secret: str  # the `launch` parameter
    client_id: str
    user_id: str
    session_id: str | None
    context: dict[str, Any] = field(default_factory=dict)
    skip_login: bool = False
    skip_consent: bool = False


def create(store: Store, client_id: str, user_id: str, session_id: str | None, context: dict[str, Any],
           lifetime: int, skip_login: bool = False, skip_consent: bool = False) -> Launch:
    launch = Launch(secrets.token_urlsafe(24), secrets.token_urlsafe(24), client_id, user_id, session_id,
                    {k: v for k, v in context.items() if v not in (None, "", [])}, skip_login, skip_consent)
    now = int(time.time())
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO launches (id, secret, client_id, user_id, session_id, context, skip_login, skip_consent, "
            "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (launch.id, launch.secret, client_id, user_id, session_id, json.dumps(launch.context), int(skip_login),
             int(skip_consent), now, now + lifetime))
        audit.record(store, "launch.created", client_id=client_id, user_id=user_id, launch_id=launch.id,
                     rule="A launch context was saved for this app and user", context=launch.context,
                     skip_login=skip_login, skip_consent=skip_consent, expires_in=lifetime)
    return launch


def app_url(launch_uri: str, base_url: str, secret: str) -> str:
    """Where the EHR opens the app (SMART App Launch 2.2 §EHR Launch): its launch URL with `iss`, the FHIR base
    URL, and the opaque `launch` (the launch's secret) added to whatever query it was registered with."""
    return append_query(launch_uri, {"iss": f"{base_url}/fhir", "launch": secret})


def secret_of(store: Store, launch_id: str) -> str | None:
    """The `launch` parameter of a launch, for the EHR that made it to frame the app again."""
    row = store.conn.execute("SELECT secret FROM launches WHERE id = ?", (launch_id,)).fetchone()
    return row[0] if row else None


def take(store: Store, secret: str, client_id: str) -> tuple[Launch | None, str | None]:
    """Use a launch once, by its `launch` parameter: (the launch, None), or (None, why it was refused). A trail
    id is not a `launch` parameter and finds nothing."""
    launch, reason = peek(store, secret, client_id)
    if launch is None:
        return None, reason
    with store.transaction() as conn:
        if not spend(conn, launch.id):
            return peek(store, secret, client_id)  # taken by another request meanwhile: say why
    return launch, None


@dataclass(frozen=True)
class Named:
    """What a `launch` parameter names, from one read: the launch's trail (used or not; None for a value no launch
    has), and the launch `take` would give now or why it would be refused."""

    trail_id: str | None
    launch: Launch | None
    refusal: str | None


def look_up(store: Store, secret: str, client_id: str, now: int | None = None) -> Named:
    now = int(time.time()) if now is None else now
    row = store.conn.execute(
        "SELECT id, client_id, user_id, session_id, context, skip_login, skip_consent, expires_at, used_at "
        "FROM launches WHERE secret = ?", (secret,)).fetchone()
    if row is None:
        return Named(None, None, "The launch parameter is not known to this EHR")
    launch_id, owner, user_id, session_id, context, skip_login, skip_consent, expires_at, used_at = row
    if owner != client_id:
        return Named(launch_id, None, "The launch was created for another app")
    if used_at is not None:
        return Named(launch_id, None, "The launch was already used; start a new launch from the EHR")
    if expires_at <= now:
        return Named(launch_id, None, "The launch has expired; start a new launch from the EHR")
    return Named(launch_id, Launch(launch_id, secret, client_id, user_id, session_id, json.loads(context),
                                   bool(skip_login), bool(skip_consent)), None)


def peek(store: Store, secret: str, client_id: str, now: int | None = None) -> tuple[Launch | None, str | None]:
    """The launch that `take` would give now, without using it, or (None, why it would be refused)."""
    named = look_up(store, secret, client_id, now)
    return named.launch, named.refusal


def spend(conn, launch_id: str, now: int | None = None) -> bool:
    """Mark a launch used, inside the caller's transaction; False when it was used meanwhile or has expired."""
    now = int(time.time()) if now is None else now
    return conn.execute("UPDATE launches SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?",
                        (now, launch_id, now)).rowcount > 0
