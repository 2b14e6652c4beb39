"""FHIR R4 patch (http.html §3.1.0.6) over HTTP: JSON Patch (RFC 6902), FHIRPath Patch (fhirpatch.html) and
JSON Merge Patch (RFC 7396); If-Match, versions and history, conditional patch, and PATCH in Bundles."""

import base64
import json

import pytest
from conftest import issue_token

JSON_PATCH = "application/json-patch+json"


def patient(family="Smith", **extra):
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Ann"]}], **extra}


def create(client, resource):
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.json
    return response.json["id"]


def json_patch(client, path, operations, **headers):
    return client.patch(path, data=json.dumps(operations), content_type=JSON_PATCH, headers=headers)


def operation(kind, path, **parts):
    part = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name == "value":
            part.append({"name": "value", **value})
        else:
            key = "valueString" if isinstance(value, str) else "valueInteger"
            part.append({"name": name, key: value})
    return {"name": "operation", "part": part}


def fhirpath_patch(client, path, *operations, **headers):
    body = {"resourceType": "Parameters", "parameter": list(operations)}
    return client.patch(path, json=body, content_type="application/fhir+json", headers=headers)


def diagnostics(response):
    return response.json["issue"][0]["diagnostics"]


# -- JSON Patch --------------------------------------------------------------------------------------

def test_json_patch_applies_every_operation_and_makes_a_new_version(client):
    pid = create(client, patient(gender="female", telecom=[{"system": "phone", "value": "555-0100"}]))
    response = json_patch(client, f"/fhir/Patient/{pid}", [
        {"op": "test", "path": "/gender", "value": "female"},
        {"op": "replace", "path": "/name/0/family", "value": "Jones"},
        {"op": "add", "path": "/name/0/given/-", "value": "Beth"},
        {"op": "copy", "from": "/telecom/0", "path": "/telecom/-"},
        {"op": "replace", "path": "/telecom/1/value", "value": "555-0199"},
        {"op": "move", "from": "/telecom/1", "path": "/telecom/0"},
        {"op": "add", "path": "/birthDate", "value": "1970-01-02"},
        {"op": "remove", "path": "/gender"},
    ])
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == 'W/"2"'
    assert response.headers["Location"] == f"http://localhost/fhir/Patient/{pid}/_history/2"
    body = response.json
    assert body["name"] == [{"family": "Jones", "given": ["Ann", "Beth"]}]
    assert body["telecom"] == [{"system": "phone", "value": "555-0199"}, {"system": "phone", "value": "555-0100"}]
    assert body["birthDate"] == "1970-01-02"
    assert "gender" not in body
    assert body["meta"]["versionId"] == "2"
    assert client.get(f"/fhir/Patient/{pid}").json == body
    history = client.get(f"/fhir/Patient/{pid}/_history").json
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert history["entry"][1]["resource"]["name"][0]["family"] == "Smith"


def test_a_failing_test_operation_is_422_and_changes_nothing(client):
    pid = create(client, patient())
    response = json_patch(client, f"/fhir/Patient/{pid}", [
        {"op": "replace", "path": "/name/0/family", "value": "Jones"},
        {"op": "test", "path": "/name/0/given/0", "value": "Bob"},
    ])
    assert response.status_code == 422
    assert diagnostics(response) == ("JSON Patch operation 1 (test /name/0/given/0): the value at '/name/0/given/0' "
                                     "is not the expected value (RFC 6902 §4.6)")
    assert client.get(f"/fhir/Patient/{pid}").json["meta"]["versionId"] == "1"


@pytest.mark.parametrize("operations, status, message", [
    ({"op": "add"}, 400, "A JSON Patch document must be a JSON array of operations (RFC 6902 §3)"),
    ([{"op": "frobnicate", "path": "/x"}], 400,
     "JSON Patch operation 0 (frobnicate /x): 'op' must be one of add, remove, replace, move, copy, test "
     "(RFC 6902 §4)"),
    ([{"op": "add", "path": "/gender"}], 400, "JSON Patch operation 0 (add /gender): 'add' needs a 'value' member "
                                              "(RFC 6902 §4)"),
    ([{"op": "add", "path": "gender", "value": "male"}], 400,
     "JSON Patch operation 0 (add gender): 'path' 'gender' is not a JSON Pointer: it must start with '/' "
     "(RFC 6901 §3)"),
    ([{"op": "remove", "path": "/telecom/0"}], 422,
     "JSON Patch operation 0 (remove /telecom/0): there is nothing at '/telecom' (RFC 6902 §4)"),
    ([{"op": "replace", "path": "/name/3", "value": {}}], 422,
     "JSON Patch operation 0 (replace /name/3): index 3 is out of bounds (the array has 1 items)"),
    ([{"op": "add", "path": "/gender", "value": 7}], 422, None),  # the result is not a valid Patient
    ([{"op": "replace", "path": "/id", "value": "other"}], 400,
     "The patch changes the resource's type or id; the result must still be Patient/{pid}"),
])
def test_invalid_json_patches_name_the_failing_operation(client, operations, status, message):
    pid = create(client, patient())
    response = json_patch(client, f"/fhir/Patient/{pid}", operations)
    assert response.status_code == status, response.json
    assert response.json["resourceType"] == "OperationOutcome"
    if message:
        assert diagnostics(response) == message.format(pid=pid)
    assert client.get(f"/fhir/Patient/{pid}").json["meta"]["versionId"] == "1"


def test_patch_checks_if_match(client):
    pid = create(client, patient())
    replace = [{"op": "replace", "path": "/name/0/family", "value": "Jones"}]
    stale = json_patch(client, f"/fhir/Patient/{pid}", replace, **{"If-Match": 'W/"2"'})
    assert stale.status_code == 412
    assert diagnostics(stale) == "If-Match asked for version 2 but the current version is 1"
    fresh = json_patch(client, f"/fhir/Patient/{pid}", replace, **{"If-Match": 'W/"1"'})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == 'W/"2"'


def test_patch_of_a_missing_resource_is_404_and_of_a_deleted_one_410(client):
    replace = [{"op": "replace", "path": "/active", "value": True}]
    assert json_patch(client, "/fhir/Patient/nobody", replace).status_code == 404
    pid = create(client, patient())
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    assert json_patch(client, f"/fhir/Patient/{pid}", replace).status_code == 410


def test_patch_honours_prefer_return_minimal(client):
    pid = create(client, patient())
    response = json_patch(client, f"/fhir/Patient/{pid}", [{"op": "add", "path": "/active", "value": True}],
                          Prefer="return=minimal")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["ETag"] == 'W/"2"'


def test_patch_with_another_media_type_is_415(client):
    pid = create(client, patient())
    response = client.patch(f"/fhir/Patient/{pid}", data="active=true", content_type="text/plain")
    assert response.status_code == 415


# -- FHIRPath Patch ----------------------------------------------------------------------------------

def test_fhirpath_patch_add_insert_replace_move_delete(client):
    pid = create(client, patient(gender="female", identifier=[{"system": "urn:a", "value": "1"},
                                                              {"system": "urn:b", "value": "2"}]))
    response = fhirpath_patch(
        client, f"/fhir/Patient/{pid}",
        operation("add", "Patient", name="birthDate", value={"valueDate": "1970-01-02"}),
        operation("replace", "Patient.name.first().family", value={"valueString": "Jones"}),
        operation("insert", "Patient.identifier", index=0, value={"valueIdentifier": {"system": "urn:c",
                                                                                      "value": "3"}}),
        operation("move", "Patient.identifier", source=2, destination=1),
        operation("replace", "Patient.identifier.where(system = 'urn:a').value", value={"valueString": "9"}),
        operation("add", "Patient", name="telecom", value={"part": [{"name": "system", "valueCode": "phone"},
                                                                    {"name": "value", "valueString": "555"}]}),
        operation("delete", "Patient.gender"),
        operation("delete", "Patient.deceased"),  # nothing there: not an error
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["birthDate"] == "1970-01-02"
    assert body["name"][0]["family"] == "Jones"
    assert body["identifier"] == [{"system": "urn:c", "value": "3"}, {"system": "urn:b", "value": "2"},
                                  {"system": "urn:a", "value": "9"}]
    assert body["telecom"] == [{"system": "phone", "value": "555"}]  # telecom repeats, so a list
    assert "gender" not in body
    assert body["meta"]["versionId"] == "2"


def test_fhirpath_patch_delete_of_a_list_item(client):
    pid = create(client, patient(identifier=[{"system": "urn:a", "value": "1"}, {"system": "urn:b", "value": "2"}]))
    response = fhirpath_patch(client, f"/fhir/Patient/{pid}", operation("delete", "Patient.identifier[0]"))
    assert response.status_code == 200, response.json
    assert response.json["identifier"] == [{"system": "urn:b", "value": "2"}]


@pytest.mark.parametrize("op, status, message", [
    (operation("replace", "Patient.name.given.select($this)", value={"valueString": "x"}), 400,
     "FHIRPath Patch operation 0 (replace Patient.name.given.select($this)): '.select($this)' is not supported "
     "in a path here; this server takes elements, [index], first(), last() and where(element = 'literal')"),
    (operation("replace", "Observation.status", value={"valueCode": "final"}), 400,
     "FHIRPath Patch operation 0 (replace Observation.status): the path must start with 'Patient' "
     "(FHIR R4 fhirpatch.html)"),
    (operation("upsert", "Patient.active"), 400,
     "FHIRPath Patch operation 0 (upsert Patient.active): type must be one of add, insert, delete, replace, move "
     "(FHIR R4 fhirpatch.html)"),
    (operation("replace", "Patient.name.given", value={"valueString": "x"}), 422,
     "FHIRPath Patch operation 0 (replace Patient.name.given): the path matches 2 elements; it must match exactly "
     "one"),
    (operation("add", "Patient", name="gender"), 400, "FHIRPath Patch operation 0 (add Patient): 'add' needs a value"),
    (operation("delete", "Patient"), 400, "FHIRPath Patch operation 0 (delete Patient): the path must name an element "
     "inside the resource; only add takes the resource itself"),
])
def test_invalid_fhirpath_patches_name_the_failing_operation(client, op, status, message):
    pid = create(client, {"resourceType": "Patient", "name": [{"given": ["Ann", "Beth"]}]})
    response = fhirpath_patch(client, f"/fhir/Patient/{pid}", op)
    assert response.status_code == status, response.json
    assert diagnostics(response) == message
    assert client.get(f"/fhir/Patient/{pid}").json["meta"]["versionId"] == "1"


# -- JSON Merge Patch (what fhirpy sends) ------------------------------------------------------------

def test_merge_patch_sets_and_removes_elements(client):
    pid = create(client, patient(gender="female"))
    response = client.patch(f"/fhir/Patient/{pid}", json={"active": False, "gender": None},
                            content_type="application/json")
    assert response.status_code == 200, response.json
    assert response.json["active"] is False
    assert "gender" not in response.json
    assert response.json["name"] == [{"family": "Smith", "given": ["Ann"]}]


# -- conditional patch -------------------------------------------------------------------------------

def test_conditional_patch_patches_the_single_match(client):
    pid = create(client, patient(identifier=[{"system": "urn:mrn", "value": "77"}]))
    response = json_patch(client, "/fhir/Patient?identifier=urn:mrn|77",
                          [{"op": "add", "path": "/active", "value": True}])
    assert response.status_code == 200, response.json
    assert response.json["id"] == pid
    assert response.json["active"] is True


def test_conditional_patch_with_no_match_is_404_and_with_several_412(client):
    add = [{"op": "add", "path": "/active", "value": True}]
    assert json_patch(client, "/fhir/Patient?family=Nobody", add).status_code == 404
    create(client, patient("Twin"))
    create(client, patient("Twin"))
    assert json_patch(client, "/fhir/Patient?family=Twin", add).status_code == 412


def test_patch_without_id_or_search_is_405(client):
    response = json_patch(client, "/fhir/Patient", [])
    assert response.status_code == 405


# -- Bundles -----------------------------------------------------------------------------------------

def binary_patch(operations):
    data = base64.b64encode(json.dumps(operations).encode()).decode()
    return {"resourceType": "Binary", "contentType": JSON_PATCH, "data": data}


def patch_entry(url, resource, **request):
    return {"resource": resource, "request": {"method": "PATCH", "url": url, **request}}


def post_bundle(client, kind, *entries):
    return client.post("/fhir", json={"resourceType": "Bundle", "type": kind, "entry": list(entries)})


def test_transaction_applies_binary_and_parameters_patches(client):
    pid = create(client, patient())
    response = post_bundle(
        client, "transaction",
        patch_entry(f"Patient/{pid}", binary_patch([{"op": "add", "path": "/active", "value": True}])),
        patch_entry(f"Patient?_id={pid}", {"resourceType": "Parameters", "parameter": [
            operation("replace", "Patient.name.family", value={"valueString": "Jones"})]}),
    )
    assert response.status_code == 200, response.json
    statuses = [e["response"]["status"] for e in response.json["entry"]]
    assert statuses == ["200 OK", "200 OK"]
    current = client.get(f"/fhir/Patient/{pid}").json
    assert current["active"] is True
    assert current["name"][0]["family"] == "Jones"
    assert current["meta"]["versionId"] == "3"


def test_patch_values_may_reference_other_entries_by_full_url(client):
    """A PATCH entry's values are rewritten as a POST's are: urn:uuid fullUrls become the new resources' ids."""
    pid = create(client, patient())
    org_url = "urn:uuid:6a1c34a8-0b1f-4c1e-9c0e-2f5b8a5d0c11"
    doctor_url = "urn:uuid:3f0c9b72-8d2e-4a57-b1d4-7e9a0c6b5e22"
    response = post_bundle(
        client, "transaction",
        {"fullUrl": org_url, "resource": {"resourceType": "Organization", "name": "Riverside Clinic"},
         "request": {"method": "POST", "url": "Organization"}},
        {"fullUrl": doctor_url, "resource": {"resourceType": "Practitioner", "name": [{"family": "Okafor"}]},
         "request": {"method": "POST", "url": "Practitioner"}},
        patch_entry(f"Patient/{pid}", binary_patch([
            {"op": "add", "path": "/managingOrganization", "value": {"reference": org_url}}])),
        patch_entry(f"Patient/{pid}", {"resourceType": "Parameters", "parameter": [
            operation("add", "Patient", name="generalPractitioner",
                      value={"valueReference": {"reference": doctor_url}})]}),
    )
    assert response.status_code == 200, response.json
    org_id = response.json["entry"][0]["response"]["location"].split("/fhir/")[1].split("/")[1]
    doctor_id = response.json["entry"][1]["response"]["location"].split("/fhir/")[1].split("/")[1]
    current = client.get(f"/fhir/Patient/{pid}").json
    assert current["managingOrganization"]["reference"] == f"Organization/{org_id}"
    assert current["generalPractitioner"][0]["reference"] == f"Practitioner/{doctor_id}"


def test_a_failing_patch_rolls_back_the_transaction(client):
    pid = create(client, patient())
    response = post_bundle(
        client, "transaction",
        {"resource": patient("New"), "request": {"method": "POST", "url": "Patient"}},
        patch_entry(f"Patient/{pid}", binary_patch([{"op": "test", "path": "/active", "value": True}])),
    )
    assert response.status_code == 422
    assert diagnostics(response).startswith(f"Transaction failed at entry 1 (PATCH Patient/{pid}); nothing was stored")
    assert client.get("/fhir/Patient?family=New").json["total"] == 0


def test_batch_patch_entries_answer_each_on_its_own(client):
    pid = create(client, patient())
    response = post_bundle(
        client, "batch",
        patch_entry(f"Patient/{pid}", binary_patch([{"op": "add", "path": "/active", "value": True}]),
                    ifMatch='W/"1"'),
        patch_entry(f"Patient/{pid}", binary_patch([{"op": "add", "path": "/active", "value": False}]),
                    ifMatch='W/"1"'),
        patch_entry(f"Patient/{pid}", {"resourceType": "Patient"}),
    )
    assert response.status_code == 200
    entries = response.json["entry"]
    assert [e["response"]["status"] for e in entries] == ["200 OK", "412 Precondition Failed", "400 Bad Request"]
    assert entries[0]["response"]["etag"] == 'W/"2"'
    assert client.get(f"/fhir/Patient/{pid}").json["active"] is True


# -- access policy and activity trail ----------------------------------------------------------------

@pytest.fixture
def two_patients(store):
    store.load([
        {"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": "p2"},
        *[{"resourceType": "Observation", "id": f"obs-{p}", "status": "preliminary", "code": {"text": "Pain"},
           "subject": {"reference": f"Patient/{p}"}} for p in ("p1", "p2")],
    ])


def test_a_patient_token_cannot_patch_outside_its_compartment(client, store, two_patients):
    token = issue_token(store, scope="patient/Observation.rus", patient="p1")
    headers = {"Authorization": f"Bearer {token}"}
    final = [{"op": "replace", "path": "/status", "value": "final"}]
    refused = json_patch(client, "/fhir/Observation/obs-p2", final, **headers)
    assert refused.status_code == 403
    assert refused.json["issue"][0]["code"] == "forbidden"
    assert store.read("Observation", "obs-p2").version == 1
    # a test operation that would fail is not evaluated either: a refused token learns nothing from it
    probe = json_patch(client, "/fhir/Observation/obs-p2", [{"op": "test", "path": "/status", "value": "x"}],
                       **headers)
    assert probe.status_code == 403
    moved = json_patch(client, "/fhir/Observation/obs-p1",
                       [{"op": "replace", "path": "/subject/reference", "value": "Patient/p2"}], **headers)
    assert moved.status_code == 403
    assert store.read("Observation", "obs-p1").resource["subject"] == {"reference": "Patient/p1"}
    allowed = json_patch(client, "/fhir/Observation/obs-p1", final, **headers)
    assert allowed.status_code == 200, allowed.json
    assert store.read("Observation", "obs-p1").resource["status"] == "final"


def test_patch_requests_are_in_the_audit_trail(client, store, two_patients):
    from sandbox.auth import audit

    token = issue_token(store, scope="patient/Observation.rus", patient="p1")
    json_patch(client, "/fhir/Observation/obs-p1", [{"op": "replace", "path": "/status", "value": "final"}],
               Authorization=f"Bearer {token}")
    event = audit.recent(store, limit=1, event="access.allowed")[0]
    assert (event.detail["method"], event.detail["path"], event.detail["status"]) == (
        "PATCH", "/fhir/Observation/obs-p1", 200)
    assert event.rule.startswith("Updating")


def test_fhirpath_patch_names_choice_elements_without_their_type(client, store, two_patients):
    response = fhirpath_patch(
        client, "/fhir/Observation/obs-p1",
        operation("add", "Observation", name="value", value={"valueQuantity": {"value": 4, "unit": "score"}}),
        operation("replace", "Observation.value.unit", value={"valueString": "points"}),
        operation("add", "Observation", name="effective", value={"valueDateTime": "2026-05-01"}),
    )
    assert response.status_code == 200, response.json
    assert response.json["valueQuantity"] == {"value": 4, "unit": "points"}
    assert response.json["effectiveDateTime"] == "2026-05-01"
    response = fhirpath_patch(
        client, "/fhir/Observation/obs-p1",
        operation("replace", "Observation.value", value={"valueString": "mild"}),
        operation("delete", "Observation.effective"),
    )
    assert response.status_code == 200, response.json
    assert response.json["valueString"] == "mild"
    assert "valueQuantity" not in response.json and "effectiveDateTime" not in response.json
