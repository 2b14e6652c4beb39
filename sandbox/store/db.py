"""SQLite connection and schema: one file holds everything, in WAL mode, shared by worker processes."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import sqlite_utils

BUSY_TIMEOUT_MS = 15_000

# Resources keep their current version in `resources`; earlier versions move to `versions` when a
# resource is updated or deleted, so seeding writes each resource once. Search index tables are
# keyed by the resource's row id and filled on every write (see store/indexing.py).
SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    rid INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    json TEXT,
    UNIQUE (type, id)
);
CREATE INDEX IF NOT EXISTS resources_type_updated ON resources (type, last_updated);
CREATE INDEX IF NOT EXISTS resources_updated ON resources (last_updated);

CREATE TABLE IF NOT EXISTS versions (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    method TEXT NOT NULL,
    json TEXT,
    PRIMARY KEY (type, id, version)
);
CREATE INDEX IF NOT EXISTS versions_updated ON versions (last_updated);

CREATE TABLE IF NOT EXISTS idx_token (
    rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT, code TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_token_lookup ON idx_token (type, param, code, system, rid);
CREATE INDEX IF NOT EXISTS idx_token_rid ON idx_token (rid, param);

CREATE TABLE IF NOT EXISTS idx_string (
    rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT NOT NULL, norm TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_string_lookup ON idx_string (type, param, norm, rid);
CREATE INDEX IF NOT EXISTS idx_string_rid ON idx_string (rid, param);

CREATE TABLE IF NOT EXISTS idx_date (
    rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    start TEXT NOT NULL, "end" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_date_lookup ON idx_date (type, param, start, rid);
CREATE INDEX IF NOT EXISTS idx_date_rid ON idx_date (rid, param, start);

CREATE TABLE IF NOT EXISTS idx_reference (
    rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    target_type TEXT NOT NULL, target_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_reference_lookup ON idx_reference (type, param, target_id, target_type, rid);
CREATE INDEX IF NOT EXISTS idx_reference_target ON idx_reference (target_id, target_type, type, param, rid);
CREATE INDEX IF NOT EXISTS idx_reference_rid ON idx_reference (rid, param);

-- Numbers and quantities: [low, high] is the value (low = high) or a Range; canon_* hold the value in the UCUM
-- unit without metric prefixes (store/ucum.py), when the unit is one.
CREATE TABLE IF NOT EXISTS idx_quantity (
    rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT, code TEXT, low REAL, high REAL, canon TEXT, canon_low REAL, canon_high REAL
);
CREATE INDEX IF NOT EXISTS idx_quantity_lookup ON idx_quantity (type, param, canon, canon_low, rid);
CREATE INDEX IF NOT EXISTS idx_quantity_rid ON idx_quantity (rid, param);

-- Composite parameters: the first component is a token (system, code); the second is in the columns of its
-- type (token: v_system, v_code; quantity: v_system, v_code, v_low … v_canon_high; date: v_start, v_end;
-- string: v_code, v_norm), both read from the same element.
CREATE TABLE IF NOT EXISTS idx_composite (
    rid INTEGER NOT NULL, type TEXT NOT NULL, param TEXT NOT NULL, system TEXT, code TEXT NOT NULL,
    v_system TEXT, v_code TEXT, v_low REAL, v_high REAL, v_canon TEXT, v_canon_low REAL, v_canon_high REAL,
    v_start TEXT, v_end TEXT, v_norm TEXT
);
CREATE INDEX IF NOT EXISTS idx_composite_lookup ON idx_composite (type, param, code, system, rid);
CREATE INDEX IF NOT EXISTS idx_composite_rid ON idx_composite (rid, param);

CREATE TABLE IF NOT EXISTS compartment (
    rid INTEGER NOT NULL, type TEXT NOT NULL, patient_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS compartment_patient ON compartment (patient_id, type, rid);
DROP INDEX IF EXISTS compartment_rid;
CREATE INDEX IF NOT EXISTS compartment_member ON compartment (rid, patient_id);

-- Facts about the database itself, such as the digest of the search parameter definitions it was indexed with.
CREATE TABLE IF NOT EXISTS store_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

INDEX_TABLES = ("idx_token", "idx_string", "idx_date", "idx_reference", "idx_quantity", "idx_composite",
                "compartment")

_local = threading.local()


def connect(path: str | os.PathLike) -> sqlite3.Connection:
    """Open a connection with the pragmas every process needs (WAL, busy timeout, foreign keys off)."""
    path = str(path)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def shared_connection(path: str | os.PathLike) -> sqlite3.Connection:
    """One connection per process and thread: worker processes never share a connection made before fork."""
    key = (os.getpid(), str(path))
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = {}
    conn = cache.get(key)
    if conn is None:
        conn = cache[key] = connect(path)
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def create_indexes(conn: sqlite3.Connection) -> None:
    """Create the schema's indexes that are missing, statement by statement (``executescript`` would
    commit the caller's transaction first)."""
    for statement in SCHEMA.split(";"):
        if statement.strip().startswith("CREATE INDEX"):
            conn.execute(statement)


def database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """A sqlite-utils view of the connection, for table helpers (insert_all, counts)."""
    return sqlite_utils.Database(conn)
