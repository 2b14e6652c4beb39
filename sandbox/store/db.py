"""SQLite connection and schema: one file holds everything, in WAL mode, shared by worker processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
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
    if path in _checkpointed:
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # a background thread of this process checkpoints instead
    return conn


@contextlib.contextmanager
def rollback_journal(conn: sqlite3.Connection) -> Iterator[None]:
    """Write through a rollback journal instead of the write-ahead log for the duration, when no other
    connection has the file open (else nothing changes). For a load into an empty database that is cheaper:
    new pages go straight into the file, where the log would take each twice (1.2 GB at 1,000 patients), and
    only pages that existed before are journaled, so a crash still leaves the database as it was."""
    try:
        switched = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    except sqlite3.OperationalError:  # another connection holds the log open
        switched = False
    try:
        yield
    finally:
        if switched:
            conn.execute("PRAGMA journal_mode = WAL")


# Databases whose write-ahead log a background thread of this process folds back into the file. SQLite would
# otherwise do it in whichever commit crosses 1,000 pages of log, while that writer holds everyone's turn to
# write: copying megabytes and syncing the file then stalls every waiting request (the p99 of a token request).
_checkpointed: set[str] = set()


def checkpoint_in_background(path: str, every: float = 0.1) -> threading.Event:
    """Checkpoint ``path`` every ``every`` seconds in a daemon thread of this process, outside any writer's turn
    (a passive checkpoint waits for no one), and stop this process's new connections from doing it in a commit.
    Often enough that the log stays short: readers look pages up in it, and a long log makes every read dearer.
    Setting the returned event stops the thread and gives checkpoints back to the commits."""
    path = str(path)
    stop = threading.Event()
    _checkpointed.add(path)
    threading.Thread(target=_checkpoint_loop, args=(path, every, stop), name="sandbox-checkpoint",
                     daemon=True).start()
    return stop


def _checkpoint_loop(path: str, every: float, stop: threading.Event) -> None:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        while not stop.wait(every):
            with contextlib.suppress(sqlite3.Error):  # tried again at the next tick
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        _checkpointed.discard(path)
        conn.close()


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


def forget_connection(path: str | os.PathLike) -> None:
    """Close this thread's shared connection to ``path`` (before the file is removed)."""
    conn = getattr(_local, "connections", {}).pop((os.getpid(), str(path)), None)
    if conn is not None:
        conn.close()


class WriterQueue:
    """Writers of one database file take turns: a lock among the threads of this process, then an exclusive
    ``flock`` on a file beside the database among processes. A waiting writer sleeps in the kernel and wakes as
    soon as the writer before it is done, where SQLite's busy handler would sleep and retry with growing pauses
    (the long tails of a contended database). ``BEGIN IMMEDIATE`` then finds the database free; the busy timeout
    still covers writers that do not queue (another program on the file)."""

    def __init__(self, path: str):
        self.path = path
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.fd: int | None = None
        if path != ":memory:":
            # Opened in this process: an flock belongs to its open file, which a forked child would share.
            self.fd = os.open(path + "-writer", os.O_RDWR | os.O_CREAT, 0o644)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self.lock:
            if self.fd is None:
                yield
                return
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)


_queues: dict[str, WriterQueue] = {}
_queues_lock = threading.Lock()


def writer_queue(path: str) -> WriterQueue:
    """This process's queue of writers of the database at ``path``."""
    queue = _queues.get(path)
    if queue is None or queue.pid != os.getpid():
        with _queues_lock:
            queue = _queues.get(path)
            if queue is None or queue.pid != os.getpid():
                queue = _queues[path] = WriterQueue(path)
    return queue


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection, path: str) -> Iterator[sqlite3.Connection]:
    """A write transaction on ``conn`` in turn with every other writer of ``path``; a nested one joins the
    transaction already open on the connection."""
    if conn.in_transaction:
        yield conn
        return
    with writer_queue(path).turn():
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


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
