"""Snapshots and resetting everything: the first seed is kept, a reset or restore brings back exactly what was saved
(apps, tokens, trail, data) under a running server's open connections, and only the administrator may do it."""

from __future__ import annotations

import re
import sqlite3

import pytest
from authorize_support import hidden, sign_in
from click.testing import CliRunner

from sandbox import bootstrap, snapshots
from sandbox.app import create_app
from sandbox.auth.clients import ClientRegistry
from sandbox.cli import main
from sandbox.settings import load
from sandbox.store import Store

APP = {"client_name": "Registered after the seed", "token_endpoint_auth_method": "none",
       "grant_types": ["authorization_code"], "redirect_uris": ["http://127.0.0.1:9/cb"], "scope": "patient/*.rs"}


def count(db, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.fixture
def prepared(tmp_path):
    """A sandbox database made as `make run` makes it: prepare() seeds it and keeps the first seed."""
    values = load({"DB": str(tmp_path / "sandbox.sqlite"), "PATIENTS": 2, "SEED": 3, "ANCHOR_DATE": "2026-06-01"})
    bootstrap.prepare(values, echo=lambda line: None)
    return values


def test_the_first_seed_is_kept_and_reset_all_returns_to_it_under_an_open_connection(prepared):
    db = prepared["DB"]
    assert snapshots.get(db, snapshots.FIRST_SEED).size > 0
    store = Store(db)  # a worker's connection, open across the reset
    patients = count(db, "SELECT count(*) FROM resources WHERE type = 'Patient'")
    ClientRegistry(store, "http://localhost").register(APP, origin="test")
    store.conn.execute("INSERT INTO audit_events (at, event, outcome) VALUES ('2026-06-01', 'signin', 'success')")
    store.conn.execute("DELETE FROM resources WHERE type = 'Patient' AND id = 'story-diabetes'")
    keys = count(db, "SELECT count(*) FROM signing_keys")

    result = CliRunner().invoke(main, ["--db", db, "reset", "--all"])
    assert result.exit_code == 0, result.output
    assert "back to its first seed" in result.output
    names = {c.client_name for c in ClientRegistry(store, "http://localhost").list()}
    assert "Registered after the seed" not in names and "Sandbox Demo App" in names  # seen through the old connection
    assert store.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == 0
    assert count(db, "SELECT count(*) FROM resources WHERE type = 'Patient'") == patients
    assert store.current("Patient", "story-diabetes") is not None
    assert count(db, "SELECT count(*) FROM signing_keys") == keys
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reset_all_fresh_builds_the_first_seed_again_keeping_the_keys(prepared):
    db = prepared["DB"]
    snapshots.get(db, snapshots.FIRST_SEED).path.unlink()
    key_before = Store(db).conn.execute("SELECT kid FROM signing_keys").fetchall()
    secret_before = Store(db).secret("flask_secret_key")
    result = CliRunner().invoke(main, ["--db", db, "--patients", "2", "--seed", "3", "--anchor-date", "2026-06-01",
                                       "reset", "--all"])
    assert result.exit_code == 0, result.output
    assert "Building the first-seed state" in result.output
    assert snapshots.get(db, snapshots.FIRST_SEED)
    assert Store(db).conn.execute("SELECT kid FROM signing_keys").fetchall() == key_before
    assert Store(db).secret("flask_secret_key") == secret_before
    assert not [p for p in snapshots.folder(db).parent.iterdir() if "building" in p.name]


def test_snapshots_save_list_restore_and_refuse_bad_names(prepared):
    db = prepared["DB"]
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db, "snapshot", "save", "monday-demo"]).exit_code == 0
    ClientRegistry(Store(db), "http://localhost").register(APP, origin="test")
    listed = runner.invoke(main, ["--db", db, "snapshot", "list"]).output
    assert "monday-demo" in listed and "first-seed" in listed
    assert runner.invoke(main, ["--db", db, "snapshot", "restore", "monday-demo"]).exit_code == 0
    assert "Registered after the seed" not in {c.client_name for c in ClientRegistry(Store(db)).list()}
    for bad in ("../escape", "a b", "", "x" * 65):
        refused = runner.invoke(main, ["--db", db, "snapshot", "save", bad])
        assert refused.exit_code == 2 and "not a snapshot name" in refused.output
    missing = runner.invoke(main, ["--db", db, "snapshot", "restore", "nope"])
    assert missing.exit_code == 2 and "no snapshot named 'nope'" in missing.output
    assert runner.invoke(main, ["--db", db, "reset", "--fresh"]).exit_code == 2


def test_a_snapshot_without_newer_columns_is_brought_up_to_date(prepared):
    db = prepared["DB"]
    snapshot = snapshots.save(db, "old")
    with sqlite3.connect(snapshot.path) as conn:
        conn.execute("ALTER TABLE clients DROP COLUMN owner")  # as saved by a version before app owners
    conn.close()
    snapshots.restore(db, "old")
    assert "owner" in {row[1] for row in Store(db).conn.execute("PRAGMA table_info(clients)")}


@pytest.fixture
def admin_site(prepared):
    app = create_app({"DB": prepared["DB"], "BASE_URL": "http://localhost", "TESTING": True})
    return app


def test_only_the_administrator_reaches_the_page(admin_site):
    clinician = admin_site.test_client()
    sign_in(clinician, "lori.mcdonald", "/admin/")
    assert clinician.get("/admin/").status_code == 403
    assert clinician.post("/admin/reset").status_code in (400, 403)
    assert admin_site.test_client().get("/admin/").status_code == 302  # not signed in: to the sign-in page


def test_the_administrator_resets_saves_and_restores_from_the_page(admin_site, prepared):
    db = prepared["DB"]
    admin = admin_site.test_client()
    sign_in(admin, "admin", "/admin/")
    page = admin.get("/admin/")
    assert page.status_code == 200 and "Reset the sandbox" in page.text and "first-seed" in page.text
    csrf = hidden(page.text, "csrf")
    assert admin.post("/admin/reset").status_code == 400  # no CSRF token: nothing done
    saved = admin.post("/admin/snapshots", data={"csrf": csrf, "name": "before-class"})
    assert saved.status_code == 200 and "Saved snapshot" in saved.text
    assert admin.post("/admin/snapshots", data={"csrf": csrf, "name": "first-seed"}).status_code == 400
    bad = admin.post("/admin/snapshots", data={"csrf": csrf, "name": "../x"})
    assert bad.status_code == 400 and "not a snapshot name" in bad.text

    ClientRegistry(Store(db), "http://localhost").register(APP, origin="test")
    done = admin.post("/admin/reset", data={"csrf": csrf})
    assert done.status_code == 200 and "back to its first seed" in done.text
    assert "Registered after the seed" not in {c.client_name for c in ClientRegistry(Store(db)).list()}
    assert admin.get("/admin/").status_code == 302  # everyone was signed out

    sign_in(admin, "admin", "/admin/")
    csrf = hidden(admin.get("/admin/").text, "csrf")
    restored = admin.post("/admin/snapshots/restore", data={"csrf": csrf, "name": "before-class"})
    assert restored.status_code == 200 and re.search("Snapshot before-class restored", restored.text)
    sign_in(admin, "admin", "/admin/")
    csrf = hidden(admin.get("/admin/").text, "csrf")
    missing = admin.post("/admin/snapshots/restore", data={"csrf": csrf, "name": "nope"})
    assert missing.status_code == 404 and "no snapshot named" in missing.text


def test_a_restore_moves_the_cache_counters_past_what_workers_saw(prepared):
    db = prepared["DB"]
    before = dict(Store(db).conn.execute("SELECT name, counter FROM changes").fetchall())
    ClientRegistry(Store(db), "http://localhost").register(APP, origin="test")
    seen = dict(Store(db).conn.execute("SELECT name, counter FROM changes").fetchall())
    snapshots.restore(db, snapshots.FIRST_SEED)
    after = dict(Store(db).conn.execute("SELECT name, counter FROM changes").fetchall())
    assert after["clients"] > seen["clients"] > before["clients"]
    assert all(after[name] > seen[name] for name in seen)
