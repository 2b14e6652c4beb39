"""Rate limiting of repeated failures (RFC 9700 §4.x abuse resistance; RFC 6585 §4 429 Too Many Requests).

Failures are counted per key (the kind of attempt at a peer address) over a sliding window kept in the
database, so every worker process sees the same counts. Thresholds come from the RATE_LIMIT_FAILURES and
RATE_LIMIT_WINDOW settings and are generous enough that conformance suites never trip them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..store import Store
from .errors import TooManyRequests


def keys(kind: str, peer: str | None) -> list[str]:
    """The counter one failed attempt counts against: its kind (client authentication, sign-in) at its address.
    A client or user is never counted on its own, so failures sent from one address cannot lock them out
    everywhere; counting the client or user at the address as well would add nothing, since with one threshold
    that count can never pass the address's own."""
    return [f"{kind}-from:{peer or 'unknown'}"]


def check(store: Store, settings: Mapping[str, Any], *keys: str) -> None:
    """Raise TooManyRequests when any key has reached the failure threshold within the window."""
    now = int(time.time())
    window, limit = settings["RATE_LIMIT_WINDOW"], settings["RATE_LIMIT_FAILURES"]
    for key in keys:
        # One read on the (key, at) index: how many of the newest `limit` failures fall in the window, and the
        # oldest of them (when it leaves the window, an attempt is allowed again).
        count, oldest = store.conn.execute(
            "SELECT count(*), min(at) FROM (SELECT at FROM auth_failures WHERE key = ? AND at > ? "
            "ORDER BY at DESC LIMIT ?)", (key, now - window, limit)).fetchone()
        if count >= limit:
            retry_after = max(1, oldest + window - now)
            raise TooManyRequests(f"Too many failed attempts; try again in {retry_after} seconds", retry_after)


def note_failure(store: Store, settings: Mapping[str, Any], *keys: str) -> None:
    """Count one failure against each key (failures older than the window are pruned in the background)."""
    now = int(time.time())
    with store.transaction() as conn:
        conn.executemany("INSERT INTO auth_failures (key, at) VALUES (?, ?)", [(key, now) for key in keys])
