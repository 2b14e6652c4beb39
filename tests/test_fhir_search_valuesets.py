"""Token :in and :not-in against ValueSets stored on the server (R4 search.html §3.1.1.4.9). Expected sets come
from plain code searches and the stored JSON."""

from tests.test_fhir_search_chaining import STORY_PATIENT, bearer, matching, pages, stored

LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
LABS_URL = "http://example.org/fhir/ValueSet/diabetes-labs"
HBA1C, GLUCOSE = "4548-4", "2339-0"


def put(client, resource: dict) -> dict:
    response = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.json
    return response.json


def value_set(vid: str, url: str, compose: dict) -> dict:
    return {"resourceType": "ValueSet", "id": vid, "url": url, "status": "active", "compose": compose}


def labs(client):
    return put(client, value_set("diabetes-labs", LABS_URL, {"include": [
        {"system": LOINC, "concept": [{"code": HBA1C}, {"code": GLUCOSE}]}]}))


def test_in_matches_the_codes_the_value_set_lists(seeded_client):
    labs(seeded_client)
    expected = matching(seeded_client, f"/fhir/Observation?code={LOINC}|{HBA1C},{LOINC}|{GLUCOSE}")
    assert expected
    assert matching(seeded_client, f"/fhir/Observation?code:in={LABS_URL}") == expected
    assert matching(seeded_client, "/fhir/Observation?code:in=ValueSet/diabetes-labs") == expected
    mine = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}")
    assert matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&code:not-in={LABS_URL}") == \
        mine - expected
    ids, total, _ = pages(seeded_client, f"/fhir/Observation?code:in={LABS_URL}&patient={STORY_PATIENT}&_count=3")
    assert (sorted(ids), total) == (sorted(expected & mine), len(expected & mine))


def test_a_whole_system_and_nested_value_sets(seeded_app, seeded_client):
    put(seeded_client, value_set("all-snomed", "http://example.org/fhir/ValueSet/all-snomed",
                                 {"include": [{"system": SNOMED}]}))
    expected = {c["id"] for c in stored(seeded_app, "Condition")
                if any(coding.get("system") == SNOMED for coding in c.get("code", {}).get("coding", []))}
    assert expected
    assert matching(seeded_client, "/fhir/Condition?code:in=http://example.org/fhir/ValueSet/all-snomed") == expected
    labs(seeded_client)
    put(seeded_client, value_set("wrapper", "http://example.org/fhir/ValueSet/wrapper",
                                 {"include": [{"valueSet": [LABS_URL]}]}))
    assert matching(seeded_client, "/fhir/Observation?code:in=http://example.org/fhir/ValueSet/wrapper") == \
        matching(seeded_client, f"/fhir/Observation?code:in={LABS_URL}")


def test_an_expansion_is_read_as_it_is(seeded_client):
    put(seeded_client, {"resourceType": "ValueSet", "id": "expanded", "url": "http://example.org/fhir/ValueSet/x",
                        "status": "active", "expansion": {"timestamp": "2026-01-01T00:00:00Z", "contains": [
                            {"system": LOINC, "code": HBA1C}]}})
    assert matching(seeded_client, "/fhir/Observation?code:in=http://example.org/fhir/ValueSet/x") == \
        matching(seeded_client, f"/fhir/Observation?code={LOINC}|{HBA1C}")


def test_a_patient_token_sees_only_its_own_matches(seeded_app, seeded_client):
    labs(seeded_client)
    headers = bearer(seeded_app, "patient/*.rs", patient=STORY_PATIENT)
    expected = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&code={HBA1C},{GLUCOSE}")
    assert matching(seeded_client, f"/fhir/Observation?code:in={LABS_URL}", headers) == expected


def test_what_cannot_be_expanded_is_400_saying_why(seeded_client):
    put(seeded_client, value_set("filtered", "http://example.org/fhir/ValueSet/filtered", {"include": [
        {"system": SNOMED, "filter": [{"property": "concept", "op": "is-a", "value": "73211009"}]}]}))
    response = seeded_client.get("/fhir/Condition?code:in=http://example.org/fhir/ValueSet/filtered")
    assert response.status_code == 400
    assert response.json["issue"][0]["diagnostics"] == (
        "ValueSet http://example.org/fhir/ValueSet/filtered includes codes of http://snomed.info/sct by a filter "
        "(concept is-a 73211009), which this server cannot expand")
    missing = seeded_client.get("/fhir/Condition?code:in=http://example.org/fhir/ValueSet/nowhere")
    assert missing.status_code == 400
    assert "is not stored on this server" in missing.json["issue"][0]["diagnostics"]
