"""A token request writes in one transaction: what it spends (a launch, a code, a refresh token), what it issues
and its audit events are all written or none. The failure is a real one of the database: a trigger that refuses
a row, as a full disk or a constraint would."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest
from authorize_support import DEMO, DEMO_REDIRECT, authorize_params, query_of
from oauth_support import clinician, code_form, exchange, issue, new_verifier, public_app

from sandbox.auth import audit, launch_context, tokens
from sandbox.auth.codes import look_up

SCOPE = "openid fhirUser launch/patient offline_access patient/*.rs"


def refuse_rows(store, table: str, when: str = "1") -> None:
    """Make the database refuse new rows of ``table`` (those matching ``when``), as a failing disk would."""
    store.conn.execute(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {when} "
                       "BEGIN SELECT RAISE(ABORT, 'the database refused the row'); END")


def accept_rows(store, table: str) -> None:
    store.conn.execute(f"DROP TRIGGER refuse_{table}")


def events(store, client_id: str) -> list[str]:
    return [e.event for e in reversed(audit.recent(store, client_id=client_id))]


def token_rows(store, client_id: str) -> int:
    return store.conn.execute("SELECT count(*) FROM tokens WHERE client_id = ?", (client_id,)).fetchone()[0]


def test_a_code_exchange_that_fails_half_way_spends_no_code_and_issues_no_token(client, store):
    app = public_app(store)
    clinician(store)
    verifier = new_verifier()
    code = issue(store, app, verifier, scope=SCOPE, user_id="alice.smith", context={"patient": "pat-1"})
    refuse_rows(store, "audit_events", "NEW.event = 'token.issued'")  # the last write of the exchange fails

    with pytest.raises(sqlite3.IntegrityError):
        client.post("/auth/token", data=code_form(code, verifier, client_id=app.client_id))

    assert look_up(store, code).grant is not None  # the code is still unused
    assert token_rows(store, app.client_id) == 0
    assert "token.issued" not in events(store, app.client_id)

    accept_rows(store, "audit_events")
    response = client.post("/auth/token", data=code_form(code, verifier, client_id=app.client_id))
    assert response.status_code == 200, response.json
    assert look_up(store, code).problem == "The authorization code was already used"
    assert tokens.active_token(store, response.json["access_token"]).client_id == app.client_id
    assert token_rows(store, app.client_id) == 2  # the access token and the refresh token
    assert events(store, app.client_id) == ["token.issued"]


def test_a_refresh_that_fails_half_way_leaves_the_refresh_token_usable(client, store):
    app = public_app(store)
    clinician(store)
    granted = exchange(client, store, app, scope=SCOPE, user_id="alice.smith", context={"patient": "pat-1"}).json
    refuse_rows(store, "tokens")
    form = {"grant_type": "refresh_token", "refresh_token": granted["refresh_token"], "client_id": app.client_id}

    with pytest.raises(sqlite3.IntegrityError):
        client.post("/auth/token", data=form)

    assert tokens.find(store, granted["refresh_token"]).rotated_at is None  # not rotated: no reuse to detect later
    assert "token.refreshed" not in events(store, app.client_id)
    accept_rows(store, "tokens")
    response = client.post("/auth/token", data=form)
    assert response.status_code == 200, response.json
    assert events(store, app.client_id) == ["token.issued", "token.refreshed"]


@pytest.mark.seeded
def test_an_authorize_request_that_fails_half_way_takes_no_launch_issues_no_code_and_records_nothing(client, store):
    launch = launch_context.create(store, DEMO, "lori.mcdonald", None, {"patient": "story-child"}, 300,
                                   skip_login=True, skip_consent=True)
    params = authorize_params(scope="launch openid fhirUser patient/*.rs", launch=launch.secret)
    codes_before = store.conn.execute("SELECT count(*) FROM codes").fetchone()[0]
    refuse_rows(store, "codes")

    with pytest.raises(sqlite3.IntegrityError):
        client.get("/auth/authorize", query_string=params)

    assert store.conn.execute("SELECT used_at FROM launches WHERE id = ?", (launch.id,)).fetchone() == (None,)
    assert store.conn.execute("SELECT count(*) FROM codes").fetchone()[0] == codes_before
    assert [e.event for e in audit.trail(store, launch.id)] == ["launch.created"]

    accept_rows(store, "codes")
    response = client.get("/auth/authorize", query_string=params)  # the same launch: it was never taken
    assert response.status_code == 302 and response.headers["Location"].startswith(DEMO_REDIRECT)
    assert look_up(store, query_of(response.headers["Location"])["code"]).grant.launch_id == launch.id
    assert [e.event for e in audit.trail(store, launch.id)] == \
        ["launch.created", "authorize.requested", "authorize.approved", "code.issued"]


@pytest.mark.seeded
def test_an_authorize_request_that_asks_nothing_of_anyone_stores_no_pending_request(client, store):
    launch = launch_context.create(store, DEMO, "lori.mcdonald", None, {"patient": "story-child"}, 300,
                                   skip_login=True, skip_consent=True)
    pending_before = store.conn.execute("SELECT count(*) FROM pending_authorizations").fetchone()[0]
    response = client.get("/auth/authorize", query_string=authorize_params(
        scope="launch openid fhirUser patient/*.rs", launch=launch.secret))
    assert response.status_code == 302 and "code=" in response.headers["Location"]
    assert store.conn.execute("SELECT count(*) FROM pending_authorizations").fetchone()[0] == pending_before


def test_the_write_ahead_log_is_folded_back_in_the_background_not_in_a_commit(tmp_path):
    from sandbox.store import db

    path = str(tmp_path / "checkpoint.sqlite")
    db.connect(path).execute("CREATE TABLE rows (value TEXT)")
    stop = db.checkpoint_in_background(path, every=0.05)
    try:
        conn = db.connect(path)
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)  # no commit stalls to checkpoint
        for _ in range(30):
            with db.write_transaction(conn, path):
                conn.executemany("INSERT INTO rows VALUES (?)", [("x" * 1000,)] * 20)
        file_size = os.path.getsize(path)
        deadline = time.monotonic() + 10
        while os.path.getsize(path) == file_size and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.path.getsize(path) > file_size  # the logged pages reached the database file
    finally:
        stop.set()
    time.sleep(0.2)
    assert db.connect(path).execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)  # commits do it again
