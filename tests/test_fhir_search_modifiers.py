"""Token :of-type (identifier) and reference :identifier (R4 search.html §3.1.1.4.10 and §3.1.1.4.8), compared
with what the stored JSON holds."""

from tests.test_fhir_search_chaining import STORY_PATIENT, bearer, matching, stored

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def test_identifier_of_type_matches_the_type_and_value_of_one_identifier(seeded_app, seeded_client):
    patients = stored(seeded_app, "Patient")
    mrns = {(i["value"], p["id"]) for p in patients for i in p.get("identifier", [])
            if any(c.get("code") == "MR" for c in i.get("type", {}).get("coding", []))}
    value, patient_id = sorted(mrns)[0]
    assert matching(seeded_client, f"/fhir/Patient?identifier:of-type={V2_0203}|MR|{value}") == \
        {p for v, p in mrns if v == value}
    assert patient_id in matching(seeded_client, f"/fhir/Patient?identifier={value}")
    assert matching(seeded_client, f"/fhir/Patient?identifier:of-type={V2_0203}|SS|{value}") == set()
    response = seeded_client.get(f"/fhir/Patient?identifier:of-type=MR|{value}")
    assert response.status_code == 400
    assert "takes system|code|value" in response.json["issue"][0]["diagnostics"]


def test_reference_identifier_matches_logical_references(seeded_app, seeded_client):
    body = {"resourceType": "Observation", "status": "final", "code": {"text": "reviewed"},
            "subject": {"reference": f"Patient/{STORY_PATIENT}"},
            "performer": [{"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "9941339108"}}]}
    response = seeded_client.post("/fhir/Observation", json=body)
    assert response.status_code == 201, response.json
    created = response.json["id"]
    assert matching(seeded_client, "/fhir/Observation?performer:identifier=http://hl7.org/fhir/sid/us-npi|9941339108") \
        == {created}
    assert matching(seeded_client, "/fhir/Observation?performer:identifier=9941339108") == {created}
    assert matching(seeded_client, "/fhir/Observation?performer:identifier=http://example.org|9941339108") == set()
    other = bearer(seeded_app, "patient/*.rs", patient=sorted(matching(seeded_client, "/fhir/Patient?_count=5")
                                                              - {STORY_PATIENT})[0])
    assert matching(seeded_client, "/fhir/Observation?performer:identifier=9941339108", other) == set()


def test_token_text_matches_the_start_of_a_display_or_text(seeded_app, seeded_client):
    from sandbox.store.indexing import normalize_string

    def texts(concept: dict) -> list[str]:
        return [concept.get("text", "")] + [c.get("display", "") for c in concept.get("coding", [])]

    wanted = normalize_string("Hemoglobin A1c")
    expected = {o["id"] for o in stored(seeded_app, "Observation")
                if any(normalize_string(t).startswith(wanted) for t in texts(o.get("code", {})))}
    assert expected
    assert matching(seeded_client, "/fhir/Observation?code:text=hemoglobin%20a1c") == expected
    headers = bearer(seeded_app, "patient/*.rs", patient=STORY_PATIENT)
    assert matching(seeded_client, "/fhir/Observation?code:text=hemoglobin%20a1c", headers) == \
        expected & matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}")
