"""The audit trail: every authorization event, with the client, user, launch and the rule that decided it.

Educators teach from it and the UI shows it, so `rule` is a sentence a person can read
("PKCE code_verifier does not match the code_challenge"), not a code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..store import Store
from ..store.resources import now_instant

SUCCESS = "success"
FAILURE = "failure"


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
