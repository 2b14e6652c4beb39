"""Saved states of the whole sandbox database, for demos: save one when the stage is set, restore it before the
next audience. ``first-seed`` is saved by the first seed, so ``sandbox reset --all`` has a clean state to go back to.

Snapshots are SQLite databases in ``snapshots/`` beside the sandbox database, made and restored with SQLite's
online backup API: a running server needs no restart, and its workers see the whole old state or the whole new
one, never a mix (the restore copies every page under one write lock). After a restore the schema is brought up
to date, as at startup, so a snapshot saved by an older version still opens.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

FIRST_SEED = "first-seed"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class SnapshotError(Exception):
    """A snapshot that cannot be saved or restored, said in words for the person asking."""


@dataclass(frozen=True)
class Snapshot:
    name: str
    path: Path
    saved_at: float
    size: int


def folder(db: str | Path) -> Path:
    return Path(db).resolve().parent / "snapshots"


def _path(db: str | Path, name: str) -> Path:
    if not NAME.fullmatch(name) or name.endswith(".sqlite"):
        raise SnapshotError(f"{name!r} is not a snapshot name: use up to 64 letters, digits, '-', '_' or '.', "
                            "starting with a letter or digit")
    return folder(db) / f"{name}.sqlite"


def _copy(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target, timeout=30) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def save(db: str | Path, name: str) -> Snapshot:
    """Save the database as it is now under ``name`` (replacing a snapshot of that name)."""
    target = _path(db, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    _copy(Path(db), partial)
    with sqlite3.connect(partial) as conn:  # one self-contained file, whatever mode the live database is in
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    os.replace(partial, target)
    return get(db, name)


def get(db: str | Path, name: str) -> Snapshot:
    path = _path(db, name)
    if not path.is_file():
        known = ", ".join(s.name for s in listed(db)) or "none yet"
        raise SnapshotError(f"There is no snapshot named {name!r} (saved snapshots: {known}). "
                            f"Save one with `sandbox snapshot save {name}`.")
    stat = path.stat()
    return Snapshot(name, path, stat.st_mtime, stat.st_size)


def get_or_none(db: str | Path, name: str) -> Snapshot | None:
    try:
        return get(db, name)
    except SnapshotError:
        return None


def listed(db: str | Path) -> list[Snapshot]:
    found = []
    for path in sorted(folder(db).glob("*.sqlite")):
        stat = path.stat()
        found.append(Snapshot(path.stem, path, stat.st_mtime, stat.st_size))
    return found


def restore(db: str | Path, name: str) -> Snapshot:
    """Make the live database what snapshot ``name`` holds, then bring its schema up to date."""
    snapshot = get(db, name)
    seen = _change_counters(Path(db))
    _copy(snapshot.path, Path(db))
    from .auth import ensure_schema
    from .store import Store

    store = Store(str(db))
    ensure_schema(store)
    # Workers cache rows while a table's change counter stays put (auth/changes.py); the snapshot's counters may
    # equal ones a worker saw before, so move each past both.
    with store.transaction() as conn:
        for table, counter in seen.items():
            conn.execute("UPDATE changes SET counter = max(counter, ?) + 1 WHERE name = ?", (counter, table))
    return snapshot


def _change_counters(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            found = dict(conn.execute("SELECT name, counter FROM changes").fetchall())
        except sqlite3.OperationalError:  # a database from before the caches
            found = {}
    conn.close()
    return found


def describe(snapshot: Snapshot) -> str:
    saved = time.strftime("%Y-%m-%d %H:%M", time.localtime(snapshot.saved_at))
    return f"{snapshot.name}  saved {saved}  {snapshot.size / 1_048_576:.1f} MiB"
