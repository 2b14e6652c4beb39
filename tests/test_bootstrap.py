"""`prepare` sets up everything the workers share: keys, secrets, seed data, seed apps and users."""

from __future__ import annotations

import datetime as dt

from sandbox import bootstrap
from sandbox.auth.clients import ClientRegistry
from sandbox.auth.keys import SigningKeys
from sandbox.auth.users import UserDirectory


def _values(tmp_path):
    return {"DB": str(tmp_path / "s.sqlite"), "SEED": 3, "PATIENTS": 2, "ANCHOR_DATE": dt.date(2026, 6, 1),
            "BASE_URL": "http://localhost:9999"}


def test_prepare_seeds_an_empty_database_with_data_apps_users_and_a_key(tmp_path):
    store = bootstrap.prepare(_values(tmp_path), echo=lambda _line: None)
    assert store.count("Patient") == 2 + 5  # generated patients plus the story patients
    apps = {c.client_id: c for c in ClientRegistry(store).list()}
    assert {"demo-app", "demo-confidential", "demo-backend"} <= set(apps)
    assert apps["demo-app"].metadata()["redirect_uris"] == ["http://localhost:9999/demo/index.html"]
    users = UserDirectory(store)
    assert users.list("clinician") and users.list("patient")
    assert [k["kid"] for k in SigningKeys(store).jwks()["keys"]] == [SigningKeys(store).current_kid()]


def test_prepare_twice_keeps_the_key_and_the_data(tmp_path):
    first = bootstrap.prepare(_values(tmp_path), echo=lambda _line: None)
    kid = SigningKeys(first).current_kid()
    secret = first.secret("flask_secret_key")
    lines = []
    second = bootstrap.prepare(_values(tmp_path), echo=lines.append)
    assert lines == []  # nothing seeded the second time
    assert SigningKeys(second).current_kid() == kid
    assert second.secret("flask_secret_key") == secret
