"""Bounded growth: what the authorization server is done with is pruned by the RETENTION setting, the rest kept."""

from __future__ import annotations

import json
import time

import pytest

from sandbox import settings as settings_module
from sandbox.auth import audit, ensure_schema, pruning
from sandbox.store import Store

DAY = 24 * 3600
NOW = 1_900_000_000  # a fixed "now" for the prune


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "prune.sqlite"))
    ensure_schema(store)
    return store


def settings(**overrides):
    return settings_module.load({"DB": ":memory:", **overrides})


def fill(store, name: str, expires_at: int) -> None:
    """One row of each kind, named ``name``, whose use ends at ``expires_at`` (an audit event happens then)."""
    conn = store.conn
    conn.execute("INSERT INTO audit_events (at, event, outcome, rule, detail) VALUES (?, 'token.issued', 'success', "
                 "?, '{}')", (pruning.instant(expires_at), name))
    conn.execute("INSERT INTO tokens (token_hash, kind, family_id, client_id, scope, context, issued_at, expires_at) "
                 "VALUES (?, 'access', 'f', 'app', 's', '{}', 0, ?)", (name, expires_at))
    conn.execute("INSERT INTO codes (code_hash, client_id, redirect_uri, code_challenge, scope, context, created_at, "
                 "expires_at) VALUES (?, 'app', 'r', 'c', 's', '{}', 0, ?)", (name, expires_at))
    conn.execute("INSERT INTO launches (id, secret, client_id, user_id, context, created_at, expires_at) "
                 "VALUES (?, ?, 'app', 'u', '{}', 0, ?)", (name, name, expires_at))
    conn.execute("INSERT INTO pending_authorizations (id, request, context, csrf, created_at, expires_at) "
                 "VALUES (?, ?, '{}', 'x', 0, ?)", (name, json.dumps({}), expires_at))
    conn.execute("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, 'u', 0, ?)",
                 (name, expires_at))
    conn.execute("INSERT INTO assertion_ids (client_id, jti, expires_at) VALUES ('app', ?, ?)", (name, expires_at))
    conn.execute("INSERT INTO auth_failures (key, at) VALUES (?, ?)", (name, expires_at))


KINDS = {"audit_events": "rule", "tokens": "token_hash", "codes": "code_hash", "launches": "id",
         "pending_authorizations": "id", "sessions": "id", "assertion_ids": "jti", "auth_failures": "key"}


def kept(store) -> dict[str, list[str]]:
    return {table: sorted(row[0] for row in store.conn.execute(f"SELECT {column} FROM {table}"))
            for table, column in KINDS.items()}


def test_pruning_removes_what_ended_longer_ago_than_the_retention_and_keeps_the_rest(store):
    fill(store, "a-8-days-ago", NOW - 8 * DAY)
    fill(store, "b-6-days-ago", NOW - 6 * DAY)
    fill(store, "c-a-minute-ago", NOW - 60)
    fill(store, "d-in-an-hour", NOW + 3600)

    removed = pruning.prune(store, settings(), now=NOW)  # the default keeps a week

    week = ["b-6-days-ago", "c-a-minute-ago", "d-in-an-hour"]
    assert kept(store) == {
        "audit_events": week, "tokens": week, "codes": week, "launches": week, "pending_authorizations": week,
        "sessions": week,
        "assertion_ids": ["d-in-an-hour"],  # a jti is kept only while its assertion could be accepted
        "auth_failures": ["c-a-minute-ago", "d-in-an-hour"],  # failures only while they count (RATE_LIMIT_WINDOW)
    }
    assert removed == {"audit_events": 1, "tokens": 1, "codes": 1, "launches": 1, "pending_authorizations": 1,
                       "sessions": 1, "assertion_ids": 3, "auth_failures": 2, "scratch apps": 0}


def test_the_retention_setting_decides_how_long_ended_rows_stay(store):
    fill(store, "a-two-days-ago", NOW - 2 * DAY)
    fill(store, "b-an-hour-ago", NOW - 3600)
    pruning.prune(store, settings(RETENTION=DAY), now=NOW)
    assert kept(store)["audit_events"] == kept(store)["tokens"] == ["b-an-hour-ago"]


def test_pruning_goes_in_batches_until_nothing_is_left(store, monkeypatch):
    monkeypatch.setattr(pruning, "BATCH", 3)
    for n in range(10):
        fill(store, f"old-{n}", NOW - 30 * DAY)
    assert pruning.prune(store, settings(), now=NOW)["tokens"] == 10
    assert kept(store)["tokens"] == []


def test_a_reused_refresh_token_is_still_recognised_within_the_retention(store):
    """Pruning keeps a rotated-out refresh token until RETENTION after its expiry, so presenting it then still
    revokes its family (RFC 9700 §4.14.2)."""
    from sandbox.auth import tokens

    now = int(time.time())
    first = tokens.issue(store, family_id="fam", client_id="app", scope="offline_access", access_lifetime=60,
                         refresh_expires_at=now + 120, now=now)
    tokens.rotate(store, first.refresh_token, access_scope="offline_access", access_lifetime=60,
                  refresh_expires_at=now + 120, now=now)
    pruning.prune(store, settings(), now=now + 3 * DAY)  # long after every token of the family expired
    assert tokens.find(store, first.refresh_token).rotated_at == now


def test_workers_prune_in_the_background(store):
    fill(store, "old", int(time.time()) - 30 * DAY)
    audit.record(store, "token.issued", rule="recent")
    stop = pruning.start(store, settings(PRUNE_EVERY=0.05))
    try:
        deadline = time.monotonic() + 10
        while kept(store)["tokens"] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
    assert kept(store)["tokens"] == [] and kept(store)["audit_events"] == ["recent"]


def test_no_background_pruning_when_it_is_turned_off(store):
    assert pruning.start(store, settings(PRUNE_EVERY=0)) is None
