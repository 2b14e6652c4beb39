"""Bulk export jobs in the app itself: what the activity trail records, and a job that keeps losing its worker."""

from __future__ import annotations

import time

from sandbox.auth import audit
from sandbox.bulk import jobs
from sandbox.bulk.parameters import SYSTEM, ExportRequest
from sandbox.bulk.runner import Runner
from sandbox.store.resources import now_instant

KICKOFF = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def wait(client, status_path: str):
    deadline = time.monotonic() + 60
    while (answer := client.get(status_path)).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return answer


def test_the_activity_trail_tells_the_export_steps(client, store):
    created = client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "female"})
    assert created.status_code == 201
    started = client.get("/fhir/$export", headers=KICKOFF)
    assert started.status_code == 202
    status_path = started.headers["Content-Location"].removeprefix("http://localhost")
    manifest = wait(client, status_path).json
    with client.get(manifest["output"][0]["url"].removeprefix("http://localhost")) as download:
        assert download.status_code == 200 and download.get_data().count(b"\n") == 1
    events = [(e.detail["path"], e.detail["status"], e.rule) for e in audit.recent(store, event="access.allowed")]
    assert ("/fhir/$export", 202, "Bulk export started (system level): it runs in the background under this "
                                  "token's scopes, as search would") in events
    assert (status_path, 200, "Bulk export status: the client that started it") in events
    assert (manifest["output"][0]["url"].removeprefix("http://localhost"), 200,
            "Bulk export file Patient.ndjson downloaded by the client that started the export") in events


def test_an_export_that_keeps_losing_its_worker_is_reported_failed(app, client, store):
    request = ExportRequest(SYSTEM, "http://localhost/fhir/$export").as_dict()
    grant = {"client_id": "test-client", "scope": "system/*.rs", "user_id": None, "patient": None}
    job = jobs.create(store, "test-client", grant, request, now_instant())
    for _ in range(jobs.MAX_ATTEMPTS):  # each claim's worker dies: its lease runs out
        assert jobs.claim(store, "a-worker-that-dies", lease=-1).id == job.id
    assert Runner(store, app.config).run_next()
    answer = client.get(f"/fhir/bulk-status/{job.id}")
    assert answer.status_code == 500
    assert answer.json["issue"][0]["diagnostics"] == ("The export was interrupted 3 times (its worker stopped) and "
                                                      "was given up; start a new one")
