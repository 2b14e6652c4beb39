"""Prepare what every worker process shares before the server starts: schema, secrets, seeded data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from .store import Store


def seed_database(store: Store, seed: int, patients: int, anchor_date: dt.date,
                  progress: Callable[[int], None] | None = None) -> int:
    """Generate the synthetic data set and store it in one transaction. Returns the resource count.

    A second process generates while this one writes (see seed/background.py).
    """
    from .seed.background import prepared_batches

    total = 0
    with store.bulk_load():
        for batch in prepared_batches(seed, patients, anchor_date):
            total += store.load_prepared(batch)
            if progress:
                progress(1)
    return total


def seed_directory(store: Store, base_url: str) -> None:
    """Register the apps of seed_data/apps.json, derive users from the stored FHIR data and make the sandbox
    administrator (idempotent)."""
    from .auth import ensure_schema
    from .auth.clients import register_seed_apps
    from .auth.users import ensure_admin, seed_users

    ensure_schema(store)
    register_seed_apps(store, base_url)
    seed_users(store)
    ensure_admin(store)


def is_empty(store: Store) -> bool:
    return store.conn.execute("SELECT 1 FROM resources LIMIT 1").fetchone() is None


def reset(store: Store) -> None:
    """Remove every resource, version and index row (secrets and keys stay)."""
    from .store.db import INDEX_TABLES

    with store.transaction() as conn:
        for table in ("resources", "versions", *INDEX_TABLES):
            conn.execute(f"DELETE FROM {table}")


def prepare(values: dict[str, Any], echo: Callable[[str], None] = print,
            progress_factory: Callable[[int], Any] | None = None) -> Store:
    """Create the database, persistent secrets, the signing key and seed data when the database is empty.

    Runs once before the workers start, so that no two workers race to create a secret or a key.
    """
    from .auth import ensure_schema
    from .auth.keys import SigningKeys
    from .store.reindex import reindex_if_stale

    store = Store(values["DB"])
    ensure_schema(store)
    reindex_if_stale(store, echo)
    store.secret("flask_secret_key")
    SigningKeys(store).current_kid()
    if is_empty(store):
        from .seed import count_batches

        echo(f"Seeding {values['PATIENTS']} patients (seed {values['SEED']}, anchor date {values['ANCHOR_DATE']}) "
             f"into {values['DB']} …")
        if progress_factory:
            with progress_factory(count_batches(values["PATIENTS"])) as bar:
                count = seed_database(store, values["SEED"], values["PATIENTS"], values["ANCHOR_DATE"], bar.update)
        else:
            count = seed_database(store, values["SEED"], values["PATIENTS"], values["ANCHOR_DATE"])
        echo(f"Stored {count} resources.")
        seed_directory(store, values["BASE_URL"])
        save_first_seed(values["DB"])
    else:
        seed_directory(store, values["BASE_URL"])
    return store


def save_first_seed(db: str) -> None:
    """Keep the state right after the first seed, for `sandbox reset --all`."""
    from . import snapshots

    snapshots.save(db, snapshots.FIRST_SEED)


KEPT_TABLES = ("secrets", "signing_keys")  # what a reset of everything keeps: the sandbox's own keys


def copy_secrets(source: Store, target: Store) -> None:
    from .auth import ensure_schema

    ensure_schema(target)
    with target.transaction() as conn:
        for table in KEPT_TABLES:
            rows = source.conn.execute(f"SELECT * FROM {table}").fetchall()
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.execute(f"DELETE FROM {table}")
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def build_first_seed(values: dict[str, Any], echo: Callable[[str], None] = print,
                     progress_factory: Callable[[int], Any] | None = None) -> None:
    """Seed a new database from ``values`` beside the sandbox's and keep it as the first-seed snapshot (``prepare``
    saves it). It gets the sandbox's secrets and signing keys, so the issuer's keys survive the reset."""
    from pathlib import Path

    live = Path(values["DB"]).resolve()
    scratch = live.with_name(f"{live.stem}.first-seed-building.sqlite")

    def remove_scratch() -> None:
        for leftover in live.parent.glob(f"{scratch.name}*"):
            leftover.unlink()

    remove_scratch()
    try:
        copy_secrets(Store(str(live)), Store(str(scratch)))
        prepare({**values, "DB": str(scratch)}, echo=echo, progress_factory=progress_factory)
    finally:
        from .store import db

        db.forget_connection(scratch)
        remove_scratch()
