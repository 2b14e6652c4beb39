"""FHIR requests' audit events are written in batches: held for a fraction of a second, then written together.
Nothing is lost, readers see their own process's events at once, and trails read in the order things happened."""

from __future__ import annotations

import time

from sandbox.auth import audit, ensure_schema
from sandbox.store import Store


def rows(store) -> list[tuple]:
    return store.conn.execute("SELECT event, launch_id FROM audit_events ORDER BY id").fetchall()


def fresh(tmp_path) -> Store:
    store = Store(str(tmp_path / "audit.sqlite"))
    ensure_schema(store)
    return store


def test_batched_events_are_written_within_the_flush_delay(tmp_path):
    store = fresh(tmp_path)
    for n in range(5):
        audit.record_soon(store, "access.allowed", client_id="app", launch_id="trail-1", rule=f"read {n}")
    other = Store(store.path)  # another connection sees only what is written
    deadline = time.monotonic() + 10
    while len(rows(other)) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rows(other) == [("access.allowed", "trail-1")] * 5


def test_readers_flush_their_own_process_first(tmp_path):
    store = fresh(tmp_path)
    audit.record_soon(store, "access.refused", audit.FAILURE, client_id="app", launch_id="trail-2", rule="no")
    assert [e.event for e in audit.recent(store, launch_id="trail-2")] == ["access.refused"]
    audit.record_soon(store, "access.allowed", client_id="app", launch_id="trail-2", rule="yes")
    assert [e.event for e in audit.trail(store, "trail-2")] == ["access.refused", "access.allowed"]


def test_a_trail_reads_in_the_order_things_happened(tmp_path):
    store = fresh(tmp_path)
    audit.record_soon(store, "access.allowed", client_id="app", launch_id="trail-3", rule="read first")
    time.sleep(0.005)
    audit.record(store, "token.refreshed", client_id="app", launch_id="trail-3", rule="then refreshed")
    assert [e.event for e in audit.trail(store, "trail-3")] == ["access.allowed", "token.refreshed"]
    assert rows(store)[0][0] == "token.refreshed"  # written first, yet read second


def test_nothing_is_left_behind_at_exit(tmp_path):
    store = fresh(tmp_path)
    audit.record_soon(store, "access.allowed", client_id="app", launch_id="trail-4", rule="last request")
    audit._flush_all()  # what the interpreter runs at exit
    assert rows(Store(store.path)) == [("access.allowed", "trail-4")]
