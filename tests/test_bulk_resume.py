"""A bulk export outlives the worker process that runs it: killed mid-job, its lease runs out and another worker
of the real server takes the job over, and the client only ever sees progress or the whole manifest. On the same
server: one export at a time per client (429), and files gone after the retention time."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest
import requests
from bulk_support import WAIT_SECONDS, BulkClient
from conftest import seeded_copy, serving_on_a_free_port

from sandbox.bulk.files import exports_folder

RETENTION = 10


@pytest.fixture(scope="module")
def slow_server(seeded_db, tmp_path_factory):
    """Two workers that export 50 resources per batch with a pause after each, and give up a claim after 2 s."""
    db = seeded_copy(seeded_db, tmp_path_factory, "bulk-resume")
    env = {"SANDBOX_BULK_BATCH_SIZE": "50", "SANDBOX_BULK_BATCH_PAUSE": "250", "SANDBOX_BULK_LEASE": "2",
           "SANDBOX_BULK_MAX_JOBS": "1", "SANDBOX_BULK_RETENTION": str(RETENTION)}
    with serving_on_a_free_port(db, env) as (base, process):
        yield base, db, process


def job_row(db, job_id: str) -> tuple:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT status, lease_owner, attempts, progress FROM bulk_jobs WHERE id = ?",
                            (job_id,)).fetchone()


def worker_pids(server_pid: int) -> set[int]:
    children = f"/proc/{server_pid}/task/{server_pid}/children"
    with open(children) as listing:
        return {int(pid) for pid in listing.read().split()}


def test_an_export_resumes_in_another_worker_when_its_worker_is_killed(slow_server):
    base, db, process = slow_server
    service = BulkClient(base)
    status_url = service.started(params={"_type": "Observation"})
    job_id = status_url.rsplit("/", 1)[1]
    deadline = time.monotonic() + WAIT_SECONDS
    while (row := job_row(db, job_id))[0] != "running" or "Observation" not in (row[3] or ""):
        assert time.monotonic() < deadline, row
        time.sleep(0.1)
    victim = int(row[1].split(":")[1])
    assert victim in worker_pids(process.pid)

    busy = service.kickoff(params={"_type": "Patient"})  # SANDBOX_BULK_MAX_JOBS=1: this client has one running
    assert busy.status_code == 429
    assert int(busy.headers["Retry-After"]) > 0 and busy.json()["issue"][0]["code"] == "throttled"

    os.kill(victim, signal.SIGKILL)
    while True:  # progress or the whole manifest, never part of one
        answer = requests.get(status_url, headers=service.headers(), timeout=30)
        if answer.status_code != 202:
            break
        assert time.monotonic() < deadline, "the export was not resumed"
        time.sleep(0.2)
    assert answer.status_code == 200, answer.text
    manifest = answer.json()
    files = service.files(manifest)
    assert len(files["Observation"]) == service.total("Observation") == manifest["output"][0]["count"]
    assert len({r["id"] for r in files["Observation"]}) == len(files["Observation"])
    status, owner, attempts, _ = job_row(db, job_id)
    assert (status, attempts) == ("complete", 2)
    assert victim not in worker_pids(process.pid) and int(owner.split(":")[1]) in worker_pids(process.pid)

    time.sleep(RETENTION + 0.5)
    assert requests.get(status_url, headers=service.headers(), timeout=10).status_code == 404
    assert requests.get(manifest["output"][0]["url"], headers=service.headers(), timeout=10).status_code == 404
    assert not (exports_folder(str(db)) / job_id).exists()
