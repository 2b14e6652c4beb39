"""How much the database grows per FHIR request made under a token (each writes one audit event), measured on the
served file: the pages in use before and after a run of reads and searches, once the batched events are written
and the write-ahead log is checkpointed into the file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from . import load

FLUSH_WAIT_S = 1.0  # batched audit events are written within 0.2 s (auth/audit.py FLUSH_AFTER)


def used_bytes(db: Path) -> tuple[int, int]:
    """(bytes of the pages in use, audit events) after folding the write-ahead log into the file."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (conn.execute(f"PRAGMA {name}").fetchone()[0]
                             for name in ("page_count", "freelist_count", "page_size"))
        events = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    finally:
        conn.close()
    return (pages - free) * size, events


def measure(address: tuple[str, int], db: Path, token: str, paths: list[str], requests: int) -> dict:
    """Send ``requests`` FHIR GETs (cycling through ``paths``) under ``token``; the growth per request."""
    before, events_before = used_bytes(db)
    client = load.Client(address, load.bearer(token))
    try:
        for n in range(requests):
            client.get(paths[n % len(paths)])
    finally:
        client.close()
    time.sleep(FLUSH_WAIT_S)
    after, events_after = used_bytes(db)
    per_request = (after - before) / requests
    return {"requests": requests, "audit_events": events_after - events_before, "bytes_per_request": per_request,
            "mb_per_million_requests": per_request * 1e6 / 1e6}
