"""The audit trail: every authorization event, with the client, user, launch and the rule that decided it.

Educators teach from it and the UI shows it, so `rule` is a sentence a person can read
("PKCE code_verifier does not match the code_challenge"), not a code.

The `launch_id` column names the event's *trail*: every event of one authorization shares it, from the launch
or authorize request to the last FHIR request made with its tokens. An EHR launch's trail is its launch id; a
standalone launch gets one minted at its authorize request (`new_trail_id`). Details never hold a usable
secret: codes, access and refresh tokens and verifiers are kept cut short (`short`), client secrets not at all.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..store import Store
from ..store.resources import now_instant

SUCCESS = "success"
FAILURE = "failure"
STANDALONE_PREFIX = "standalone-"
SHORTENED = ("code", "code_verifier", "refresh_token", "access_token", "token", "client_assertion", "launch")
WITHHELD = ("client_secret", "password")


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: str
    event: str
    outcome: str
    client_id: str | None
    user_id: str | None
    launch_id: str | None
    rule: str | None
    detail: dict[str, Any]


def record(store: Store, event: str, outcome: str = SUCCESS, *, client_id: str | None = None,
           user_id: str | None = None, launch_id: str | None = None, rule: str | None = None,
           **detail: Any) -> None:
    """Add one event. Safe inside or outside a transaction (it joins the caller's)."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO audit_events (at, event, outcome, client_id, user_id, launch_id, rule, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now_instant(), event, outcome, client_id, user_id, launch_id, rule,
             json.dumps(detail, separators=(",", ":"), default=str)),
        )


def new_trail_id() -> str:
    """The trail id of a standalone launch: random, and recognisable as not being an EHR launch id."""
    return STANDALONE_PREFIX + secrets.token_urlsafe(12)


def short(secret: str | None, keep: int = 6) -> str | None:
    """A secret cut to its first characters: enough to tell two apart on screen, never enough to use."""
    return secret[:keep] + "…" if secret else secret


def safe_params(params: Mapping[str, str]) -> dict[str, str]:
    """Request parameters as the trail keeps them: secrets cut short, client secrets withheld."""
    kept = {}
    for name, value in params.items():
        if name in WITHHELD:
            kept[name] = "(sent; never recorded)"
        elif name in SHORTENED:
            kept[name] = short(value, 10 if name == "launch" else 6)
        else:
            kept[name] = value if len(value) <= 300 else value[:300] + "…"
    return kept


def trail(store: Store, trail_id: str, limit: int = 20000) -> list[AuditEvent]:
    """The events of one trail, oldest first."""
    rows = store.conn.execute(
        "SELECT id, at, event, outcome, client_id, user_id, launch_id, rule, detail FROM audit_events "
        "WHERE launch_id = ? ORDER BY id LIMIT ?", (trail_id, limit)).fetchall()
    return [AuditEvent(*row[:8], json.loads(row[8])) for row in rows]


def recent(store: Store, limit: int = 100, client_id: str | None = None, event: str | None = None,
           before_id: int | None = None, launch_id: str | None = None) -> list[AuditEvent]:
    """Events newest first, optionally for one client, one kind of event or one launch."""
    where, args = [], []
    for column, value in (("client_id", client_id), ("event", event), ("launch_id", launch_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if before_id is not None:
        where.append("id < ?")
        args.append(before_id)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    rows = store.conn.execute(
        "SELECT id, at, event, outcome, client_id, user_id, launch_id, rule, detail FROM audit_events "
        f"{clause} ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
    return [AuditEvent(*row[:8], json.loads(row[8])) for row in rows]
