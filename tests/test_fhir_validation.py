"""Validation on write (FHIR R4 http.html §3.1.0.4.1): required bindings, invariants, local references, the
types that cannot be checked, and $validate (resource-operation-validate)."""

import json

import pytest
import requests

from sandbox.fhir.references import dangling_references
from sandbox.store.bindings import binding_trees
from sandbox.store.invariants import RULES, invariant_texts
from sandbox.store.validation import resource_problems

LOINC_HEART_RATE = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}


def observation(**extra):
    return {"resourceType": "Observation", "status": "final", "code": LOINC_HEART_RATE, **extra}


def refused(response, expression):
    """The one issue of a 422 OperationOutcome, which names ``expression``."""
    assert response.status_code == 422, response.json
    issues = response.json["issue"]
    assert [issue["expression"] for issue in issues] == [[expression]]
    assert issues[0]["location"] == [expression]
    assert issues[0]["severity"] == "error"
    return issues[0]


def test_a_code_outside_its_required_value_set_is_refused(client):
    issue = refused(client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "xx"}), "Patient.gender")
    assert issue["code"] == "code-invalid"
    assert issue["diagnostics"] == ("Patient.gender 'xx' is not a code of the required value set "
                                    "http://hl7.org/fhir/ValueSet/administrative-gender "
                                    "(allowed: female, male, other, unknown)")


def test_a_bogus_status_is_refused_on_create_and_update(client):
    refused(client.post("/fhir/Observation", json=observation(status="bogus")), "Observation.status")
    created = client.post("/fhir/Observation", json=observation())
    oid = created.json["id"]
    refused(client.put(f"/fhir/Observation/{oid}", json=observation(id=oid, status="bogus")), "Observation.status")


def test_nested_codes_and_codings_of_a_bound_system_are_checked(client):
    contact = {"name": {"family": "Doe"}, "gender": "nope"}
    refused(client.post("/fhir/Patient", json={"resourceType": "Patient", "contact": [contact]}),
            "Patient.contact[0].gender")
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/none"}}
    patient = client.post("/fhir/Patient", json={"resourceType": "Patient"}).json["id"]
    condition["subject"]["reference"] = f"Patient/{patient}"
    condition["clinicalStatus"] = {"coding": [
        {"system": "http://snomed.info/sct", "code": "55561003"},  # another system: not checked
        {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "finished"}]}
    issue = refused(client.post("/fhir/Condition", json=condition), "Condition.clinicalStatus.coding[1].code")
    assert "(allowed: active, inactive, recurrence, relapse, remission, resolved)" in issue["diagnostics"]
    condition["clinicalStatus"]["coding"][1]["code"] = "active"
    assert client.post("/fhir/Condition", json=condition).status_code == 201


def test_codes_inside_data_types_are_checked(client):
    refused(client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"use": "nick"}]}),
            "Patient.name[0].use")
    body = observation(component=[{"code": {"text": "x"}, "valueQuantity": {"value": 1, "comparator": "~"}}])
    refused(client.post("/fhir/Observation", json=body), "Observation.component[0].valueQuantity.comparator")
    body = observation(performer=[{"identifier": {"use": "primary", "value": "1"}}])
    refused(client.post("/fhir/Observation", json=body), "Observation.performer[0].identifier.use")


def test_obs_6_data_absent_reason_only_without_a_value(client):
    body = observation(valueQuantity={"value": 70}, dataAbsentReason={"text": "not asked"})
    issue = refused(client.post("/fhir/Observation", json=body), "Observation.dataAbsentReason")
    assert issue["code"] == "invariant"
    assert issue["diagnostics"] == ("Observation.dataAbsentReason breaks invariant obs-6: dataAbsentReason SHALL "
                                    "only be present if Observation.value[x] is not present")
    del body["valueQuantity"]
    assert client.post("/fhir/Observation", json=body).status_code == 201


def test_obs_7_a_component_code_is_not_the_observation_code_when_there_is_a_value(client):
    body = observation(valueQuantity={"value": 70}, component=[
        {"code": {"text": "other"}, "valueString": "x"}, {"code": LOINC_HEART_RATE, "valueQuantity": {"value": 70}}])
    issue = refused(client.post("/fhir/Observation", json=body), "Observation.component[1].code")
    assert issue["diagnostics"].startswith("Observation.component[1].code breaks invariant obs-7: ")
    del body["valueQuantity"]
    assert client.post("/fhir/Observation", json=body).status_code == 201


def test_every_problem_is_its_own_issue(client):
    body = {"resourceType": "Patient", "gender": "xx", "contact": [{"gender": "male"}], "birthDate": "1970-13-45"}
    response = client.post("/fhir/Patient", json=body)
    assert response.status_code == 422
    assert [issue["expression"] for issue in response.json["issue"]] == [
        ["Patient.birthDate"], ["Patient.gender"], ["Patient.contact[0]"]]
    assert [issue["code"] for issue in response.json["issue"]] == ["structure", "code-invalid", "invariant"]


def test_a_reference_to_nothing_stored_is_refused(client):
    issue = refused(client.post("/fhir/Observation", json=observation(subject={"reference": "Patient/nobody"})),
                    "Observation.subject.reference")
    assert issue["code"] == "not-found"
    assert issue["diagnostics"] == ("Observation.subject.reference 'Patient/nobody' does not resolve: "
                                    "Patient/nobody is not stored on this server")


def test_each_reference_to_nothing_is_named_by_its_path_in_a_large_group(client):
    """A Group of 3,000 members none of which is stored: each member gets its own issue with its own path (the
    paths come from one walk of the resource; looking each up by a walk of its own took minutes)."""
    members = [{"entity": {"reference": f"Patient/absent-{n}"}} for n in range(3000)]
    response = client.post("/fhir/Group", json={"resourceType": "Group", "type": "person", "actual": True,
                                                "member": members})
    assert response.status_code == 422
    issues = response.json["issue"]
    assert len(issues) == 3000 and {issue["code"] for issue in issues} == {"not-found"}
    assert sorted(issue["expression"][0] for issue in issues) == sorted(
        f"Group.member[{n}].entity.reference" for n in range(3000))


def test_a_reference_to_a_deleted_resource_is_refused(client):
    pid = client.post("/fhir/Patient", json={"resourceType": "Patient"}).json["id"]
    absolute = f"http://localhost/fhir/Patient/{pid}"
    referrer = client.post("/fhir/Observation", json=observation(subject={"reference": absolute}))
    assert referrer.status_code == 201
    client.delete(f"/fhir/Observation/{referrer.json['id']}")  # a referenced Patient cannot be deleted (409)
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    issue = refused(client.post("/fhir/Observation", json=observation(subject={"reference": f"Patient/{pid}"})),
                    "Observation.subject.reference")
    assert issue["diagnostics"].endswith(f"Patient/{pid} was deleted")
    refused(client.post("/fhir/Observation", json=observation(subject={"reference": absolute})),
            "Observation.subject.reference")


def test_a_reference_to_another_entry_of_the_transaction_resolves(client):
    patient_urn = "urn:uuid:6f3f1b3e-2c1d-4a8e-9a55-0d7c6b8e1f20"
    entries = [
        {"request": {"method": "POST", "url": "Observation"},
         "resource": observation(subject={"reference": patient_urn}, performer=[{"reference": "Practitioner/p9"}])},
        {"request": {"method": "POST", "url": "Patient"}, "fullUrl": patient_urn,
         "resource": {"resourceType": "Patient"}},
        {"request": {"method": "PUT", "url": "Practitioner/p9"},
         "resource": {"resourceType": "Practitioner", "id": "p9"}},
    ]
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 200, response.json
    assert [e["response"]["status"] for e in response.json["entry"]] == ["201 Created"] * 3


def test_a_dangling_reference_fails_the_transaction_and_names_the_element(client):
    entries = [{"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient"}},
               {"request": {"method": "POST", "url": "Observation"},
                "resource": observation(subject={"reference": "Patient/nobody"})}]
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    issue = refused(response, "Observation.subject.reference")
    assert issue["diagnostics"].startswith("Transaction failed at entry 1 (POST Observation); nothing was stored: ")
    assert client.get("/fhir/Patient").json["total"] == 0


def test_a_type_without_a_model_is_refused_not_stored(client):
    response = client.post("/fhir/EffectEvidenceSynthesis", json={"resourceType": "EffectEvidenceSynthesis",
                                                                   "status": "draft"})
    assert response.status_code == 400
    assert response.json["issue"][0]["code"] == "not-supported"
    assert response.json["issue"][0]["diagnostics"] == (
        "EffectEvidenceSynthesis cannot be validated by this server (it has no model for it), so it is not stored")


def test_validate_answers_the_problems_without_storing(client):
    response = client.post("/fhir/Patient/$validate", json={"resourceType": "Patient", "gender": "xx"})
    assert response.status_code == 200
    assert [issue["expression"] for issue in response.json["issue"]] == [["Patient.gender"]]
    assert response.json["issue"][0]["severity"] == "error"
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": observation(subject={"reference": "Patient/nobody"})}]}
    response = client.post("/fhir/Observation/$validate", json=parameters)
    assert [issue["expression"] for issue in response.json["issue"]] == [["Observation.subject.reference"]]
    assert client.get("/fhir/Patient").json["total"] == 0


def test_validate_answers_information_when_all_is_well(client):
    response = client.post("/fhir/Patient/$validate", json={"resourceType": "Patient", "gender": "female"})
    assert response.status_code == 200
    assert response.json["issue"] == [{"severity": "information", "code": "informational", "diagnostics":
                                       "No problems found in the Patient: it would be accepted by create"}]
    assert client.get("/fhir/Patient/$validate").status_code == 405
    assert client.post("/fhir/Patient/$validate", json={"resourceType": "Parameters"}).status_code == 400


def test_validation_over_real_http(live_server):
    headers = {"Authorization": f"Bearer {live_server.token()}", "Content-Type": "application/fhir+json"}
    response = requests.post(f"{live_server}/fhir/Patient", headers=headers, timeout=10,
                             data=json.dumps({"resourceType": "Patient", "gender": "xx"}))
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert response.json()["issue"][0]["expression"] == ["Patient.gender"]
    response = requests.post(f"{live_server}/fhir/Observation/$validate", headers=headers, timeout=10,
                             data=json.dumps(observation(status="bogus")))
    assert response.status_code == 200
    assert response.json()["issue"][0]["expression"] == ["Observation.status"]


def test_the_invariant_rules_are_the_ones_whose_text_is_generated():
    keys = {key for rules in RULES.values() for key in rules}
    assert keys == set(invariant_texts())
    assert all(invariant_texts()[key]["path"].startswith(rtype) for rtype, rules in RULES.items() for key in rules)


def test_the_bindings_cover_the_elements_apps_write():
    trees = binding_trees()
    assert trees["Patient"]["gender"].binding.all_codes == {"female", "male", "other", "unknown"}
    assert trees["MedicationRequest"]["intent"].binding.type == "code"
    assert trees["Condition"]["clinicalStatus"].binding.type == "CodeableConcept"
    gender = trees["Patient"]["contact"].children["gender"].binding
    assert gender.value_set == "http://hl7.org/fhir/ValueSet/administrative-gender"
    assert trees["Observation"]["valueQuantity"].datatype == "Quantity"
    assert trees["Quantity"]["comparator"].binding.all_codes == {"<", "<=", ">", ">="}


@pytest.mark.seeded
def test_seeded_data_passes_validation(store):
    rows = store.conn.execute("SELECT json FROM resources WHERE json IS NOT NULL").fetchall()
    assert len(rows) > 100
    for (text,) in rows:
        resource = json.loads(text)
        assert resource_problems(resource) == [], resource
        assert dangling_references(store, resource, "http://localhost/fhir") == [], resource
