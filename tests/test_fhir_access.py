"""Every FHIR interaction asks the request's AccessPolicy: checks per permission, search filters applied in
the store (so totals and paging only count what may be seen), and included entries dropped."""

import pytest
from flask import request

from sandbox.fhir.access import AccessPolicy
from sandbox.fhir.policy import current_policy, use_policy
from sandbox.store.errors import Forbidden
from sandbox.store.search import Compartment


class RecordingPolicy(AccessPolicy):
    """Sees only patient p1's compartment; may not delete; records every question it is asked."""

    def __init__(self):
        self.calls = []

    def check(self, permission, resource_type, resource=None):
        self.calls.append((permission, resource_type, resource.get("id") if resource else None))
        if permission == "d":
            raise Forbidden(f"This token may not delete {resource_type}")

    def check_stored(self, permission, stored):
        self.check(permission, stored.type, stored.resource)

    def search_filters(self, resource_type):
        return (Compartment(("p1",)),) if resource_type != "Practitioner" else ()

    def may_see(self, stored):
        return stored.type != "Practitioner"


@pytest.fixture
def policy(app, store):
    store.load([
        {"resourceType": "Practitioner", "id": "dr1"},
        {"resourceType": "Patient", "id": "p1", "generalPractitioner": [{"reference": "Practitioner/dr1"}]},
        {"resourceType": "Patient", "id": "p2"},
        *[{"resourceType": "Observation", "id": f"o{n}", "status": "final", "code": {"text": "x"},
           "subject": {"reference": f"Patient/p{1 + n % 2}"}} for n in range(10)],
    ])
    recording = RecordingPolicy()

    @app.before_request
    def install():
        if request.path.startswith("/fhir"):
            use_policy(recording)

    return recording


def test_without_a_policy_everything_is_allowed(app):
    from sandbox.fhir.access import ALLOW_ALL

    with app.test_request_context("/fhir/Patient"):
        assert current_policy() is ALLOW_ALL


def test_read_checks_the_type_then_the_resource(client, policy):
    assert client.get("/fhir/Patient/p1").status_code == 200
    assert policy.calls == [("r", "Patient", None), ("r", "Patient", "p1")]


def test_search_is_filtered_inside_the_store(client, policy):
    bundle = client.get("/fhir/Observation?_count=2").json
    assert policy.calls == [("s", "Observation", None)]
    assert bundle["total"] == 5
    url, seen = "/fhir/Observation?_count=2", []
    while url:
        page = client.get(url).json
        seen += [e["resource"]["subject"]["reference"] for e in page["entry"]]
        url = {link["relation"]: link["url"] for link in page["link"]}.get("next")
    assert seen == ["Patient/p1"] * 5


def test_included_entries_the_policy_may_not_see_are_dropped(client, policy):
    bundle = client.get("/fhir/Patient?_include=Patient:general-practitioner").json
    assert [(e["search"]["mode"], e["resource"]["id"]) for e in bundle["entry"]] == [("match", "p1")]


def test_writes_check_their_permission(client, policy):
    created = client.post("/fhir/Patient", json={"resourceType": "Patient"})
    assert created.status_code == 201
    assert policy.calls[-1] == ("c", "Patient", None)
    policy.calls.clear()
    client.put("/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1", "gender": "male"})
    assert policy.calls == [("u", "Patient", "p1"), ("u", "Patient", "p1")]
    policy.calls.clear()
    client.put("/fhir/Patient/new", json={"resourceType": "Patient", "id": "new"})
    assert policy.calls == [("c", "Patient", "new")]


def test_a_refusal_is_a_403_operation_outcome_and_nothing_changes(client, policy):
    response = client.delete("/fhir/Patient/p1")
    assert response.status_code == 403
    assert response.json["issue"][0] == {"severity": "error", "code": "forbidden",
                                         "diagnostics": "This token may not delete Patient"}
    assert client.get("/fhir/Patient/p1").status_code == 200


def test_history_and_everything_ask_for_read(client, policy):
    client.get("/fhir/Patient/p1/_history")
    assert policy.calls == [("r", "Patient", None), ("r", "Patient", "p1")]
    policy.calls.clear()
    bundle = client.get("/fhir/Patient/p1/$everything").json
    assert policy.calls == [("r", "Patient", "p1")]
    assert "Practitioner" not in {e["resource"]["resourceType"] for e in bundle["entry"]}


def test_transactions_run_under_the_same_policy(client, policy):
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "DELETE", "url": "Patient/p2"}},
    ]})
    assert response.status_code == 403
    assert client.get("/fhir/Patient/p2").status_code == 200
