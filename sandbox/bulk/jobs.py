"""Bulk export jobs, stored in the database so that any worker process can run, resume or report them.

A job is claimed with a lease (DESIGN.md: long work runs as jobs claimed by a background thread of any worker).
The worker running it renews the lease after every batch; when a worker dies, its lease runs out and another
worker claims the job again and starts it over. The manifest is written in the same statement that marks the job
complete, so a status request sees either no manifest or the whole of it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ..store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS bulk_jobs (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    grant_json TEXT NOT NULL,
    request_json TEXT NOT NULL,
    status TEXT NOT NULL,
    transaction_time TEXT NOT NULL,
    created_at REAL NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    progress TEXT,
    manifest_json TEXT,
    error TEXT,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS bulk_jobs_client ON bulk_jobs (client_id, status);
CREATE INDEX IF NOT EXISTS bulk_jobs_status ON bulk_jobs (status, lease_until);
"""

QUEUED, RUNNING, COMPLETE, FAILED = "queued", "running", "complete", "failed"
ACTIVE = (QUEUED, RUNNING)
MAX_ATTEMPTS = 3  # a job that kills its worker every time is reported failed, not retried for ever


@dataclass(frozen=True)
class Job:
    id: str
    client_id: str
    grant: dict[str, Any]  # what the kick-off token allowed: scope, user_id, patient
    request: dict[str, Any]  # the parsed kick-off (bulk/parameters.py: ExportRequest.as_dict)
    status: str
    transaction_time: str
    created_at: float
    lease_owner: str | None
    attempts: int
    progress: str | None
    manifest: dict | None
    error: str | None
    expires_at: float | None


COLUMNS = ("id, client_id, grant_json, request_json, status, transaction_time, created_at, lease_owner, attempts, "
           "progress, manifest_json, error, expires_at")


def ensure_schema(store: Store) -> None:
    store.conn.executescript(SCHEMA)


def worker_name() -> str:
    """Who holds a lease: host, process and thread, so a stale claim can be told from a live one."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _job(row: tuple) -> Job:
    (jid, client_id, grant, request, status, ttime, created, owner, attempts, progress, manifest, error,
     expires) = row
    return Job(jid, client_id, json.loads(grant), json.loads(request), status, ttime, created, owner, attempts,
               progress, json.loads(manifest) if manifest else None, error, expires)


def create(store: Store, client_id: str, grant: dict, request: dict, transaction_time: str) -> Job:
    jid = uuid.uuid4().hex
    with store.transaction() as conn:
        conn.execute("INSERT INTO bulk_jobs (id, client_id, grant_json, request_json, status, transaction_time, "
                     "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (jid, client_id, json.dumps(grant), json.dumps(request), QUEUED, transaction_time, time.time()))
    return get(store, jid)


def get(store: Store, jid: str) -> Job | None:
    row = store.conn.execute(f"SELECT {COLUMNS} FROM bulk_jobs WHERE id = ?", (jid,)).fetchone()
    return _job(row) if row else None


def active_count(store: Store, client_id: str) -> int:
    marks = ",".join("?" * len(ACTIVE))
    return store.conn.execute(f"SELECT count(*) FROM bulk_jobs WHERE client_id = ? AND status IN ({marks})",
                              (client_id, *ACTIVE)).fetchone()[0]


def claim(store: Store, owner: str, lease: float) -> Job | None:
    """Take the oldest job that is waiting, or running under a lease that ran out (its worker died)."""
    now = time.time()
    pick = ("SELECT id FROM bulk_jobs WHERE status = ? OR (status = ? AND lease_until < ?) ORDER BY created_at "
            "LIMIT 1")
    if store.conn.execute(pick, (QUEUED, RUNNING, now)).fetchone() is None:
        return None  # the usual answer, found without taking the write lock
    with store.transaction() as conn:
        row = conn.execute(pick, (QUEUED, RUNNING, now)).fetchone()
        if row is None:
            return None  # another worker was quicker
        conn.execute("UPDATE bulk_jobs SET status = ?, lease_owner = ?, lease_until = ?, attempts = attempts + 1, "
                     "progress = ? WHERE id = ?", (RUNNING, owner, now + lease, "starting", row[0]))
    return get(store, row[0])


def renew(store: Store, job: Job, owner: str, lease: float, progress: str) -> bool:
    """Extend the lease and say how far the job got; False when the job was cancelled or taken over."""
    with store.transaction() as conn:
        changed = conn.execute("UPDATE bulk_jobs SET lease_until = ?, progress = ? WHERE id = ? AND status = ? "
                               "AND lease_owner = ?", (time.time() + lease, progress, job.id, RUNNING, owner)).rowcount
    return changed == 1


def complete(store: Store, job: Job, owner: str, manifest: dict, retention: float) -> bool:
    """Publish the manifest: one UPDATE, so it is seen whole or not at all. ``lease_owner`` stays: who ran it."""
    with store.transaction() as conn:
        changed = conn.execute(
            "UPDATE bulk_jobs SET status = ?, manifest_json = ?, progress = NULL, lease_until = NULL, expires_at = ? "
            "WHERE id = ? AND status = ? AND lease_owner = ?",
            (COMPLETE, json.dumps(manifest), time.time() + retention, job.id, RUNNING, owner)).rowcount
    return changed == 1


def fail(store: Store, job: Job, error: str, retention: float, owner: str | None = None) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE bulk_jobs SET status = ?, error = ?, progress = NULL, lease_owner = NULL, "
                     "lease_until = NULL, expires_at = ? WHERE id = ? AND status IN (?, ?)"
                     + (" AND lease_owner = ?" if owner else ""),
                     (FAILED, error, time.time() + retention, job.id, *ACTIVE, *([owner] if owner else [])))


def delete(store: Store, jid: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM bulk_jobs WHERE id = ?", (jid,))


def expired(store: Store, now: float | None = None) -> list[str]:
    """Finished jobs whose retention time has passed."""
    now = time.time() if now is None else now
    return [row[0] for row in store.conn.execute(
        "SELECT id FROM bulk_jobs WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))]


def all_ids(store: Store) -> set[str]:
    return {row[0] for row in store.conn.execute("SELECT id FROM bulk_jobs")}
