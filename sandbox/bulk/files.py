"""Where a bulk export's files live: a folder beside the database file, one sub-folder per job, one NDJSON file
per resource type (`Observation.ndjson`), plus `OperationOutcome.ndjson` for the manifest's `error` array and
`deleted.ndjson` for its `deleted` array."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

NDJSON = "application/fhir+ndjson"
DELETED = "deleted.ndjson"  # the manifest's `deleted` array: transaction Bundles of DELETE entries
FILE_NAME = re.compile(r"^([A-Z][A-Za-z]{1,63}|deleted)\.ndjson$")
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def exports_folder(db_path: str) -> Path:
    """``var/sandbox.sqlite`` → ``var/sandbox-exports/``."""
    db = Path(db_path)
    return db.with_name(db.stem + "-exports")


def job_folder(db_path: str, job_id: str) -> Path:
    return exports_folder(db_path) / job_id


def file_path(db_path: str, job_id: str, name: str) -> Path | None:
    """The file of a download URL, or None when the name cannot be one of ours (no path tricks)."""
    if not JOB_ID.match(job_id) or not FILE_NAME.match(name):
        return None
    return job_folder(db_path, job_id) / name


def fresh_folder(db_path: str, job_id: str) -> Path:
    """An empty folder for a job: a job that starts over after its worker died drops what it had written."""
    folder = job_folder(db_path, job_id)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def remove(db_path: str, job_id: str) -> None:
    if JOB_ID.match(job_id):
        shutil.rmtree(job_folder(db_path, job_id), ignore_errors=True)


def leftover_jobs(db_path: str) -> list[str]:
    """Job folders on disk (to remove those whose job is gone)."""
    folder = exports_folder(db_path)
    if not folder.is_dir():
        return []
    return [entry.name for entry in folder.iterdir() if entry.is_dir() and JOB_ID.match(entry.name)]


def write_outcomes(folder: Path, outcomes: list[dict]) -> Path:
    path = folder / "OperationOutcome.ndjson"
    with path.open("w", encoding="utf-8") as out:
        for outcome in outcomes:
            out.write(json.dumps(outcome, separators=(",", ":"), ensure_ascii=False) + "\n")
    return path
