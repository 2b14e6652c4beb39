"""Step mode: a launch that pauses before its code is sent to the app and before its token exchange, until the
presenter presses Continue — so a class can look at each step of the flow before the next one happens.

A launch asks for it with ``pause`` in its context. Before the code: the code is issued (with the longest lifetime
RFC 6749 §4.1.2 allows, ten minutes, since a class may take a while) and the browser shows a page that waits, then
goes on to the app's redirect URI. Before the token exchange: the app's token request is held open — a real server
that answers slowly — until Continue, at most PAUSE_MAX seconds. The presenter continues from the app's bar in the
EHR; each pause and each continue is in the launch's trail.
"""

from __future__ import annotations

import time

from ..store import Store
from . import audit

CODE, TOKEN = "code", "token"
POINTS = {CODE: "before the code is sent to the app", TOKEN: "before the token exchange"}
PAUSED_CODE_LIFETIME = 600
PAUSE_MAX = 120  # seconds a token request is held before it goes on by itself
POLL = 0.25


def wanted(context: dict) -> bool:
    return context.get("pause") is True


def hold(store: Store, launch_id: str, point: str, client_id: str | None = None) -> bool:
    """Pause the launch at ``point`` unless it was already released there; whether it is now paused."""
    with store.transaction() as conn:
        row = conn.execute("SELECT released_at FROM pauses WHERE launch_id = ? AND point = ?",
                           (launch_id, point)).fetchone()
        if row is not None and row[0] is not None:
            return False
        if row is None:
            conn.execute("INSERT INTO pauses (launch_id, point, held_at) VALUES (?, ?, ?)",
                         (launch_id, point, int(time.time())))
            audit.record(store, "paused", client_id=client_id, launch_id=launch_id, point=point,
                         rule=f"Step mode: paused {POINTS[point]} until the presenter presses Continue")
    return True


def released(store: Store, launch_id: str, point: str) -> bool:
    row = store.conn.execute("SELECT released_at FROM pauses WHERE launch_id = ? AND point = ?",
                             (launch_id, point)).fetchone()
    return row is not None and row[0] is not None


def waiting_at(store: Store, launch_id: str) -> str | None:
    """The point where the launch waits for Continue now, if it does."""
    row = store.conn.execute("SELECT point FROM pauses WHERE launch_id = ? AND released_at IS NULL",
                             (launch_id,)).fetchone()
    return row[0] if row else None


def release(store: Store, launch_id: str, user_id: str | None = None) -> str | None:
    """Continue the launch from where it waits; the point it waited at, or None."""
    point = waiting_at(store, launch_id)
    if point is None:
        return None
    with store.transaction() as conn:
        conn.execute("UPDATE pauses SET released_at = ? WHERE launch_id = ? AND point = ?",
                     (int(time.time()), launch_id, point))
        audit.record(store, "continued", user_id=user_id, launch_id=launch_id, point=point,
                     rule=f"The presenter pressed Continue: the launch goes on {POINTS[point].replace('before', 'to')}")
    return point


def wait_for_release(store: Store, launch_id: str, point: str, limit: float = PAUSE_MAX) -> bool:
    """Hold the caller until the presenter continues (True), or ``limit`` seconds pass (False)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if released(store, launch_id, point):
            return True
        time.sleep(POLL)
    return False
