"""Reads of types that name a patient but that FHIR R4 puts in no Patient compartment (Device: "never"), over real
HTTP: a patient-confined token sees its own patient's ones only, never another patient's."""

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
