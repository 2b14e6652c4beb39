"""Rate limiting of repeated failures (RFC 9700 §4.x abuse resistance; RFC 6585 §4 429 Too Many Requests).

Failures are counted per key (a peer address; a client_id or a username at that address) over a sliding window
kept in the database, so every worker process sees the same counts. Thresholds come from the RATE_LIMIT_FAILURES and
RATE_LIMIT_WINDOW settings and are generous enough that conformance suites never trip them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..store import Store
from .errors import TooManyRequests


def keys(kind: str, name: str | None, peer: str | None) -> list[str]:
    """The counters one attempt counts against: its address, and the client or user *at that address*. A client
    or user is never counted alone, so failures sent from one address cannot lock them out everywhere."""
    address = peer or "unknown"
    return [f"{kind}-from:{address}", *([f"{kind}:{name}@{address}"] if name else [])]


def check(store: Store, settings: Mapping[str, Any], *keys: str) -> None:
    """Raise TooManyRequests when any key has reached the failure threshold within the window."""
    now = int(time.time())
    window, limit = settings["RATE_LIMIT_WINDOW"], settings["RATE_LIMIT_FAILURES"]
    for key in keys:
        rows = store.conn.execute(
            "SELECT at FROM auth_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
            (key, now - window, limit)).fetchall()
        if len(rows) >= limit:
            retry_after = max(1, rows[-1][0] + window - now)
            raise TooManyRequests(f"Too many failed attempts; try again in {retry_after} seconds", retry_after)


def note_failure(store: Store, settings: Mapping[str, Any], *keys: str) -> None:
    """Count one failure against each key, and forget failures older than the window."""
    now = int(time.time())
    with store.transaction() as conn:
        conn.executemany("INSERT INTO auth_failures (key, at) VALUES (?, ?)", [(key, now) for key in keys])
        conn.execute("DELETE FROM auth_failures WHERE at <= ?", (now - settings["RATE_LIMIT_WINDOW"],))
