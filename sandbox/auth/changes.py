"""Per-process caches of rows that rarely change (clients, users, signing keys), kept exact across processes.

Every worker process keeps its own copies. A trigger moves the table's counter in the `changes` table on every
insert, update and delete (auth/schema.py), whichever process or command made it, so a copy is used only while
the counter still reads what it read when the copy was made: an edit is seen by the very next request of every
worker, at the cost of one read of the small `changes` table per request: a request reads every counter once,
and again only after it wrote something itself (its connection's change count moved).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import g, has_request_context

from ..store import Store

T = TypeVar("T")
MAX_ENTRIES = 1024  # the cache is dropped whole past this many: lookups of unknown ids cannot grow it without bound


def counter(store: Store, table: str) -> int:
    if not has_request_context():
        row = store.conn.execute("SELECT counter FROM changes WHERE name = ?", (table,)).fetchone()
        return row[0] if row else -1
    conn = store.conn
    seen = (id(conn), conn.total_changes)
    read = g.get("change_counters")
    if read is None or read[0] != seen:
        read = g.change_counters = (seen, dict(conn.execute("SELECT name, counter FROM changes").fetchall()))
    return read[1].get(table, -1)


class TableCache:
    """Values derived from one table's rows, by key, valid while the table's change counter stays put."""

    def __init__(self, table: str):
        self.table = table
        self._by_store: dict[tuple[int, str], tuple[int, dict[Hashable, Any]]] = {}

    def get(self, store: Store, key: Hashable, load: Callable[[], T]) -> T:
        now = counter(store, self.table)  # read before loading: a copy is never older than its counter
        slot = (os.getpid(), store.path if store.path != ":memory:" else str(id(store)))
        seen, entries = self._by_store.get(slot, (None, None))
        if seen != now or entries is None or len(entries) >= MAX_ENTRIES:
            entries = {}
            self._by_store[slot] = (now, entries)
        if key in entries:
            return entries[key]
        value = entries[key] = load()
        return value
