"""Seeding rate: `bootstrap.seed_database` into a fresh database file, timed."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class SeedRun:
    patients: int  # random patients asked for (the story patients come on top)
    seconds: float
    resources: int
    resources_per_s: float
    patients_per_s: float
    patients_stored: int
    db_mb: float
    by_type: dict[str, int]

    def as_dict(self) -> dict:
        return asdict(self)


def seed_fresh(db: Path, patients: int, seed: int, anchor_date: dt.date) -> SeedRun:
    """Create ``db`` (which must not exist), seed it and time ``seed_database`` alone (schema excluded)."""
    from sandbox import bootstrap
    from sandbox.store import Store

    if db.exists():
        raise FileExistsError(db)
    store = Store(str(db))
    start = time.perf_counter()
    resources = bootstrap.seed_database(store, seed, patients, anchor_date)
    seconds = time.perf_counter() - start
    conn = store.conn
    by_type = dict(conn.execute("SELECT type, count(*) FROM resources WHERE deleted = 0 GROUP BY type "
                                "ORDER BY count(*) DESC, type").fetchall())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the server then starts from a plain file
    return SeedRun(
        patients=patients,
        seconds=seconds,
        resources=resources,
        resources_per_s=resources / seconds,
        patients_per_s=patients / seconds,
        patients_stored=by_type.get("Patient", 0),
        db_mb=db.stat().st_size / 1e6,
        by_type=by_type,
    )


def first_patient(db: Path) -> str:
    """The id of one seeded patient, for benchmarks that need a patient in context but no search."""
    from sandbox.store import Store

    row = Store(str(db)).conn.execute("SELECT id FROM resources WHERE type = 'Patient' AND deleted = 0 "
                                      "ORDER BY rid LIMIT 1").fetchone()
    return row[0]
