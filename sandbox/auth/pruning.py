"""Bounded growth: what the authorization server is done with is deleted in the background, never by a request.

Audit events older than the RETENTION setting go, and so do tokens, codes, launches, pending authorizations and
sign-ins expired longer than RETENTION ago: until then the activity trail can still show them, a reused code or
refresh token is still recognised (and revokes its family), and an online_access token still finds its session.
Client assertion ids are kept only while their assertion could be accepted, and rate-limit failures only for
RATE_LIMIT_WINDOW. Each server worker prunes every PRUNE_EVERY seconds, in small batches, each batch its own short
write transaction, so requests never wait long behind it.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..store import Store
from .clients import ClientRegistry

BATCH = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    table: str
    column: str  # an indexed column: rows whose value is below the cutoff go
    cutoff: str  # "retention" (now - RETENTION), "now", or "window" (now - RATE_LIMIT_WINDOW)


RULES = (
    Rule("audit_events", "at", "retention"),
    Rule("tokens", "expires_at", "retention"),
    Rule("codes", "expires_at", "retention"),
    Rule("launches", "expires_at", "retention"),
    Rule("pending_authorizations", "expires_at", "retention"),
    Rule("sessions", "expires_at", "retention"),
    Rule("assertion_ids", "expires_at", "now"),
    Rule("auth_failures", "at", "window"),
)


def prune(store: Store, settings: Mapping[str, Any], now: float | None = None) -> dict[str, int]:
    """Delete what every rule says is done with; returns how many rows went, by table."""
    now = time.time() if now is None else now
    cutoffs = {"retention": int(now) - settings["RETENTION"], "now": int(now),
               "window": int(now) - settings["RATE_LIMIT_WINDOW"] + 1}
    removed = {}
    for rule in RULES:
        cutoff: int | str = cutoffs[rule.cutoff]
        if rule.table == "audit_events":  # `at` is a FHIR instant, which sorts as text
            cutoff = instant(now - settings["RETENTION"])
        removed[rule.table] = _delete_below(store, rule, cutoff)
    # scratch apps a day old go with their grants (apps/scratch.py), unless someone kept them
    removed["scratch apps"] = len(ClientRegistry(store).remove_expired_scratch(now))
    return removed


def instant(seconds: float) -> str:
    """A time as audit events keep it: a FHIR instant with milliseconds, in UTC (store.resources.now_instant)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _delete_below(store: Store, rule: Rule, cutoff: int | str) -> int:
    total = 0
    while True:
        with store.transaction() as conn:
            count = conn.execute(
                f"DELETE FROM {rule.table} WHERE rowid IN (SELECT rowid FROM {rule.table} WHERE {rule.column} < ? "
                f"LIMIT {BATCH})", (cutoff,)).rowcount
        total += count
        if count < BATCH:
            return total


def start(store: Store, settings: Mapping[str, Any]) -> threading.Event | None:
    """Prune every PRUNE_EVERY seconds in a daemon thread of this process (a server worker), the first time at a
    random moment within the interval, so that the workers do not all prune at once. Setting the returned event
    stops it."""
    every = settings["PRUNE_EVERY"]
    if every <= 0:
        return None
    stop = threading.Event()
    threading.Thread(target=_loop, args=(store, settings, every, stop), name="sandbox-pruning", daemon=True).start()
    return stop


def _loop(store: Store, settings: Mapping[str, Any], every: float, stop: threading.Event) -> None:
    wait = random.uniform(0, every)
    while not stop.wait(wait):
        try:
            removed = prune(store, settings)
            if any(removed.values()):
                log.info("pruned %s", ", ".join(f"{n} {t}" for t, n in removed.items() if n))
        except Exception:  # a failed pass is logged and tried again next time
            log.exception("pruning failed")
        wait = every
