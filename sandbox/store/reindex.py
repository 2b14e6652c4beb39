"""Keep the search index tables in step with the search parameter definitions they were filled from.

The index tables hold what searchparams.py's definitions read from each resource. When those definitions change
(a new release of the generated file), a database filled under the old ones would answer searches wrongly, so
the digest of the definitions is stored with the data, and a database with another digest has its index tables
refilled from the stored JSON before the server starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from . import db
from .indexing import INDEX_FORMAT, index_rows
from .resources import Store
from .searchparams import DIGEST as DEFINITIONS_DIGEST

DIGEST_KEY = "search_parameters_digest"
DIGEST = f"{DEFINITIONS_DIGEST}-{INDEX_FORMAT}"  # the definitions and the way rows are made from them
BATCH = 2000


def indexed_digest(store: Store) -> str | None:
    row = store.conn.execute("SELECT value FROM store_meta WHERE name = ?", (DIGEST_KEY,)).fetchone()
    return row[0] if row else None


def mark_indexed(conn) -> None:
    """Record that the index tables follow the current definitions (inside the caller's transaction)."""
    conn.execute("INSERT OR REPLACE INTO store_meta (name, value) VALUES (?, ?)", (DIGEST_KEY, DIGEST))


def reindex_if_stale(store: Store, echo: Callable[[str], None] = lambda line: None) -> bool:
    """Refill every index table when the database was indexed under other definitions; True when it did.
    One write transaction, so a second process waits and then finds the work done."""
    if indexed_digest(store) == DIGEST:
        return False
    with store.transaction() as conn:
        if indexed_digest(store) == DIGEST:
            return False
        count = conn.execute("SELECT count(*) FROM resources WHERE deleted = 0").fetchone()[0]
        if count:
            echo(f"Search parameter definitions changed: reindexing {count} resources …")
            started = time.monotonic()
            refill(store)
            echo(f"Reindexed {count} resources in {time.monotonic() - started:.1f} s.")
        mark_indexed(conn)
    store.analyze()
    return bool(count)


def refill(store: Store) -> None:
    """Empty the index tables and fill them again from the current version of every resource. The tables'
    indexes are dropped first and built once at the end: sorting once beats millions of b-tree inserts."""
    conn = store.conn
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
        f"({','.join('?' * len(db.INDEX_TABLES))})", db.INDEX_TABLES,
    ).fetchall():
        conn.execute(f"DROP INDEX {name}")
    for table in db.INDEX_TABLES:
        conn.execute(f"DELETE FROM {table}")
    last = 0
    while True:
        rows = conn.execute("SELECT rid, json FROM resources WHERE rid > ? AND deleted = 0 ORDER BY rid LIMIT ?",
                            (last, BATCH)).fetchall()
        if not rows:
            break
        batch: dict[str, list[tuple]] = {}
        for rid, text in rows:
            for table, found in index_rows(json.loads(text)).items():
                batch.setdefault(table, []).extend((rid, *row) for row in found)
        store._insert_index(batch)
        last = rows[-1][0]
    db.create_indexes(conn)
