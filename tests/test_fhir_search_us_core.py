"""US Core 6.1 searches: its own SearchParameters (race, ethnicity, asserted-date …, generated from the US Core
definitions) and the R4 ones it requires. Expected sets come from the stored JSON."""

import pytest

from tests.test_fhir_search_chaining import STORY_PATIENT, bearer, matching, stored

RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"


def category_codes(patient: dict, url: str) -> set[str]:
    return {part.get("valueCoding", {}).get("code") for ext in patient.get("extension", []) if ext["url"] == url
            for part in ext.get("extension", []) if "valueCoding" in part}


@pytest.mark.parametrize(("param", "url"), [("race", RACE), ("ethnicity", ETHNICITY)])
def test_race_and_ethnicity_match_the_extension_codes(seeded_app, seeded_client, param, url):
    patients = stored(seeded_app, "Patient")
    codes = sorted({code for p in patients for code in category_codes(p, url)} - {None})
    assert codes
    for code in codes:
        expected = {p["id"] for p in patients if code in category_codes(p, url)}
        assert matching(seeded_client, f"/fhir/Patient?{param}={code}") == expected


def test_asserted_date_reads_the_condition_extension(seeded_client):
    body = {"resourceType": "Condition", "subject": {"reference": f"Patient/{STORY_PATIENT}"},
            "code": {"text": "Knee pain"},
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/condition-assertedDate",
                           "valueDateTime": "2021-03-04"}]}
    response = seeded_client.post("/fhir/Condition", json=body)
    assert response.status_code == 201, response.json

    def asserted(cid: str) -> str:
        condition = seeded_client.get(f"/fhir/Condition/{cid}").json
        return next(e["valueDateTime"] for e in condition.get("extension", [])
                    if e["url"].endswith("condition-assertedDate"))

    march = matching(seeded_client, "/fhir/Condition?asserted-date=2021-03")
    assert response.json["id"] in march and all(asserted(c).startswith("2021-03") for c in march)
    later = matching(seeded_client, "/fhir/Condition?asserted-date=2022")  # the seed asserts some conditions too
    assert response.json["id"] not in later and all(asserted(c).startswith("2022") for c in later)


def test_the_capability_statement_names_the_us_core_definitions(seeded_client):
    statement = seeded_client.get("/fhir/metadata").json
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    by_name = {p["name"]: p for p in patient["searchParam"]}
    assert by_name["race"] == {"name": "race", "type": "token",
                               "definition": "http://hl7.org/fhir/us/core/SearchParameter/us-core-race",
                               "documentation": by_name["race"]["documentation"]}
    assert by_name["death-date"]["definition"] == "http://hl7.org/fhir/SearchParameter/Patient-death-date"
    assert "Provenance:target" in patient["searchRevInclude"]


@pytest.mark.parametrize("url", [
    "/fhir/Location?address-city=Boston&address-state=MA&address-postalcode=02",
    "/fhir/Patient?death-date=ge2000",
    "/fhir/Device?status=active&patient=x",
    "/fhir/MedicationDispense?patient=x&status=completed",
    "/fhir/QuestionnaireResponse?patient=x",
    "/fhir/Specimen?patient=x",
    "/fhir/Goal?description=x&patient=x",
    "/fhir/CareTeam?role=x&patient=x",
    "/fhir/Encounter?discharge-disposition=home&patient=x",
    "/fhir/Patient?gender-identity=x",
])
def test_the_parameters_us_core_requires_are_accepted(seeded_client, url):
    response = seeded_client.get(url)
    assert response.status_code == 200, response.json


def test_location_address_parameters_match_the_stored_addresses(seeded_app, seeded_client):
    locations = stored(seeded_app, "Location")
    with_city = [loc for loc in locations if loc.get("address", {}).get("city")]
    assert with_city
    city = with_city[0]["address"]["city"]
    assert matching(seeded_client, f"/fhir/Location?address-city={city}") == \
        {loc["id"] for loc in locations if loc.get("address", {}).get("city", "").lower().startswith(city.lower())}


def test_revinclude_provenance_target_under_a_patient_token(seeded_app, seeded_client):
    practitioner = sorted(matching(seeded_client, "/fhir/Practitioner?_count=1"))[0]
    other = sorted(matching(seeded_client, "/fhir/Patient?_count=5") - {STORY_PATIENT})[0]
    created = {}
    for patient in (STORY_PATIENT, other):
        body = {"resourceType": "Provenance", "target": [{"reference": f"Patient/{patient}"}],
                "recorded": "2026-01-02T03:04:05Z", "agent": [{"who": {"reference": f"Practitioner/{practitioner}"}}]}
        response = seeded_client.post("/fhir/Provenance", json=body)
        assert response.status_code == 201, response.json
        created[patient] = response.json["id"]
    headers = bearer(seeded_app, "patient/*.rs", patient=STORY_PATIENT)
    response = seeded_client.get(f"/fhir/Patient?_id={STORY_PATIENT}&_revinclude=Provenance:target", headers=headers)
    assert response.status_code == 200, response.json
    included = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in response.json["entry"]
                if e["search"]["mode"] == "include"}
    assert ("Provenance", created[STORY_PATIENT]) in included and ("Provenance", created[other]) not in included
    for _, pid in included:  # the seed's own Provenance of the patient's record comes along: only theirs
        targets = {t["reference"] for t in seeded_client.get(f"/fhir/Provenance/{pid}").json["target"]}
        assert f"Patient/{STORY_PATIENT}" in targets
