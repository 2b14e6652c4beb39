"""Discovery in a trail: the configuration documents an app read just before its authorize request.

Discovery requests carry no launch, so they are recorded with the caller's address (app.py) and joined to a trail
afterwards: the latest read of each document from the address the authorize request came from, within WINDOW
before it (and after the launch, for an EHR launch). The step says it was matched by address and time — two apps
discovering from one address in the same minute cannot be told apart.
"""

from __future__ import annotations

import datetime as dt
import json

from ..auth import audit
from ..store import Store

WINDOW = dt.timedelta(seconds=120)


def with_discovery(store: Store, events: list[audit.AuditEvent]) -> list[audit.AuditEvent]:
    """The trail's events with the discovery that most likely belongs to it, in time order."""
    asked = next((e for e in events if e.event == "authorize.requested"), None)
    address = asked.detail.get("address") if asked else None
    if not address:
        return events
    until = audit.moment(asked.at)
    since = (until - WINDOW).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    launched = next((e for e in events if e.event == "launch.created"), None)
    if launched is not None:  # an EHR launch: the app was opened, and so could discover, only after it
        since = max(since, launched.at)
    rows = store.conn.execute(
        "SELECT id, at, event, outcome, client_id, user_id, launch_id, rule, detail FROM audit_events "
        "WHERE event = 'discovery' AND at >= ? AND at <= ? ORDER BY at, id", (since, asked.at)).fetchall()
    latest: dict[str, audit.AuditEvent] = {}
    for row in rows:
        detail = json.loads(row[8])
        if detail.get("address") == address:
            latest[detail.get("path", "")] = audit.AuditEvent(*row[:8], detail)
    if not latest:
        return events
    return sorted([*events, *latest.values()], key=lambda e: (audit.moment(e.at), e.id))
