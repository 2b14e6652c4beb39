"""The query that selects one type's resources for an export (bulk/selection.py), run against the app's store."""

from __future__ import annotations

import json
import sqlite3

from sandbox.bulk.parameters import GROUP, ExportRequest
from sandbox.bulk.selection import type_query
from sandbox.fhir.access import ALLOW_ALL
from sandbox.store.resources import now_instant


def made(client, resource: dict) -> str:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.json
    return response.json["id"]


def record_of(client) -> dict[str, str]:
    """A patient with one Observation and the Provenance of it."""
    patient = made(client, {"resourceType": "Patient"})
    observation = made(client, {"resourceType": "Observation", "status": "final", "code": {"text": "Weight"},
                                "subject": {"reference": f"Patient/{patient}"}})
    provenance = made(client, {"resourceType": "Provenance", "target": [{"reference": f"Observation/{observation}"}],
                               "recorded": "2026-05-01T09:30:00Z",
                               "agent": [{"who": {"reference": "Practitioner/clerk"}}]})
    return {"Patient": patient, "Observation": observation, "Provenance": provenance}


def test_an_export_confined_to_forty_thousand_patients_selects_theirs(client, store):
    """A Group of that size: more patients than one SQLite statement takes variables in SQLite's own build (32,766;
    some systems build it with more), and the Provenance query names each patient twice. Two of them have records
    here; a third patient is no member."""
    assert client.put("/fhir/Practitioner/clerk", json={"resourceType": "Practitioner", "id": "clerk"}).status_code \
        == 201
    members, outsider = [record_of(client), record_of(client)], record_of(client)
    patients = [member["Patient"] for member in members] + [f"absent-{n}" for n in range(40_000)]
    wanted = ExportRequest(GROUP, "http://localhost/fhir/Group/registry/$export", "registry")
    limit = store.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    store.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
    try:
        for rtype in ("Patient", "Observation", "Provenance"):
            query = type_query(ALLOW_ALL, wanted, rtype, now_instant(), patients)
            found = {json.loads(text)["id"] for rows in query.rows(store.conn, 100) for (text,) in rows}
            assert found == {member[rtype] for member in members}, rtype
            assert outsider[rtype] not in found
    finally:
        store.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
