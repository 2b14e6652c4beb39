"""Batch and transaction Bundles POSTed to the FHIR base (FHIR R4 http.html §3.1.0.11)."""

import pytest

PATIENT_URN = "urn:uuid:6f3f1b3e-2c1d-4a8e-9a55-0d7c6b8e1f20"
ORG_URN = "urn:uuid:0b5a4bb0-7d6d-4c43-9d1e-2f7f4d3c2a10"


def entry(method, url, resource=None, full_url=None, **request):
    item = {"request": {"method": method, "url": url, **request}}
    if resource is not None:
        item["resource"] = resource
    if full_url:
        item["fullUrl"] = full_url
    return item


def bundle(kind, *entries):
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(client, body, **kwargs):
    return client.post("/fhir", json=body, **kwargs)


def practitioner(npi, family="House"):
    return {"resourceType": "Practitioner", "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
            "name": [{"family": family}]}


def test_transaction_rewrites_urn_references_to_assigned_ids(client):
    response = post(client, bundle(
        "transaction",
        entry("POST", "Observation", {"resourceType": "Observation", "status": "final", "code": {"text": "HR"},
                                      "subject": {"reference": PATIENT_URN}}),
        entry("POST", "Patient", {"resourceType": "Patient", "managingOrganization": {"reference": ORG_URN}},
              full_url=PATIENT_URN),
        entry("POST", "Organization", {"resourceType": "Organization", "name": "Clinic"}, full_url=ORG_URN),
    ))
    assert response.status_code == 200
    result = response.json
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created", "201 Created", "201 Created"]
    locations = [e["response"]["location"] for e in result["entry"]]
    assert all(loc.startswith("http://localhost/fhir/") and loc.endswith("/_history/1") for loc in locations)
    observation_id = locations[0].split("/")[5]
    patient_id = locations[1].split("/")[5]
    org_id = locations[2].split("/")[5]
    observation = client.get(f"/fhir/Observation/{observation_id}").json
    assert observation["subject"] == {"reference": f"Patient/{patient_id}"}
    assert client.get(f"/fhir/Patient/{patient_id}").json["managingOrganization"] == {
        "reference": f"Organization/{org_id}"}
    assert result["entry"][0]["response"]["etag"] == 'W/"1"'


def test_transaction_resolves_conditional_references(client):
    client.post("/fhir/Practitioner", json=practitioner("9999974493"))
    practitioner_id = client.get("/fhir/Practitioner").json["entry"][0]["resource"]["id"]
    response = post(client, bundle("transaction", entry("POST", "Encounter", {
        "resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
        "participant": [{"individual": {
            "reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999974493"}}]})))
    assert response.status_code == 200
    location = response.json["entry"][0]["response"]["location"]
    encounter = client.get(location.split("/_history")[0].replace("http://localhost", "")).json
    assert encounter["participant"][0]["individual"] == {"reference": f"Practitioner/{practitioner_id}"}


@pytest.mark.parametrize(("existing", "status", "phrase"), [
    (0, 400, "matches no Practitioner"),
    (2, 412, "matches more than one Practitioner"),
])
def test_unresolvable_conditional_reference_fails_the_whole_transaction(client, existing, status, phrase):
    for _ in range(existing):
        client.post("/fhir/Practitioner", json=practitioner("1"))
    response = post(client, bundle(
        "transaction",
        entry("POST", "Patient", {"resourceType": "Patient"}),
        entry("POST", "Encounter", {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                                    "participant": [{"individual": {"reference": "Practitioner?identifier=1"}}]}),
    ))
    assert response.status_code == status
    diagnostics = response.json["issue"][0]["diagnostics"]
    assert diagnostics.startswith("Transaction failed at entry 1 (POST Encounter); nothing was stored:")
    assert phrase in diagnostics
    assert client.get("/fhir/Patient").json["total"] == 0
    assert client.get("/fhir/Encounter").json["total"] == 0


def test_transaction_is_all_or_nothing(client):
    client.put("/fhir/Patient/keep", json={"resourceType": "Patient", "id": "keep"})
    response = post(client, bundle(
        "transaction",
        entry("DELETE", "Patient/keep"),
        entry("POST", "Patient", {"resourceType": "Patient", "gender": "female"}),
        entry("POST", "Patient", {"resourceType": "Patient", "birthDate": "not-a-date"}),
    ))
    assert response.status_code == 422
    assert client.get("/fhir/Patient/keep").status_code == 200
    assert client.get("/fhir/Patient").json["total"] == 1


def test_transaction_processing_order_is_delete_post_put_get(client):
    client.put("/fhir/Patient/old", json={"resourceType": "Patient", "id": "old"})
    response = post(client, bundle(
        "transaction",
        entry("GET", "Patient?_count=10"),
        entry("PUT", "Patient/fixed", {"resourceType": "Patient", "id": "fixed"}),
        entry("POST", "Patient", {"resourceType": "Patient"}),
        entry("DELETE", "Patient/old"),
    ))
    assert response.status_code == 200
    result = response.json["entry"]
    assert [e["response"]["status"] for e in result] == ["200 OK", "201 Created", "201 Created", "200 OK"]
    search = result[0]["resource"]
    assert search["type"] == "searchset"
    assert search["total"] == 2  # the GET ran last: old is deleted, fixed and the new one exist
    assert result[3]["response"]["outcome"]["issue"][0]["severity"] == "information"


def test_transaction_conditional_create_and_conditional_update(client):
    client.post("/fhir/Practitioner", json=practitioner("42", "Old"))
    existing_id = client.get("/fhir/Practitioner").json["entry"][0]["resource"]["id"]
    response = post(client, bundle(
        "transaction",
        entry("POST", "Practitioner", practitioner("42"), full_url="urn:uuid:11111111-1111-4111-8111-111111111111",
              ifNoneExist="identifier=http://hl7.org/fhir/sid/us-npi|42"),
        entry("POST", "Practitioner", practitioner("43"), ifNoneExist="identifier=http://hl7.org/fhir/sid/us-npi|43"),
        entry("PUT", "Patient?identifier=urn:mrn|7",
              {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "7"}],
               "generalPractitioner": [{"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"}]}),
    ))
    assert response.status_code == 200, response.json
    result = response.json["entry"]
    assert [e["response"]["status"] for e in result] == ["200 OK", "201 Created", "201 Created"]
    assert result[0]["resource"]["id"] == existing_id
    patient = result[2]["resource"]
    assert patient["generalPractitioner"] == [{"reference": f"Practitioner/{existing_id}"}]
    again = post(client, bundle("transaction", entry(
        "PUT", "Patient?identifier=urn:mrn|7",
        {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "7"}], "gender": "male"})))
    assert again.json["entry"][0]["response"]["status"] == "200 OK"
    assert again.json["entry"][0]["resource"]["id"] == patient["id"]
    assert again.json["entry"][0]["response"]["etag"] == 'W/"2"'


def test_transaction_with_a_dangling_urn_reference_fails(client):
    response = post(client, bundle("transaction", entry(
        "POST", "Observation", {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                                "subject": {"reference": PATIENT_URN}})))
    assert response.status_code == 422
    assert "only allowed inside a transaction Bundle" in response.json["issue"][0]["diagnostics"]


def test_batch_entries_succeed_or_fail_on_their_own(client):
    client.put("/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    response = post(client, bundle(
        "batch",
        entry("GET", "Patient/p1"),
        entry("GET", "Patient/nobody"),
        entry("POST", "Patient", {"resourceType": "Patient", "birthDate": "nope"}),
        entry("POST", "Patient", {"resourceType": "Patient", "gender": "other"}),
        entry("PUT", "Patient/p1", {"resourceType": "Patient", "id": "p1", "gender": "female"}, ifMatch='W/"5"'),
        entry("DELETE", "Patient/p1"),
        entry("GET", "Spaceship/1"),
        {"request": {"method": "FETCH", "url": "Patient"}},
    ))
    assert response.status_code == 200
    result = response.json
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["200 OK", "404 Not Found", "422 Unprocessable Entity", "201 Created",
                        "412 Precondition Failed", "200 OK", "404 Not Found", "400 Bad Request"]
    assert result["entry"][0]["resource"]["id"] == "p1"
    assert result["entry"][1]["response"]["outcome"]["issue"][0]["code"] == "not-found"
    assert client.get("/fhir/Patient").json["total"] == 1  # p1 deleted, one created


def test_batch_read_entries(client):
    client.put("/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1"})
    client.put("/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1", "gender": "male"})
    response = post(client, bundle(
        "batch",
        entry("GET", "Patient/p1/_history/1"),
        entry("GET", "Patient/p1/_history"),
        entry("GET", "http://localhost/fhir/Patient?gender=male"),
        entry("GET", "Patient/p1/$everything"),
    ))
    result = response.json["entry"]
    assert [e["response"]["status"] for e in result] == ["200 OK"] * 4
    assert result[0]["resource"]["meta"]["versionId"] == "1"
    assert result[1]["resource"]["type"] == "history"
    assert result[2]["resource"]["total"] == 1
    assert result[3]["resource"]["entry"][0]["resource"]["id"] == "p1"


def test_prefer_minimal_leaves_resources_out_of_the_response(client):
    response = post(client, bundle("transaction", entry("POST", "Patient", {"resourceType": "Patient"})),
                    headers={"Prefer": "return=minimal"})
    assert "resource" not in response.json["entry"][0]
    assert response.json["entry"][0]["response"]["status"] == "201 Created"


@pytest.mark.parametrize(("body", "message"), [
    ({"resourceType": "Patient"}, "POST to the FHIR base takes a Bundle of type batch or transaction"),
    ({"resourceType": "Bundle", "type": "collection"},
     "A Bundle POSTed to the base must be of type batch or transaction, not 'collection'"),
    ({"resourceType": "Bundle", "type": "transaction", "entry": {}}, "Bundle.entry must be a list"),
    (bundle("transaction", {"resource": {"resourceType": "Patient"}}), "entry 0 has no request"),
    (bundle("transaction", entry("GET", "")), "entry 0: request.url is missing"),
    (bundle("transaction", entry("GET", "http://elsewhere.org/fhir/Patient/1")),
     "entry 0: request.url 'http://elsewhere.org/fhir/Patient/1' is not on this server (http://localhost/fhir)"),
    ([1, 2], "POST to the FHIR base takes a Bundle of type batch or transaction"),
])
def test_malformed_bundles_are_400(client, body, message):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json["issue"][0]["diagnostics"] == message


def test_patch_of_an_unknown_resource_fails_the_transaction(client):
    response = post(client, bundle("transaction", entry("PATCH", "Patient/1", {"resourceType": "Parameters"})))
    assert response.status_code == 404
