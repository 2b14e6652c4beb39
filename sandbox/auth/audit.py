"""The audit trail: every authorization event, with the client, user, launch and the rule that decided it.

Educators teach from it and the UI shows it, so `rule` is a sentence a person can read
("PKCE code_verifier does not match the code_challenge"), not a code.

The `launch_id` column names the event's *trail*: every event of one authorization shares it, from the launch
or authorize request to the last FHIR request made with its tokens. An EHR launch's trail is its launch id; a
standalone launch gets one minted at its authorize request (`new_trail_id`). Details never hold a usable
secret: codes, access and refresh tokens and verifiers are kept cut short (`short`), client secrets not at all.

FHIR requests under a token are the most frequent events by far (one per request), so they are written in
batches (`record_soon`): each process holds them for at most FLUSH_AFTER seconds, then one background thread of
the process writes them in one transaction, instead of a write transaction per request that the worker processes
queue for; the request only appends its event. Readers of the
trail flush their own process's events first; another process's appear within FLUSH_AFTER. The events keep the
time they happened, and trails are read in that order.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..store import Store
from ..store.resources import now_instant

SUCCESS = "success"
FAILURE = "failure"
STANDALONE_PREFIX = "standalone-"
SHORTENED = ("code", "code_verifier", "refresh_token", "access_token", "token", "client_assertion", "launch")
WITHHELD = ("client_secret", "password")
FLUSH_AFTER = 0.2  # seconds a batched event may wait to be written
log = logging.getLogger(__name__)
INSERT = ("INSERT INTO audit_events (at, event, outcome, client_id, user_id, launch_id, rule, detail) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: str
    event: str
    outcome: str
    client_id: str | None
    user_id: str | None
    launch_id: str | None
    rule: str | None
    detail: dict[str, Any]


def record(store: Store, event: str, outcome: str = SUCCESS, *, client_id: str | None = None,
           user_id: str | None = None, launch_id: str | None = None, rule: str | None = None,
           **detail: Any) -> None:
    """Add one event now. Safe inside or outside a transaction (it joins the caller's)."""
    row = _row(event, outcome, client_id, user_id, launch_id, rule, detail)  # built before any turn to write
    with store.transaction() as conn:
        conn.execute(INSERT, row)


def event_row(event: str, outcome: str = SUCCESS, *, client_id: str | None = None, user_id: str | None = None,
              launch_id: str | None = None, rule: str | None = None, **detail: Any) -> tuple:
    """One event made ready to write (``write``), so that a transaction holds no JSON work."""
    return _row(event, outcome, client_id, user_id, launch_id, rule, detail)


def write(conn, *rows: tuple) -> None:
    """Write events made by ``event_row``, inside the caller's transaction."""
    conn.executemany(INSERT, rows)


def record_soon(store: Store, event: str, outcome: str = SUCCESS, *, client_id: str | None = None,
                user_id: str | None = None, launch_id: str | None = None, rule: str | None = None,
                **detail: Any) -> None:
    """Add one event within FLUSH_AFTER seconds, batched with the others of this process (FHIR requests)."""
    batch = _batch_of(store)
    with batch.lock:
        batch.rows.append(_row(event, outcome, client_id, user_id, launch_id, rule, detail))
        if batch.flusher is None:
            batch.flusher = threading.Thread(target=_flush_loop, args=(batch,), name="sandbox-audit", daemon=True)
            batch.flusher.start()
    batch.waiting.set()


def flush(store: Store) -> None:
    """Write this process's batched events of ``store`` now (in one transaction)."""
    batch = _batches.get(store.path)
    if batch is None or batch.pid != os.getpid():
        return
    with batch.lock:
        rows, batch.rows = batch.rows, []
    if rows:
        with store.transaction() as conn:
            conn.executemany(INSERT, rows)


def _flush_loop(batch: _Batch) -> None:
    """The background writer of one batch: waits for a first event, lets others join it for FLUSH_AFTER
    seconds, writes them all."""
    while True:
        batch.waiting.wait()
        batch.waiting.clear()
        time.sleep(FLUSH_AFTER)
        try:
            flush(batch.store)
        except Exception:  # the events stay lost for this batch only; the next one is tried anew
            log.exception("writing %s audit events failed", batch.store.path)


@dataclass
class _Batch:
    store: Store
    pid: int
    rows: list[tuple] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: threading.Event = field(default_factory=threading.Event)
    flusher: threading.Thread | None = None


_batches: dict[str, _Batch] = {}  # by database path, in this process


def _batch_of(store: Store) -> _Batch:
    batch = _batches.get(store.path)
    if batch is None or batch.pid != os.getpid():  # a forked worker starts with no events of its parent's
        batch = _batches[store.path] = _Batch(store, os.getpid())
    return batch


@atexit.register
def _flush_all() -> None:
    for batch in list(_batches.values()):
        flush(batch.store)


def _row(event: str, outcome: str, client_id: str | None, user_id: str | None, launch_id: str | None,
         rule: str | None, detail: dict[str, Any]) -> tuple:
    return (now_instant(), event, outcome, client_id, user_id, launch_id, rule,
            json.dumps(detail, separators=(",", ":"), default=str))


def moment(at: str) -> dt.datetime:
    """An event's `at` (a FHIR instant in UTC, as now_instant writes it) as an aware datetime."""
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00"))


def new_trail_id() -> str:
    """The trail id of a standalone launch: random, and recognisable as not being an EHR launch id."""
    return STANDALONE_PREFIX + secrets.token_urlsafe(12)


def short(secret: str | None, keep: int = 6) -> str | None:
    """A secret cut to its first characters: enough to tell two apart on screen, never enough to use."""
    return secret[:keep] + "…" if secret else secret


def clipped(value: str, keep: int = 300) -> str:
    """A value sent by a client as the trail keeps it: whole when short, else its first ``keep`` characters."""
    return value if len(value) <= keep else value[:keep] + "…"


def first_few(items: Iterable[str], keep: int = 20, chars: int = 64) -> list[str]:
    """The first ``keep`` of a list sent by a client, each clipped to ``chars``: a row of the trail stays small
    however much was sent. Pair it with the count of all the items when that matters."""
    return [clipped(item, chars) for _, item in zip(range(keep), items, strict=False)]


def safe_params(params: Mapping[str, str]) -> dict[str, str]:
    """Request parameters as the trail keeps them: secrets cut short, client secrets withheld."""
    kept = {}
    for name, value in params.items():
        if name in WITHHELD:
            kept[name] = "(sent; never recorded)"
        elif name in SHORTENED:
            kept[name] = short(value, 10 if name == "launch" else 6)
        else:
            kept[name] = clipped(value)
    return kept


def trail(store: Store, trail_id: str, limit: int = 20000) -> list[AuditEvent]:
    """The events of one trail, oldest first."""
    flush(store)
    rows = store.conn.execute(
        "SELECT id, at, event, outcome, client_id, user_id, launch_id, rule, detail FROM audit_events "
        "WHERE launch_id = ? ORDER BY at, id LIMIT ?", (trail_id, limit)).fetchall()
    return [AuditEvent(*row[:8], json.loads(row[8])) for row in rows]


def recent(store: Store, limit: int = 100, client_id: str | None = None, event: str | None = None,
           before_id: int | None = None, launch_id: str | None = None) -> list[AuditEvent]:
    """Events newest first, optionally for one client, one kind of event or one launch."""
    flush(store)
    where, args = [], []
    for column, value in (("client_id", client_id), ("event", event), ("launch_id", launch_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if before_id is not None:
        where.append("id < ?")
        args.append(before_id)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    rows = store.conn.execute(
        "SELECT id, at, event, outcome, client_id, user_id, launch_id, rule, detail FROM audit_events "
        f"{clause} ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
    return [AuditEvent(*row[:8], json.loads(row[8])) for row in rows]
