"""Bulk Data export (Bulk Data Access IG 2.0.0) end to end over real HTTP: a backend service registered with
RFC 7591 gets its token with private_key_jwt, kicks off system, Patient and Group exports, polls them and downloads
NDJSON that must validate and hold exactly what its searches find."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
from bulk_support import KICKOFF_HEADERS, BulkClient

from sandbox.bulk.files import exports_folder
from sandbox.store.validation import validate

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
REFERENCE = re.compile(r'"reference":"(Practitioner|Organization|Location|Medication)/([^"]+)"')


@pytest.fixture(scope="module")
def service(live_server):
    return BulkClient(live_server)


@pytest.fixture(scope="module")
def system_export(service):
    url = service.started()
    return url, service.wait(url)


@pytest.fixture(scope="module")
def group(service, live_server):
    """A Group of two active patients and one who left, made through the FHIR API."""
    # seeded patients with a record (other tests on the shared server make bare patients whose ids may sort first)
    found = service.get("Patient", _count=3, _sort="_id", **{"_has:Observation:patient:category": "vital-signs"})
    patients = [entry["resource"]["id"] for entry in found.json()["entry"]]
    body = {"resourceType": "Group", "type": "person", "actual": True, "name": "Diabetes registry",
            "member": [{"entity": {"reference": f"Patient/{patients[0]}"}},
                       {"entity": {"reference": f"Patient/{patients[1]}"}},
                       {"entity": {"reference": f"Patient/{patients[2]}"}, "inactive": True}]}
    created = requests.post(f"{live_server}/fhir/Group", json=body, timeout=10,
                            headers={"Authorization": f"Bearer {live_server.token('system/Group.cruds')}",
                                     "Content-Type": "application/fhir+json"})
    assert created.status_code == 201, created.text
    return created.json()["id"], patients


def in_compartment(resource: dict, patient_ids: set[str]) -> bool:
    text = str(resource)
    return resource["resourceType"] == "Patient" and resource["id"] in patient_ids or any(
        f"Patient/{pid}'" in text for pid in patient_ids)


# -- the full cycle ---------------------------------------------------------------------------------------------------


def test_a_system_export_holds_every_resource_its_searches_find(service, system_export, live_server):
    url, manifest = system_export
    assert set(manifest) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}  # no _since
    assert manifest["request"] == f"{live_server}/fhir/$export"
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert url.startswith(f"{live_server}/fhir/")
    files = service.files(manifest)
    assert {"Patient", "Observation", "Condition", "Encounter", "Practitioner", "Organization"} <= set(files)
    for rtype, resources in files.items():
        assert len(resources) == service.total(rtype), rtype
        for resource in resources:
            validate(resource)
            assert resource["meta"]["lastUpdated"] <= manifest["transactionTime"]
    assert len({r["id"] for r in files["Observation"]}) == len(files["Observation"])


def test_the_status_url_and_files_belong_to_the_client_that_asked(service, system_export, live_server):
    url, manifest = system_export
    file_url = manifest["output"][0]["url"]
    for target in (url, file_url):
        assert requests.get(target, timeout=10).status_code == 401
        stranger = BulkClient(live_server, name="Another service")
        refused = requests.get(target, headers=stranger.headers(), timeout=10)
        assert refused.status_code == 403
        assert refused.json()["issue"][0]["code"] == "forbidden"
    assert requests.delete(url, headers=BulkClient(live_server).headers(), timeout=10).status_code == 403
    assert requests.get(url, headers=service.headers(), timeout=10).status_code == 200


def test_a_patient_export_holds_the_patients_records_and_what_they_refer_to(service):
    manifest = service.export("Patient/$export", {"_type": "Patient,Observation,Condition,Practitioner"})
    files = service.files(manifest)
    assert unquote(manifest["request"]).endswith("/fhir/Patient/$export?_type=Patient,Observation,Condition,"
                                                 "Practitioner")
    assert set(files) == {"Patient", "Observation", "Condition", "Practitioner"}
    for rtype in ("Patient", "Observation", "Condition"):
        assert len(files[rtype]) == service.total(rtype)
    referenced = {rid for r in files["Observation"] + files["Condition"] + files["Patient"]
                  for kind, rid in REFERENCE.findall(_text(r)) if kind == "Practitioner"}
    assert {r["id"] for r in files["Practitioner"]} == referenced


def test_a_posted_patient_export_holds_only_the_patients_named(service):
    patient = service.get("Patient", _count=1).json()["entry"][0]["resource"]["id"]
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference": f"Patient/{patient}"}},
        {"name": "_type", "valueString": "Patient,Observation"}]}
    manifest = service.export("Patient/$export", body=body)
    assert manifest["request"].endswith("/fhir/Patient/$export")  # IG: a POST's URL, without its parameters
    files = service.files(manifest)
    assert [r["id"] for r in files["Patient"]] == [patient]
    assert len(files["Observation"]) == service.total("Observation", patient=patient)


def test_a_group_export_holds_exactly_its_active_members_records(service, group):
    group_id, patients = group
    members = set(patients[:2])
    manifest = service.export(f"Group/{group_id}/$export")
    assert manifest["request"].endswith(f"/fhir/Group/{group_id}/$export")
    files = service.files(manifest)
    assert {r["id"] for r in files["Patient"]} == members
    # Groups are in their members' compartments (R4: Group.member): this one, and any other Group of its members
    assert group_id in {r["id"] for r in files["Group"]}
    assert all({m["entity"]["reference"] for m in r["member"]} & {f"Patient/{p}" for p in members}
               for r in files["Group"])
    outside = {"Practitioner", "Organization", "Location", "Medication", "PractitionerRole"}
    records = [r for rtype, resources in files.items() if rtype not in outside | {"Provenance"} for r in resources]
    assert records and [r for r in records if not in_compartment(r, members)] == []
    exported = {f"{r['resourceType']}/{r['id']}" for r in records}
    assert all(any(t["reference"] in exported for t in p["target"]) for p in files.get("Provenance", []))
    for rtype in ("Observation", "Condition", "Encounter", "Immunization"):
        assert len(files.get(rtype, [])) == service.total(rtype, patient=",".join(sorted(members))), rtype
    referenced = {(kind, rid) for r in records for kind, rid in REFERENCE.findall(_text(r))}
    exported = {(rtype, r["id"]) for rtype in outside & set(files) for r in files[rtype]}
    assert exported == referenced and {kind for kind, _ in exported} >= {"Practitioner", "Organization", "Location"}
    for resources in files.values():
        for resource in resources:
            validate(resource)


def test_a_group_export_takes_only_members_as_patients(service, group):
    group_id, patients = group
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference": f"Patient/{patients[2]}"}}]}
    refused = service.kickoff(f"Group/{group_id}/$export", body=body)
    assert refused.status_code == 400
    assert f"Patient/{patients[2]}, not an active member of Group/{group_id}" in refused.json()["issue"][0][
        "diagnostics"]
    body["parameter"].append({"name": "patient", "valueReference": {"reference": f"Patient/{patients[0]}"}})
    manifest = service.export(f"Group/{group_id}/$export", body=body, Prefer="respond-async, handling=lenient")
    files = service.files(manifest)
    assert [r["id"] for r in files["Patient"]] == [patients[0]]
    warnings = service.download(manifest["error"][0])
    assert warnings[0]["issue"][0]["severity"] == "warning"
    assert service.kickoff("Group/no-such-group/$export").status_code == 404


def test_a_group_export_holds_the_provenance_of_its_members_records(service, group, live_server):
    group_id, patients = group
    made = []
    for patient in (patients[0], patients[2]):  # a member, and one who left the group
        observation = service.get("Observation", patient=patient, _count=1).json()["entry"][0]["resource"]["id"]
        body = {"resourceType": "Provenance", "target": [{"reference": f"Observation/{observation}"}],
                "recorded": "2026-05-01T09:30:00Z", "agent": [{"who": {"reference": "Practitioner/practitioner-01"}}]}
        created = requests.post(f"{live_server}/fhir/Provenance", json=body, timeout=10,
                                headers={"Authorization": f"Bearer {live_server.token('system/Provenance.cruds')}",
                                         "Content-Type": "application/fhir+json"})
        assert created.status_code == 201, created.text
        made.append(created.json()["id"])
    files = service.files(service.export(f"Group/{group_id}/$export", {"_type": "Provenance,Observation"}))
    exported = {r["id"] for r in files["Provenance"]}  # the seed's Provenance of the members' visits too
    assert made[0] in exported and made[1] not in exported
    whole = service.files(service.export(params={"_type": "Provenance"}))
    assert {r["id"] for r in whole["Provenance"]} >= set(made)


# -- what restricts an export -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["application/fhir+ndjson", "application/ndjson", "ndjson"])
def test_type_restricts_the_export(service, output_format):
    manifest = service.export(params={"_type": "Observation,Condition", "_outputFormat": output_format})
    assert sorted(item["type"] for item in manifest["output"]) == ["Condition", "Observation"]


def test_since_exports_only_what_changed_after(service, live_server):
    since = service.export(params={"_type": "Condition"})["transactionTime"]  # as an incremental client does
    time.sleep(0.01)  # a later lastUpdated than the instant asked for
    condition = service.get("Condition", _count=1).json()["entry"][0]["resource"]
    condition["note"] = [{"text": "Reviewed for the registry"}]
    updated = requests.put(f"{live_server}/fhir/Condition/{condition['id']}", json=condition, timeout=10,
                           headers={"Authorization": f"Bearer {live_server.token('system/Condition.cruds')}",
                                    "Content-Type": "application/fhir+json"})
    assert updated.status_code == 200, updated.text
    writer = {"Authorization": f"Bearer {live_server.token('system/Observation.cruds')}",
              "Content-Type": "application/fhir+json"}
    patient = condition["subject"]["reference"]
    brief = requests.post(f"{live_server}/fhir/Observation", headers=writer, timeout=10, json={
        "resourceType": "Observation", "status": "final", "code": {"text": "Entered in error"},
        "subject": {"reference": patient}})
    assert brief.status_code == 201, brief.text
    gone = brief.json()["id"]
    assert requests.delete(f"{live_server}/fhir/Observation/{gone}", headers=writer, timeout=10).status_code == 200
    manifest = service.export(params={"_since": since})
    files = service.files(manifest)
    assert {rtype: [r["id"] for r in resources] for rtype, resources in files.items()} == {
        "Condition": [condition["id"]]}
    assert files["Condition"][0]["note"] == condition["note"]
    [deleted] = manifest["deleted"]
    assert (deleted["type"], deleted["count"]) == ("Bundle", 1)
    assert service.download(deleted) == [{"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": f"Observation/{gone}"}}]}]
    validate(service.download(deleted)[0])


def test_type_filter_restricts_like_the_search_it_names(service):
    files = service.files(service.export(params={"_type": "Observation,Condition",
                                                 "_typeFilter": "Observation?category=laboratory"}))
    assert len(files["Observation"]) == service.total("Observation", category="laboratory") > 0
    assert len(files["Condition"]) == service.total("Condition")
    either = service.files(service.export(params=[("_type", "Observation"),
                                                  ("_typeFilter", "Observation?category=laboratory"),
                                                  ("_typeFilter", "Observation?category=vital-signs")]))
    assert len(either["Observation"]) == service.total("Observation", category="laboratory,vital-signs")
    joined = service.files(service.export(params={"_typeFilter": "Observation?category=laboratory,vital-signs,"
                                                                 "Condition?clinical-status=active"}))
    assert len(joined["Observation"]) == len(either["Observation"])
    assert len(joined["Condition"]) == service.total("Condition", **{"clinical-status": "active"}) > 0


def test_a_posted_type_filter_may_chain_like_search(service):
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Observation"},
        {"name": "_typeFilter", "valueString": "Observation?patient.gender=female&category=laboratory"}]}
    files = service.files(service.export(body=body))
    assert len(files["Observation"]) == service.total("Observation", **{"patient.gender": "female",
                                                                        "category": "laboratory"}) > 0


def test_elements_keep_what_is_asked_and_mark_it_subsetted(service):
    files = service.files(service.export(params={"_type": "Patient,Observation", "_elements": "Patient.birthDate"}))
    patient = files["Patient"][0]
    assert set(patient) == {"resourceType", "id", "meta", "birthDate"}
    assert patient["meta"]["tag"][-1]["code"] == "SUBSETTED"
    assert "valueQuantity" in str(files["Observation"]) and "SUBSETTED" not in str(files["Observation"])


def test_a_granular_system_scope_exports_only_lab_observations(live_server):
    labs = BulkClient(live_server, scope=f"system/Observation.rs?category={LAB}", name="Lab feed")
    files = labs.files(labs.export())
    assert set(files) == {"Observation"}
    assert len(files["Observation"]) == labs.total("Observation") == BulkClient(live_server).total(
        "Observation", category="laboratory")
    assert all("laboratory" in str(r["category"]) for r in files["Observation"])
    refused = labs.kickoff(params={"_type": "Patient"})
    assert refused.status_code == 403
    assert "system/Patient.rs" in refused.json()["issue"][0]["diagnostics"]


def test_a_patient_token_exports_only_its_own_record(live_server, service, group):
    patient = group[1][0]
    token = live_server.token("patient/*.rs", patient=patient)
    headers = {**KICKOFF_HEADERS, "Authorization": f"Bearer {token}"}
    for path in ("$export", f"Group/{group[0]}/$export"):
        refused = requests.get(f"{live_server}/fhir/{path}", headers=headers, timeout=10)
        assert refused.status_code == 403, path
        assert "system/ scopes" in refused.json()["issue"][0]["diagnostics"]
    accepted = requests.get(f"{live_server}/fhir/Patient/$export", params={"_type": "Patient,Observation"},
                            headers=headers, timeout=10)
    assert accepted.status_code == 202
    status = accepted.headers["Content-Location"]
    while (answer := requests.get(status, headers=headers, timeout=10)).status_code == 202:
        time.sleep(0.2)
    outputs = {item["type"]: item for item in answer.json()["output"]}
    patients = requests.get(outputs["Patient"]["url"], headers=headers, timeout=10).text.splitlines()
    assert len(patients) == 1 and f'"id":"{patient}"' in patients[0]
    assert outputs["Observation"]["count"] == service.total("Observation", patient=patient)


# -- the IG's errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "prefer", "status", "words"), [
    ({"_outputFormat": "application/fhir+json"}, "respond-async", 400, "_outputFormat 'application/fhir+json'"),
    ({"_type": "Observation,Nonsense"}, "respond-async", 400, "'Nonsense', which is not a FHIR R4 resource type"),
    ({"_typeFilter": "Observation?_sort=date"}, "respond-async", 400, "result parameters are not allowed"),
    ({"_typeFilter": "Observation?bogus=1"}, "respond-async", 400, "'bogus' (unknown parameter)"),
    ({"includeAssociatedData": "LatestProvenanceResources"}, "respond-async", 400, "LatestProvenanceResources"),
    ({"_since": "yesterday"}, "respond-async", 400, "_since must be an instant"),
    ([("_typeFilter", "Observation?patient.gender=female"), ("_typeFilter", "Observation?category=laboratory")],
     "respond-async", 400, "the 2 queries of Observation are ORed"),
    ({"patient": "Patient/123"}, "respond-async", 400, "does not apply to a system-level export"),
    ({"colour": "blue"}, "respond-async", 400, "'colour' is not a parameter of $export"),
    ({}, None, 400, "Prefer: respond-async"),
])
def test_what_the_server_cannot_do_is_refused_with_an_operation_outcome(service, params, prefer, status, words):
    headers = {"Authorization": f"Bearer {service.token()}", "Accept": "application/fhir+json"}
    if prefer:
        headers["Prefer"] = prefer
    response = requests.get(f"{service.base}/fhir/$export", params=params, headers=headers, timeout=10)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert words in response.json()["issue"][0]["diagnostics"]


def test_lenient_handling_exports_and_names_what_it_ignored(service):
    manifest = service.export(params={"_type": "Condition", "colour": "blue"}, Prefer="respond-async, "
                                                                                     "handling=lenient")
    assert [item["type"] for item in manifest["output"]] == ["Condition"]
    [outcome] = service.download(manifest["error"][0])
    assert outcome["resourceType"] == "OperationOutcome" and "'colour'" in outcome["issue"][0]["diagnostics"]


def test_an_export_without_a_token_is_refused(live_server):
    response = requests.get(f"{live_server}/fhir/$export", headers=KICKOFF_HEADERS, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_delete_cancels_an_export_and_removes_its_files(service, live_server):
    url = service.started(params={"_type": "Patient"})
    manifest = service.wait(url)
    folder = exports_folder(str(live_server.db)) / url.rsplit("/", 1)[1]
    assert (folder / "Patient.ndjson").is_file()
    deleted = requests.delete(url, headers=service.headers(), timeout=10)
    assert deleted.status_code == 202
    gone = requests.get(url, headers=service.headers(), timeout=10)
    assert gone.status_code == 404 and gone.json()["resourceType"] == "OperationOutcome"
    assert requests.get(manifest["output"][0]["url"], headers=service.headers(), timeout=10).status_code == 404
    assert not Path(folder).exists()


def _text(resource: dict) -> str:
    import json

    return json.dumps(resource, separators=(",", ":"))
