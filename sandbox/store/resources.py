"""The resource store: current versions, history, and index maintenance on every write."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from . import db
from .errors import Gone, NotFound, PreconditionFailed
from .indexing import index_rows
from .validation import check_id, check_type


@dataclass(frozen=True)
class Stored:
    """One version of a resource as stored. ``json`` is None for a deletion."""

    type: str
    id: str
    version: int
    last_updated: str
    json: str | None

    @property
    def deleted(self) -> bool:
        return self.json is None

    @property
    def resource(self) -> dict:
        return json.loads(self.json) if self.json else {}

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def method(self) -> str:
        if self.json is None:
            return "DELETE"
        return "POST" if self.version == 1 else "PUT"


def now_instant() -> str:
    """The current time as a FHIR instant with milliseconds, in UTC."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id() -> str:
    return str(uuid.uuid4())


def dumps(resource: dict) -> str:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Prepared:
    """A resource ready to store: its stored form and its index rows (without row ids)."""

    stored: Stored
    index: dict[str, list[tuple]]


def prepare(resource: dict, version: int = 1, last_updated: str | None = None) -> Prepared:
    """Stamp meta.versionId and meta.lastUpdated, serialize and index a resource. Touches no database,
    so bulk loads can do this work in another process."""
    last_updated = last_updated or now_instant()
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = last_updated
    resource = {"resourceType": resource["resourceType"], "id": resource["id"], "meta": meta,
                **{k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}}
    stored = Stored(resource["resourceType"], resource["id"], version, last_updated, dumps(resource))
    return Prepared(stored, index_rows(resource))


class Store:
    """All persistent data of the sandbox, in one SQLite file shared by worker processes."""

    def __init__(self, path: str):
        self.path = str(path)
        self._private: sqlite3.Connection | None = None
        if self.path == ":memory:":
            self._private = db.connect(self.path)
        db.ensure_schema(self.conn)

    @property
    def conn(self) -> sqlite3.Connection:
        return self._private or db.shared_connection(self.path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, in turn with the other writers of the file (db.write_transaction); nests as one."""
        with db.write_transaction(self.conn, self.path) as conn:
            yield conn

    # -- reads ---------------------------------------------------------------------------------

    def current(self, rtype: str, rid: str) -> Stored | None:
        """The current version, deleted or not; None when the resource never existed."""
        row = self.conn.execute(
            "SELECT type, id, version, last_updated, json FROM resources WHERE type = ? AND id = ?", (rtype, rid)
        ).fetchone()
        return Stored(*row) if row else None

    def read(self, rtype: str, rid: str) -> Stored:
        """FHIR read: 404 when unknown, 410 when deleted."""
        stored = self.current(rtype, rid)
        if stored is None:
            raise NotFound(f"{rtype}/{rid} is not known")
        if stored.deleted:
            raise Gone(f"{rtype}/{rid} was deleted", headers={"ETag": stored.etag})
        return stored

    def vread(self, rtype: str, rid: str, version: int) -> Stored:
        stored = self.current(rtype, rid)
        if stored is None:
            raise NotFound(f"{rtype}/{rid} is not known")
        if stored.version != version:
            row = self.conn.execute(
                "SELECT type, id, version, last_updated, json FROM versions WHERE type = ? AND id = ? AND version = ?",
                (rtype, rid, version),
            ).fetchone()
            if row is None:
                raise NotFound(f"{rtype}/{rid} has no version {version}")
            stored = Stored(*row)
        if stored.deleted:
            raise Gone(f"Version {version} of {rtype}/{rid} is a deletion")
        return stored

    def last_content(self, rtype: str, rid: str) -> Stored | None:
        """The newest version that has content: the current one, or for a deleted resource the version its
        deletion ended (what the resource last was, for judging who may see or write it). None when unknown."""
        stored = self.current(rtype, rid)
        if stored is None or not stored.deleted:
            return stored
        row = self.conn.execute(
            "SELECT type, id, version, last_updated, json FROM versions WHERE type = ? AND id = ? AND json IS NOT NULL "
            "ORDER BY version DESC LIMIT 1", (rtype, rid),
        ).fetchone()
        return Stored(*row) if row else None

    def contents(self, rtype: str, rid: str) -> list[Stored]:
        """Every version of a resource that holds content (deletions left out), newest first."""
        rows = self.conn.execute(
            "SELECT type, id, version, last_updated, json FROM resources WHERE type = ? AND id = ? "
            "AND json IS NOT NULL UNION ALL SELECT type, id, version, last_updated, json FROM versions "
            "WHERE type = ? AND id = ? AND json IS NOT NULL ORDER BY version DESC", (rtype, rid, rtype, rid)).fetchall()
        return [Stored(*row) for row in rows]

    def read_many(self, rids: Iterable[int]) -> list[Stored]:
        """Current versions of the given row ids, in the order given."""
        wanted = list(rids)
        if not wanted:
            return []
        found: dict[int, Stored] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT rid, type, id, version, last_updated, json FROM resources WHERE rid IN ({marks})", chunk
            ):
                found[row[0]] = Stored(*row[1:])
        return [found[r] for r in wanted if r in found]

    def exists(self, rtype: str, rid: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM resources WHERE type = ? AND id = ? AND deleted = 0", (rtype, rid)
        ).fetchone()
        return row is not None

    def count(self, rtype: str | None = None) -> int:
        if rtype:
            sql, args = "SELECT count(*) FROM resources WHERE deleted = 0 AND type = ?", (rtype,)
        else:
            sql, args = "SELECT count(*) FROM resources WHERE deleted = 0", ()
        return self.conn.execute(sql, args).fetchone()[0]

    # -- writes --------------------------------------------------------------------------------

    def create(self, resource: dict) -> Stored:
        """Store a new resource under a new server-assigned id (FHIR create)."""
        resource = dict(resource, id=new_id())
        with self.transaction():
            return self._write(resource, previous=None)

    def update(self, resource: dict, if_match: int | None = None) -> tuple[Stored, bool]:
        """Store a new version under the resource's own id; creates it when unknown (update as create).

        Returns the stored version and whether it was created. ``if_match`` is the version the client
        last saw (FHIR R4 §3.1.0.5.4 version-aware updates): a different current version fails with 412.
        """
        check_type(resource["resourceType"])
        check_id(resource["id"])
        with self.transaction():
            previous = self.current(resource["resourceType"], resource["id"])
            if if_match is not None:
                current_version = previous.version if previous and not previous.deleted else None
                if current_version != if_match:
                    raise PreconditionFailed(
                        f"If-Match asked for version {if_match} but the current version is "
                        f"{current_version if current_version is not None else 'absent'}"
                    )
            return self._write(resource, previous), previous is None or previous.deleted

    def referrers(self, rtype: str, rid: str, limit: int = 10) -> tuple[list[str], int]:
        """The first ``limit`` current resources (as ``Type/id``) whose indexed references point at
        rtype/rid, not counting the resource itself, and how many there are in all."""
        where = ("FROM idx_reference x JOIN resources s ON s.rid = x.rid AND s.deleted = 0 "
                 "WHERE x.target_id = ? AND x.target_type = ? AND NOT (s.type = ? AND s.id = ?)")
        args = (rid, rtype, rtype, rid)
        total = self.conn.execute(f"SELECT count(DISTINCT s.rid) {where}", args).fetchone()[0]
        rows = self.conn.execute(f"SELECT DISTINCT s.type, s.id {where} ORDER BY s.type, s.id LIMIT ?",
                                 (*args, limit)).fetchall()
        return [f"{t}/{i}" for t, i in rows], total

    def delete(self, rtype: str, rid: str) -> Stored | None:
        """Record a deletion. Returns the deletion's version, or None when there was nothing to delete."""
        with self.transaction() as conn:
            previous = self.current(rtype, rid)
            if previous is None or previous.deleted:
                return None
            self._archive(previous)
            stored = Stored(rtype, rid, previous.version + 1, now_instant(), None)
            conn.execute(
                "UPDATE resources SET version = ?, last_updated = ?, deleted = 1, json = NULL "
                "WHERE type = ? AND id = ?",
                (stored.version, stored.last_updated, rtype, rid),
            )
            self._clear_index(self._rid(rtype, rid))
            return stored

    def load(self, resources: Iterable[dict]) -> int:
        """Store many resources with their own ids in one transaction (seeding and import).

        Each becomes a new version of any resource already stored under the same id.
        """
        moment = now_instant()  # one bulk load, one instant
        return self.load_prepared([prepare(resource, 1, moment) for resource in resources])

    def load_prepared(self, batch: list[Prepared]) -> int:
        """Store prepared version-1 resources. New ones, the common case, are inserted and indexed in
        bulk (one statement per index table); one already stored gets a new version instead."""
        if not batch:
            return 0
        index: dict[str, list[tuple]] = {}
        with self.transaction() as conn:
            known = self._known_ids([p.stored for p in batch])
            for item in batch:
                stored = item.stored
                key = (stored.type, stored.id)
                if key in known:
                    self._write(stored.resource, self.current(*key))
                    continue
                rid = conn.execute(
                    "INSERT INTO resources (type, id, version, last_updated, deleted, json) VALUES (?, ?, 1, ?, 0, ?)",
                    (stored.type, stored.id, stored.last_updated, stored.json),
                ).lastrowid
                known.add(key)  # a second entry with the same id in this batch becomes version 2
                for table, rows in item.index.items():
                    if rows:
                        index.setdefault(table, []).extend((rid, *row) for row in rows)
            self._insert_index(index)
        return len(batch)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """One transaction for a large load. Into an empty store, the search index tables are filled
        without their indexes, which are built once at the end: sorting once beats millions of b-tree
        inserts; and the load goes straight into the file (db.rollback_journal). The connection also gets a
        larger page cache, and helper threads for those sorts, for the duration."""
        conn = self.conn
        empty = conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is None
        cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute("PRAGMA cache_size = -1000000")
        conn.execute(f"PRAGMA threads = {os.cpu_count() or 1}")
        try:
            with db.rollback_journal(conn) if empty else nullcontext(), self.transaction():
                if empty:
                    for (name,) in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
                        f"({','.join('?' * len(db.INDEX_TABLES))})", db.INDEX_TABLES,
                    ).fetchall():
                        conn.execute(f"DROP INDEX {name}")
                yield
                db.create_indexes(conn)  # builds the dropped indexes again
                if empty:
                    from .reindex import mark_indexed  # (reindex.py builds on this module)

                    mark_indexed(conn)  # every index row was made under the current definitions
        finally:
            conn.execute(f"PRAGMA cache_size = {cache}")
            conn.execute("PRAGMA threads = 0")
        self.analyze()

    def _known_ids(self, batch: list[Stored]) -> set[tuple[str, str]]:
        """The (type, id) pairs of the batch that are already stored."""
        by_type: dict[str, list[str]] = {}
        for stored in batch:
            by_type.setdefault(stored.type, []).append(stored.id)
        known = set()
        for rtype, ids in by_type.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                known.update((rtype, row[0]) for row in self.conn.execute(
                    f"SELECT id FROM resources WHERE type = ? AND id IN ({marks})", [rtype, *chunk]))
        return known

    def _write(self, resource: dict, previous: Stored | None) -> Stored:
        prepared = prepare(resource, previous.version + 1 if previous else 1)
        stored = prepared.stored
        conn = self.conn
        if previous is None:
            cursor = conn.execute(
                "INSERT INTO resources (type, id, version, last_updated, deleted, json) VALUES (?, ?, ?, ?, 0, ?)",
                (stored.type, stored.id, stored.version, stored.last_updated, stored.json),
            )
            rid = cursor.lastrowid
        else:
            self._archive(previous)
            rid = self._rid(stored.type, stored.id)
            conn.execute(
                "UPDATE resources SET version = ?, last_updated = ?, deleted = 0, json = ? WHERE rid = ?",
                (stored.version, stored.last_updated, stored.json, rid),
            )
            self._clear_index(rid)
        self._insert_index({table: [(rid, *row) for row in rows] for table, rows in prepared.index.items()})
        return stored

    def _archive(self, previous: Stored) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO versions (type, id, version, last_updated, method, json) VALUES (?, ?, ?, ?, ?, ?)",
            (previous.type, previous.id, previous.version, previous.last_updated, previous.method, previous.json),
        )

    def _rid(self, rtype: str, rid: str) -> int:
        return self.conn.execute("SELECT rid FROM resources WHERE type = ? AND id = ?", (rtype, rid)).fetchone()[0]

    def _insert_index(self, rows_by_table: dict[str, list[tuple]]) -> None:
        conn = self.conn
        for table, rows in rows_by_table.items():
            if rows:
                marks = ",".join("?" * len(rows[0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def _clear_index(self, rid: int) -> None:
        for table in db.INDEX_TABLES:
            self.conn.execute(f"DELETE FROM {table} WHERE rid = ?", (rid,))

    # -- history ---------------------------------------------------------------------------------

    def history(self, rtype: str | None = None, rid: str | None = None, since: str | None = None,
                count: int = 20, offset: int = 0) -> tuple[list[Stored], int]:
        """Versions newest first, for one resource, one type or the whole server, and their total."""
        where, args = [], []
        if rtype:
            where.append("type = ?")
            args.append(rtype)
        if rid:
            where.append("id = ?")
            args.append(rid)
        if since:
            where.append("last_updated >= ?")
            args.append(since)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        union = (
            f"SELECT type, id, version, last_updated, json FROM resources {clause} "
            f"UNION ALL SELECT type, id, version, last_updated, json FROM versions {clause}"
        )
        total = self.conn.execute(f"SELECT count(*) FROM ({union})", args * 2).fetchone()[0]
        rows = self.conn.execute(
            f"SELECT * FROM ({union}) ORDER BY last_updated DESC, version DESC LIMIT ? OFFSET ?",
            [*args, *args, count, offset],
        ).fetchall()
        return [Stored(*row) for row in rows], total

    # -- secrets ---------------------------------------------------------------------------------

    def secret(self, name: str, make=lambda: secrets.token_urlsafe(32)) -> str:
        """A persistent secret shared by every worker: created once, then read back."""
        conn = self.conn
        row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        if row:
            return row[0]
        with self.transaction():
            conn.execute("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", (name, make()))
        return conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()[0]

    def analyze(self) -> None:
        """Refresh the query planner's statistics after bulk loads. Sampling a few thousand rows of each index
        tells the planner as much as reading millions (1.5 s at 1,000 patients) and takes a blink."""
        self.conn.execute("PRAGMA analysis_limit = 2000")
        self.conn.execute("ANALYZE")
