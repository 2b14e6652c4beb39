"""Patient/[id]/$everything: the patient, their compartment and the resources it references."""

import pytest


def ref(target):
    return {"reference": target}


RESOURCES = [
    {"resourceType": "Organization", "id": "org1", "name": "General Hospital"},
    {"resourceType": "Organization", "id": "org-unused", "name": "Elsewhere"},
    {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "House"}]},
    {"resourceType": "Location", "id": "loc1", "name": "Ward 3"},
    {"resourceType": "Medication", "id": "med1", "code": {"text": "metformin"}},
    {"resourceType": "Patient", "id": "p1", "managingOrganization": ref("Organization/org1")},
    {"resourceType": "Patient", "id": "p2"},
    {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
     "subject": ref("Patient/p1"), "participant": [{"individual": ref("Practitioner/dr1")}],
     "location": [{"location": ref("Location/loc1")}]},
    {"resourceType": "Encounter", "id": "e2", "status": "finished", "class": {"code": "AMB"},
     "subject": ref("Patient/p2")},
    {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "HR"},
     "subject": ref("Patient/p1"), "encounter": ref("Encounter/e1")},
    {"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order",
     "medicationReference": ref("Medication/med1"), "subject": ref("Patient/p1")},
    {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "HR"},
     "subject": ref("Patient/p2"), "performer": [ref("Practitioner/dr1")]},
]


@pytest.fixture
def data(store):
    store.load(RESOURCES)
    return store


def keys(bundle):
    return [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle.get("entry", [])]


def test_everything_holds_the_record_and_what_it_references(client, data):
    response = client.get("/fhir/Patient/p1/$everything")
    assert response.status_code == 200
    bundle = response.json
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 8
    assert keys(bundle) == [
        ("Patient", "p1"),
        ("Location", "loc1"), ("Medication", "med1"), ("Organization", "org1"), ("Practitioner", "dr1"),
        ("Encounter", "e1"), ("MedicationRequest", "mr1"), ("Observation", "o1"),
    ]
    assert bundle["entry"][0]["fullUrl"] == "http://localhost/fhir/Patient/p1"


def test_everything_pages_with_count_and_offset(client, data):
    first = client.get("/fhir/Patient/p1/$everything?_count=3").json
    assert keys(first) == [("Patient", "p1"), ("Location", "loc1"), ("Medication", "med1")]
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert links["next"] == "http://localhost/fhir/Patient/p1/$everything?_count=3&_offset=3"
    seen = keys(first)
    url = links["next"]
    while url:
        page = client.get(url).json
        seen += keys(page)
        url = {link["relation"]: link["url"] for link in page["link"]}.get("next")
    assert len(seen) == 8
    assert len(set(seen)) == 8


def test_everything_honours_type_and_since(client, data):
    only = client.get("/fhir/Patient/p1/$everything?_type=Encounter,Observation").json
    assert keys(only) == [("Encounter", "e1"), ("Observation", "o1")]
    assert client.get("/fhir/Patient/p1/$everything?_since=2999-01-01T00:00:00Z").json["total"] == 0
    client.put("/fhir/Observation/o1", json={**RESOURCES[9]})
    changed = client.get("/fhir/Observation/o1").json["meta"]["lastUpdated"]
    recent = client.get(f"/fhir/Patient/p1/$everything?_since={changed}").json
    assert keys(recent) == [("Observation", "o1")]


def test_everything_of_an_unknown_or_deleted_patient(client, data):
    assert client.get("/fhir/Patient/nobody/$everything").status_code == 404
    client.put("/fhir/Patient/lonely", json={"resourceType": "Patient", "id": "lonely"})
    assert client.delete("/fhir/Patient/lonely").status_code == 200  # p2 is referenced, so cannot be deleted
    assert client.get("/fhir/Patient/lonely/$everything").status_code == 410


def test_everything_leaves_out_what_the_policy_may_not_see(app, client, data):
    from flask import request

    from sandbox.fhir.access import AccessPolicy
    from sandbox.fhir.policy import use_policy

    class NoPractitioners(AccessPolicy):
        def may_see(self, stored):
            return stored.type != "Practitioner"

    @app.before_request
    def install_policy():
        if request.path.startswith("/fhir"):
            use_policy(NoPractitioners())

    bundle = client.get("/fhir/Patient/p1/$everything").json
    assert ("Practitioner", "dr1") not in keys(bundle)
    assert bundle["total"] == 7
