"""Reads of other patients' records over real HTTP: types that name a patient but that FHIR R4 puts in no Patient
compartment (Device: "never"), deleted resources, and earlier versions of a resource that was moved from one
patient's record to another's. A patient-confined token sees its own patient's data only."""

from __future__ import annotations

import requests


def test_a_patient_token_reads_only_its_own_patients_devices(live_server):
    admin = {"Authorization": f"Bearer {live_server.token('system/*.cruds')}"}
    made = {}
    for patient in ("story-diabetes", "story-child"):
        created = requests.post(f"{live_server}/fhir/Device", headers=admin, timeout=10, json={
            "resourceType": "Device", "status": "active", "patient": {"reference": f"Patient/{patient}"},
            "type": {"text": "Insulin pump"}})
        assert created.status_code == 201, created.text
        made[patient] = created.json()["id"]
    bearer = {"Authorization": f"Bearer {live_server.token('patient/*.rs', patient='story-diabetes')}"}
    found = requests.get(f"{live_server}/fhir/Device", headers=bearer, timeout=10).json()
    ids = {entry["resource"]["id"] for entry in found.get("entry", [])}
    assert made["story-diabetes"] in ids and made["story-child"] not in ids
    other = requests.get(f"{live_server}/fhir/Device/{made['story-child']}", headers=bearer, timeout=10)
    assert other.status_code in (403, 404) and other.json()["resourceType"] == "OperationOutcome"
    assert requests.get(f"{live_server}/fhir/Device/{made['story-diabetes']}", headers=bearer, timeout=10).ok
    asked = requests.get(f"{live_server}/fhir/Device", params={"patient": "story-child"}, headers=bearer,
                         timeout=10).json()
    assert not asked.get("entry")


def test_a_deleted_resource_of_another_patient_is_refused_like_a_live_one_not_answered_gone(live_server):
    """A 410 would tell a patient-confined token that another patient's record held this resource; only a caller
    who may read what it last was learns that it was deleted."""
    admin = {"Authorization": f"Bearer {live_server.token('system/*.cruds')}"}
    made = {}
    for patient in ("story-diabetes", "story-child"):
        created = requests.post(f"{live_server}/fhir/Observation", headers=admin, timeout=10, json={
            "resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
            "code": {"text": "Note to self"}, "valueString": "to be deleted"})
        assert created.status_code == 201, created.text
        made[patient] = created.json()["id"]
        assert requests.delete(f"{live_server}/fhir/Observation/{made[patient]}", headers=admin, timeout=10).ok
    bearer = {"Authorization": f"Bearer {live_server.token('patient/*.rs', patient='story-diabetes')}"}
    own = requests.get(f"{live_server}/fhir/Observation/{made['story-diabetes']}", headers=bearer, timeout=10)
    assert own.status_code == 410
    for path in (f"Observation/{made['story-child']}", f"Observation/{made['story-child']}/_history/2"):
        other = requests.get(f"{live_server}/fhir/{path}", headers=bearer, timeout=10)
        assert other.status_code == 403, (path, other.status_code)
        assert "deleted" not in other.text
    assert requests.get(f"{live_server}/fhir/Observation/{made['story-child']}", headers=admin,
                        timeout=10).status_code == 410


def test_versions_from_before_a_resource_moved_to_the_patient_stay_with_the_patient_they_belonged_to(live_server):
    """An Observation filed under the wrong patient and then corrected: the patient it now belongs to reads it,
    but neither its earlier version nor an instance history holding that version, which are the first patient's
    record. The first patient reads none of it either: the resource is no longer theirs."""
    admin = {"Authorization": f"Bearer {live_server.token('system/*.cruds')}"}
    filed = {"resourceType": "Observation", "status": "final", "code": {"text": "Misfiled result"},
             "subject": {"reference": "Patient/story-child"}, "valueString": "the child's own result"}
    created = requests.post(f"{live_server}/fhir/Observation", headers=admin, timeout=10, json=filed)
    assert created.status_code == 201, created.text
    path = f"{live_server}/fhir/Observation/{created.json()['id']}"
    moved = {**created.json(), "subject": {"reference": "Patient/story-diabetes"}, "valueString": "corrected"}
    assert requests.put(path, headers=admin, timeout=10, json=moved).status_code == 200
    now_theirs = {"Authorization": f"Bearer {live_server.token('patient/*.rs', patient='story-diabetes')}"}
    first = {"Authorization": f"Bearer {live_server.token('patient/*.rs', patient='story-child')}"}
    assert requests.get(path, headers=now_theirs, timeout=10).json()["valueString"] == "corrected"
    assert requests.get(f"{path}/_history/2", headers=now_theirs, timeout=10).status_code == 200
    for url in (f"{path}/_history/1", f"{path}/_history"):
        answer = requests.get(url, headers=now_theirs, timeout=10)
        assert answer.status_code == 403, (url, answer.status_code)
        assert "the child's own result" not in answer.text
    for url in (path, f"{path}/_history/1", f"{path}/_history"):
        assert requests.get(url, headers=first, timeout=10).status_code == 403, url
    assert requests.get(f"{path}/_history", headers=admin, timeout=10).json()["total"] == 2
