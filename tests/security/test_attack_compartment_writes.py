"""Attacks on the patient compartment through writes, over real HTTP against the running sandbox: a patient/ token
of one patient tries to write into another patient's chart — a second patient reference on a create, another's
resource pointed at its own patient, a foreign reference added to its own resource, a delete, a PUT over another's
deleted resource, transaction and batch entries, a type outside every compartment — and to read the history of
another's deleted resource. Each asserts the refusal and that nothing changed, re-read with a system/ token;
positive controls show that writes wholly inside the own compartment still work.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
import requests

OWN = "story-diabetes"
OTHER = "story-child"
FHIR_JSON = "application/fhir+json"


def call(live, method: str, path: str, token: str, body=None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}
    if body is not None:
        headers["Content-Type"] = FHIR_JSON
    return requests.request(method, f"{live}/fhir/{path}", json=body, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def live(live_server):
    live_server.system = live_server.token("system/*.cruds")
    live_server.attacker = live_server.token("patient/*.cruds", patient=OWN, client_id="compartment-attacker")
    return live_server


def as_system(live, method: str, path: str, body=None) -> requests.Response:
    return call(live, method, path, live.system, body)


def state(live, path: str) -> tuple[int, str | None, dict]:
    """What the server holds at ``path``, read with full access: status, versionId and content."""
    response = as_system(live, "GET", path)
    body = response.json()
    return response.status_code, body.get("meta", {}).get("versionId"), body


def counts(live) -> dict[str, int]:
    """Observations of both patients and Practitioners, as a system/ token counts them."""
    found = {}
    for key, query in (("own", f"Observation?patient={OWN}"), ("other", f"Observation?patient={OTHER}"),
                       ("practitioners", "Practitioner?")):
        found[key] = as_system(live, "GET", f"{query}&_summary=count").json()["total"]
    return found


def history_total(live, path: str) -> int:
    return as_system(live, "GET", f"{path}/_history").json()["total"]


def observation(subject: str, **extra) -> dict:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "Pain score"},
            "subject": {"reference": f"Patient/{subject}"}, "valueInteger": 3, **extra}


def first_observation(live, patient: str) -> dict:
    return as_system(live, "GET", f"Observation?patient={patient}&_count=1&_sort=_id").json()["entry"][0]["resource"]


def refused(response: requests.Response, *named: str) -> str:
    assert response.status_code == 403, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "forbidden"
    diagnostics = outcome["issue"][0]["diagnostics"]
    for text in named:
        assert text in diagnostics
    return diagnostics


def test_a_create_with_a_second_patient_reference_is_refused(live):
    before = counts(live)
    sneaky = observation(OWN, performer=[{"reference": f"Patient/{OTHER}"}])
    refused(call(live, "POST", "Observation", live.attacker, sneaky), f"Patient/{OTHER} (performer)")
    also_subject = observation(OTHER, performer=[{"reference": f"Patient/{OWN}"}])
    refused(call(live, "POST", "Observation", live.attacker, also_subject), f"Patient/{OTHER} (subject)")
    assert counts(live) == before


def test_another_patients_resource_cannot_be_pointed_at_the_own_patient(live):
    theirs = first_observation(live, OTHER)
    path = f"Observation/{theirs['id']}"
    before, total = state(live, path), history_total(live, path)
    hijacked = {**theirs, "subject": {"reference": f"Patient/{OWN}"}}
    refused(call(live, "PUT", path, live.attacker, hijacked), f"Patient/{OTHER} (subject)", "as stored")
    assert state(live, path) == before and history_total(live, path) == total


def test_a_foreign_reference_cannot_be_added_to_an_own_resource(live):
    mine = first_observation(live, OWN)
    path = f"Observation/{mine['id']}"
    before = state(live, path)
    widened = {**mine, "performer": [{"reference": f"Patient/{OTHER}"}]}
    refused(call(live, "PUT", path, live.attacker, widened), f"Patient/{OTHER} (performer)", "new version")
    assert state(live, path) == before


def test_another_patients_resource_cannot_be_deleted(live):
    theirs = first_observation(live, OTHER)
    path = f"Observation/{theirs['id']}"
    before, total = state(live, path), history_total(live, path)
    refused(call(live, "DELETE", path, live.attacker), f"Patient/{OTHER} (subject)")
    assert state(live, path) == before and history_total(live, path) == total


def test_another_patients_deleted_resource_can_be_neither_put_back_nor_read(live):
    created = as_system(live, "POST", "Observation", observation(OTHER, code={"text": "Deleted finding"}))
    path = f"Observation/{created.json()['id']}"
    assert as_system(live, "DELETE", path).status_code == 200
    total = history_total(live, path)
    resurrected = {**observation(OWN), "id": created.json()["id"]}
    refused(call(live, "PUT", path, live.attacker, resurrected), f"Patient/{OTHER} (subject)")
    refused(call(live, "GET", f"{path}/_history", live.attacker))
    refused(call(live, "DELETE", path, live.attacker), f"Patient/{OTHER} (subject)")
    assert as_system(live, "GET", path).status_code == 410
    assert history_total(live, path) == total == 2


def test_transaction_entries_stay_in_the_compartment_and_nothing_is_stored(live):
    theirs = first_observation(live, OTHER)
    path = f"Observation/{theirs['id']}"
    before, before_counts = state(live, path), counts(live)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1b0c1d7e-0000-4000-8000-000000000001", "resource": observation(OWN),
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": {**theirs, "subject": {"reference": f"Patient/{OWN}"}}, "request": {"method": "PUT", "url": path}},
    ]}
    diagnostics = refused(call(live, "POST", "", live.attacker, bundle), f"Patient/{OTHER} (subject)")
    assert "nothing was stored" in diagnostics
    assert state(live, path) == before and counts(live) == before_counts


def test_batch_entries_are_judged_one_by_one(live):
    theirs = first_observation(live, OTHER)
    path = f"Observation/{theirs['id']}"
    before, before_counts = state(live, path), counts(live)
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": observation(OWN, performer=[{"reference": f"Patient/{OTHER}"}]),
         "request": {"method": "POST", "url": "Observation"}},
        {"request": {"method": "DELETE", "url": path}},
        {"resource": observation(OWN), "request": {"method": "POST", "url": "Observation"}},
    ]}
    response = call(live, "POST", "", live.attacker, bundle)
    assert response.status_code == 200
    statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
    assert statuses[:2] == ["403 Forbidden", "403 Forbidden"] and statuses[2].startswith("201")
    created = response.json()["entry"][2]["response"]["location"].split("/_history")[0].split("/fhir/")[1]
    assert state(live, path) == before
    assert counts(live) == {**before_counts, "own": before_counts["own"] + 1}
    assert call(live, "DELETE", created, live.attacker).status_code == 200  # the own write, undone
    assert counts(live) == before_counts


def test_types_outside_every_patient_compartment_cannot_be_written_with_patient_scopes(live):
    before = counts(live)
    practitioner = {"resourceType": "Practitioner", "name": [{"family": "Mallory"}]}
    refused(call(live, "POST", "Practitioner", live.attacker, practitioner), "outside the Patient compartment")
    existing = as_system(live, "GET", "Practitioner?_count=1").json()["entry"][0]["resource"]
    path = f"Practitioner/{existing['id']}"
    snapshot = state(live, path)
    refused(call(live, "PUT", path, live.attacker, {**existing, "name": [{"family": "Mallory"}]}))
    refused(call(live, "DELETE", path, live.attacker))
    assert state(live, path) == snapshot and counts(live) == before


def test_refusals_are_audited_with_the_reference_they_name(live):
    attacker = live.token("patient/*.cruds", patient=OWN, client_id="compartment-audited")
    sneaky = observation(OWN, performer=[{"reference": f"Patient/{OTHER}"}])
    refused(call(live, "POST", "Observation", attacker, sneaky))
    deadline, rows = time.monotonic() + 10, []
    while not rows and time.monotonic() < deadline:
        with sqlite3.connect(live.db) as conn:
            rows = conn.execute("SELECT event, outcome, rule FROM audit_events WHERE client_id = ?",
                                ("compartment-audited",)).fetchall()
        time.sleep(0.05)
    assert [(event, outcome) for event, outcome, _ in rows] == [("access.refused", "failure")]
    assert f"Patient/{OTHER} (performer)" in rows[0][2]


def test_writes_wholly_inside_the_own_compartment_still_work(live):
    before = counts(live)
    created = call(live, "POST", "Observation", live.attacker,
                   observation(OWN, performer=[{"reference": f"Patient/{OWN}"}]))
    assert created.status_code == 201
    path = f"Observation/{created.json()['id']}"
    updated = call(live, "PUT", path, live.attacker, {**created.json(), "valueInteger": 5})
    assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
    assert call(live, "GET", f"{path}/_history", live.attacker).json()["total"] == 2
    assert call(live, "DELETE", path, live.attacker).status_code == 200
    assert call(live, "GET", f"{path}/_history", live.attacker).json()["total"] == 3  # its own deleted history
    recreated = call(live, "PUT", path, live.attacker, {**observation(OWN), "id": created.json()["id"]})
    assert recreated.status_code == 201
    assert call(live, "DELETE", path, live.attacker).status_code == 200
    assert counts(live) == before
