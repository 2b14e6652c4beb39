"""FHIR R4 instance interactions over HTTP: create, read, vread, update, delete, history, and their
headers (ETag, Last-Modified, Location), conditional create/update/read and Prefer."""

import email.utils

import pytest

FHIR_JSON = "application/fhir+json; charset=utf-8"


def patient(family="Smith", **extra):
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Ann"]}], **extra}


def observation(subject, **extra):
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": subject}, **extra}


def create(client, resource, **kwargs):
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource, **kwargs)
    assert response.status_code == 201, response.json
    return response


def test_create_assigns_an_id_and_answers_201_with_location_and_etag(client):
    response = create(client, patient(id="client-id"))
    body = response.json
    assert body["id"] != "client-id"
    assert body["meta"]["versionId"] == "1"
    assert response.headers["Content-Type"] == FHIR_JSON
    assert response.headers["Location"] == f"http://localhost/fhir/Patient/{body['id']}/_history/1"
    assert response.headers["ETag"] == 'W/"1"'
    assert email.utils.parsedate_to_datetime(response.headers["Last-Modified"]).year >= 2024
    assert body["name"] == [{"family": "Smith", "given": ["Ann"]}]


def test_read_answers_the_stored_resource_with_etag(client):
    pid = create(client, patient()).json["id"]
    response = client.get(f"/fhir/Patient/{pid}")
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Content-Type"] == FHIR_JSON
    assert response.json["id"] == pid
    assert response.json["resourceType"] == "Patient"


def test_read_of_an_unknown_id_is_404_operation_outcome(client):
    response = client.get("/fhir/Patient/nobody")
    assert response.status_code == 404
    assert response.json == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "not-found", "diagnostics": "Patient/nobody is not known"}]}


def test_update_creates_versions_and_vread_reads_each(client):
    pid = create(client, patient("Smith")).json["id"]
    response = client.put(f"/fhir/Patient/{pid}", json=patient("Jones", id=pid))
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"2"'
    assert response.headers["Location"] == f"http://localhost/fhir/Patient/{pid}/_history/2"
    assert response.json["meta"]["versionId"] == "2"
    assert client.get(f"/fhir/Patient/{pid}/_history/1").json["name"][0]["family"] == "Smith"
    assert client.get(f"/fhir/Patient/{pid}/_history/2").json["name"][0]["family"] == "Jones"
    assert client.get(f"/fhir/Patient/{pid}/_history/3").status_code == 404
    assert client.get(f"/fhir/Patient/{pid}/_history/abc").status_code == 404


def test_update_as_create_keeps_the_client_id(client):
    response = client.put("/fhir/Patient/my-own-id", json=patient(id="my-own-id"))
    assert response.status_code == 201
    assert response.headers["Location"] == "http://localhost/fhir/Patient/my-own-id/_history/1"
    assert client.get("/fhir/Patient/my-own-id").json["id"] == "my-own-id"


@pytest.mark.parametrize(("body_id", "expected"), [
    ("other", "The body's id 'other' does not match the id 'p1' in the URL"),
    (None, "The Patient in a PUT body must have an id, and it must be 'p1'"),
])
def test_update_needs_the_url_id_in_the_body(client, body_id, expected):
    body = patient() if body_id is None else patient(id=body_id)
    response = client.put("/fhir/Patient/p1", json=body)
    assert response.status_code == 400
    assert response.json["issue"][0]["diagnostics"] == expected


def test_if_match_refuses_a_stale_version_with_412(client):
    client.put("/fhir/Patient/p1", json=patient(id="p1"))
    client.put("/fhir/Patient/p1", json=patient("Jones", id="p1"))
    stale = client.put("/fhir/Patient/p1", json=patient("Brown", id="p1"), headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json["issue"][0]["code"] == "conflict"
    fresh = client.put("/fhir/Patient/p1", json=patient("Brown", id="p1"), headers={"If-Match": 'W/"2"'})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == 'W/"3"'


def test_if_match_that_is_not_a_version_is_400(client):
    client.put("/fhir/Patient/p1", json=patient(id="p1"))
    response = client.put("/fhir/Patient/p1", json=patient(id="p1"), headers={"If-Match": "banana"})
    assert response.status_code == 400


def test_delete_then_read_is_410_and_deleting_again_is_fine(client):
    pid = create(client, patient()).json["id"]
    deleted = client.delete(f"/fhir/Patient/{pid}")
    assert deleted.status_code == 200
    assert deleted.headers["ETag"] == 'W/"2"'
    assert deleted.json["issue"][0]["severity"] == "information"
    gone = client.get(f"/fhir/Patient/{pid}")
    assert gone.status_code == 410
    assert gone.json["issue"][0]["code"] == "deleted"
    again = client.delete(f"/fhir/Patient/{pid}")
    assert again.status_code == 200
    assert again.json["issue"][0]["diagnostics"] == f"Patient/{pid} was already deleted; nothing to delete"
    assert client.delete("/fhir/Patient/never-was").status_code == 200


def test_instance_history_lists_versions_newest_first(client):
    pid = create(client, patient("Smith")).json["id"]
    client.put(f"/fhir/Patient/{pid}", json=patient("Jones", id=pid))
    client.delete(f"/fhir/Patient/{pid}")
    bundle = client.get(f"/fhir/Patient/{pid}/_history").json
    assert bundle["type"] == "history"
    assert bundle["total"] == 3
    requests = [(e["request"]["method"], e["request"]["url"], e["response"]["status"], e["response"]["etag"])
                for e in bundle["entry"]]
    assert requests == [
        ("DELETE", f"Patient/{pid}", "204 No Content", 'W/"3"'),
        ("PUT", f"Patient/{pid}", "200 OK", 'W/"2"'),
        ("POST", "Patient", "201 Created", 'W/"1"'),
    ]
    assert "resource" not in bundle["entry"][0]
    assert bundle["entry"][1]["resource"]["name"][0]["family"] == "Jones"
    assert all(e["fullUrl"] == f"http://localhost/fhir/Patient/{pid}" for e in bundle["entry"])


def test_history_of_an_unknown_resource_is_404(client):
    assert client.get("/fhir/Patient/nobody/_history").status_code == 404


def test_type_and_system_history_with_count_and_since(client):
    first = create(client, patient("A")).json
    create(client, patient("B"))
    create(client, observation(f"Patient/{first['id']}"))
    type_history = client.get("/fhir/Patient/_history").json
    assert type_history["total"] == 2
    assert sorted(e["resource"]["name"][0]["family"] for e in type_history["entry"]) == ["A", "B"]
    system = client.get("/fhir/_history?_count=2").json
    assert system["total"] == 3
    assert len(system["entry"]) == 2
    links = {link["relation"]: link["url"] for link in system["link"]}
    assert links["next"] == "http://localhost/fhir/_history?_count=2&_offset=2"
    rest = client.get(links["next"]).json["entry"]
    assert len(rest) == 1
    types = sorted(e["resource"]["resourceType"] for e in system["entry"] + rest)
    assert types == ["Observation", "Patient", "Patient"]
    since = first["meta"]["lastUpdated"]
    later = client.get(f"/fhir/_history?_since={since}").json
    assert later["total"] == 3
    assert client.get("/fhir/_history?_since=2999-01-01T00:00:00Z").json["total"] == 0
    assert client.get("/fhir/_history?_since=yesterday").status_code == 400


def test_conditional_create_with_if_none_exist(client):
    body = patient(identifier=[{"system": "urn:mrn", "value": "42"}])
    created = client.post("/fhir/Patient", json=body, headers={"If-None-Exist": "identifier=urn:mrn|42"})
    assert created.status_code == 201
    existing = client.post("/fhir/Patient", json=body, headers={"If-None-Exist": "identifier=urn:mrn|42"})
    assert existing.status_code == 200
    assert existing.json["id"] == created.json["id"]
    client.post("/fhir/Patient", json=body)
    ambiguous = client.post("/fhir/Patient", json=body, headers={"If-None-Exist": "identifier=urn:mrn|42"})
    assert ambiguous.status_code == 412


def test_conditional_update_by_search(client):
    body = patient(identifier=[{"system": "urn:mrn", "value": "7"}])
    created = client.put("/fhir/Patient?identifier=urn:mrn|7", json=body)
    assert created.status_code == 201
    pid = created.json["id"]
    updated = client.put("/fhir/Patient?identifier=urn:mrn|7", json={**body, "gender": "female"})
    assert updated.status_code == 200
    assert updated.json["id"] == pid
    assert updated.json["meta"]["versionId"] == "2"
    wrong = client.put("/fhir/Patient?identifier=urn:mrn|7", json={**body, "id": "other"})
    assert wrong.status_code == 400
    client.post("/fhir/Patient", json=body)
    assert client.put("/fhir/Patient?identifier=urn:mrn|7", json=body).status_code == 412


@pytest.mark.parametrize(("prefer", "expected"), [
    ("return=minimal", None),
    ("return=representation", "Patient"),
    ("return=OperationOutcome", "OperationOutcome"),
])
def test_prefer_return_shapes_create_and_update(client, prefer, expected):
    created = client.post("/fhir/Patient", json=patient(), headers={"Prefer": prefer})
    assert created.status_code == 201
    assert created.headers["Location"].startswith("http://localhost/fhir/Patient/")
    updated = client.put("/fhir/Patient/p9", json=patient(id="p9"), headers={"Prefer": prefer})
    for response in (created, updated):
        if expected is None:
            assert response.data == b""
        else:
            assert response.json["resourceType"] == expected


def test_conditional_read_answers_304(client):
    pid = create(client, patient()).json["id"]
    response = client.get(f"/fhir/Patient/{pid}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304
    assert client.get(f"/fhir/Patient/{pid}", headers={"If-None-Match": 'W/"0"'}).status_code == 200
    modified = client.get(f"/fhir/Patient/{pid}").headers["Last-Modified"]
    assert client.get(f"/fhir/Patient/{pid}", headers={"If-Modified-Since": modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(f"/fhir/Patient/{pid}", headers={"If-Modified-Since": old}).status_code == 200


def test_read_with_summary_and_elements(client):
    pid = create(client, patient(gender="female", text={"status": "generated", "div": "<div>Ann</div>"},
                                 maritalStatus={"text": "Married"})).json["id"]
    summary = client.get(f"/fhir/Patient/{pid}?_summary=true").json
    assert set(summary) == {"resourceType", "id", "meta", "name", "gender"}
    assert summary["meta"]["tag"][-1]["code"] == "SUBSETTED"
    elements = client.get(f"/fhir/Patient/{pid}?_elements=gender").json
    assert set(elements) == {"resourceType", "id", "meta", "gender"}
    assert client.get(f"/fhir/Patient/{pid}?_summary=maybe").status_code == 400


def test_writes_are_validated(client):
    bad_date = client.post("/fhir/Patient", json=patient(birthDate="1970-13-45"))
    assert bad_date.status_code == 422
    assert bad_date.json["issue"][0]["expression"] == ["Patient.birthDate"]
    assert bad_date.json["issue"][0]["diagnostics"].startswith("Patient.birthDate is not valid: ")
    unknown_element = client.post("/fhir/Patient", json=patient(favouriteColour="blue"))
    assert unknown_element.status_code == 422
    wrong_type = client.post("/fhir/Patient", json={"resourceType": "Observation", "status": "final"})
    assert wrong_type.status_code == 400
    assert wrong_type.json["issue"][0]["diagnostics"] == \
        "The body holds resourceType 'Observation' but the URL names Patient"


@pytest.mark.parametrize("reference", [
    "Patient/123", "Patient/123/_history/2", "http://example.org/fhir/Patient/9", "#contained-1",
])
def test_valid_reference_forms_are_accepted(client, reference):
    client.put("/fhir/Patient/123", json={"resourceType": "Patient", "id": "123"})  # local references must resolve
    body = observation(reference)
    if reference.startswith("#"):
        body["contained"] = [{"resourceType": "Patient", "id": "contained-1"}]
    assert client.post("/fhir/Observation", json=body).status_code == 201


@pytest.mark.parametrize(("reference", "reason"), [
    ("Patient", "is not a valid reference"),
    ("patient/123", "is not a valid reference"),
    ("Patient/bad id", "is not a valid reference"),
    ("Spaceship/1", "is not a FHIR R4 resource type"),
    ("urn:uuid:7c8f3a5e-96d3-4d30-8c33-6e4f1a2b3c4d", "only allowed inside a transaction Bundle"),
    ("Patient?identifier=x", "only allowed inside a transaction Bundle"),
])
def test_invalid_references_are_refused_with_the_element_path(client, reference, reason):
    response = client.post("/fhir/Observation", json=observation(reference))
    assert response.status_code == 422
    diagnostics = response.json["issue"][0]["diagnostics"]
    assert diagnostics.startswith(f"Observation.subject.reference '{reference}'")
    assert reason in diagnostics


def test_a_stored_document_bundle_may_use_urn_references(client):
    urn = "urn:uuid:7c8f3a5e-96d3-4d30-8c33-6e4f1a2b3c4d"
    document = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": urn, "resource": {"resourceType": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                      "subject": {"reference": urn}}}]}
    assert client.post("/fhir/Bundle", json=document).status_code == 201


def test_post_to_an_instance_is_405(client):
    response = client.post("/fhir/Patient/p1", json=patient())
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, PUT, PATCH, DELETE"
