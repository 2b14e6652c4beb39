"""Chained parameters (R4 search.html §3.1.1.4.13) and reverse chaining with _has (§3.1.1.4.14) on the seeded
database. Each expected set is worked out independently, by plain searches or from the stored JSON, and the
chained search is read page by page through its next links."""

import json

import pytest

from sandbox.store.indexing import parse_reference
from tests.conftest import issue_token

STORY_PATIENT = "story-diabetes"
LENIENT = {"Prefer": "handling=lenient"}


def bearer(app, scope: str, **context) -> dict:
    return {"Authorization": f"Bearer {issue_token(app.extensions['store'], scope, **context)}"}


def pages(client, url: str, headers: dict | None = None) -> tuple[list[str], int | None, int]:
    """Ids of every match across the pages of a search, its total, and how many pages were read."""
    ids, total, count = [], None, 0
    while url:
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, response.json
        bundle = response.json
        count += 1
        assert total is None or bundle.get("total") == total
        total = bundle.get("total")
        ids += [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
        url = next((link["url"].removeprefix("http://localhost") for link in bundle["link"]
                    if link["relation"] == "next"), None)
    return ids, total, count


def matching(client, url: str, headers: dict | None = None) -> set[str]:
    ids, total, _ = pages(client, url + "&_count=1000", headers)
    assert total == len(ids) == len(set(ids))
    return set(ids)


def stored(app, rtype: str) -> list[dict]:
    rows = app.extensions["store"].conn.execute(
        "SELECT json FROM resources WHERE type = ? AND deleted = 0", (rtype,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def refs(value) -> list[tuple[str, str]]:
    items = value if isinstance(value, list) else [value]
    return [parse_reference(item["reference"]) for item in items if isinstance(item, dict) and "reference" in item]


def codes(resource: dict, element: str) -> set[str]:
    value = resource.get(element) or []
    concepts = value if isinstance(value, list) else [value]
    return {coding.get("code") for concept in concepts for coding in concept.get("coding", [])}


def observations_of(client, patients: set[str]) -> set[str]:
    found: set[str] = set()
    for patient in sorted(patients):
        found |= matching(client, f"/fhir/Observation?patient={patient}")
    return found


def test_patient_name_chain_matches_the_observations_of_the_patients_with_that_name(seeded_client):
    johnsons = matching(seeded_client, "/fhir/Patient?name=johnson")
    assert johnsons == {STORY_PATIENT}
    expected = observations_of(seeded_client, johnsons)
    assert expected
    assert matching(seeded_client, "/fhir/Observation?patient.name=johnson") == expected
    assert matching(seeded_client, "/fhir/Observation?subject:Patient.name=johnson") == expected
    assert matching(seeded_client, "/fhir/Observation?subject.name=johnson") == expected


def test_chained_searches_page_with_a_steady_total(seeded_client):
    expected = matching(seeded_client, f"/fhir/Encounter?patient={STORY_PATIENT}")
    ids, total, count = pages(seeded_client, "/fhir/Encounter?subject.given=marcus&_count=2")
    assert total == len(expected) > 2
    assert count == (total + 1) // 2
    assert sorted(ids) == sorted(expected)


def test_the_chained_parameter_keeps_its_modifiers_and_prefixes(seeded_client):
    expected = observations_of(seeded_client, {STORY_PATIENT})
    assert matching(seeded_client, "/fhir/Observation?patient.family:exact=Johnson") == expected
    assert matching(seeded_client, "/fhir/Observation?patient.family:exact=johnson") == set()
    assert matching(seeded_client, "/fhir/Observation?patient.family:contains=ohnso") == expected
    birth_date = seeded_client.get(f"/fhir/Patient/{STORY_PATIENT}").json["birthDate"]
    born_then = matching(seeded_client, f"/fhir/Patient?birthdate={birth_date}")
    assert matching(seeded_client, f"/fhir/Observation?patient.birthdate={birth_date}") == \
        observations_of(seeded_client, born_then)
    later = matching(seeded_client, f"/fhir/Patient?birthdate=gt{birth_date}")
    laboratory = matching(seeded_client, "/fhir/Observation?category=laboratory")
    assert later
    assert matching(seeded_client, f"/fhir/Observation?patient.birthdate=gt{birth_date}&category=laboratory") == \
        observations_of(seeded_client, later) & laboratory


def test_a_chain_into_a_token_of_the_target(seeded_app, seeded_client):
    haemoglobin_a1c = {o["id"] for o in stored(seeded_app, "Observation") if "4548-4" in codes(o, "code")}
    expected = {report["id"] for report in stored(seeded_app, "DiagnosticReport")
                if {target_id for _, target_id in refs(report.get("result", []))} & haemoglobin_a1c}
    assert expected
    assert matching(seeded_client, "/fhir/DiagnosticReport?result.code=4548-4") == expected
    assert matching(seeded_client, "/fhir/DiagnosticReport?result:Observation.code=http://loinc.org|4548-4") == \
        expected


def test_chains_go_two_levels_deep(seeded_client):
    doctor = seeded_client.get(f"/fhir/Patient/{STORY_PATIENT}").json["generalPractitioner"][0]["reference"]
    family = seeded_client.get(f"/fhir/{doctor}").json["name"][0]["family"]
    doctors = matching(seeded_client, f"/fhir/Practitioner?name={family}")
    patients: set[str] = set()
    for practitioner in sorted(doctors):
        patients |= matching(seeded_client, f"/fhir/Patient?general-practitioner=Practitioner/{practitioner}")
    assert STORY_PATIENT in patients
    expected = observations_of(seeded_client, patients)
    assert matching(seeded_client, f"/fhir/Observation?patient.general-practitioner.name={family}") == expected
    assert matching(seeded_client, "/fhir/Observation?patient.general-practitioner:Practitioner.name="
                                   f"{family}") == expected


def test_has_matches_the_patients_an_observation_with_that_code_refers_to(seeded_app, seeded_client):
    expected = {target_id for o in stored(seeded_app, "Observation") if "4548-4" in codes(o, "code")
                for target_type, target_id in refs(o.get("subject", {})) if target_type == "Patient"}
    assert STORY_PATIENT in expected
    assert matching(seeded_client, "/fhir/Patient?_has:Observation:patient:code=4548-4") == expected
    assert matching(seeded_client, "/fhir/Patient?_has:Observation:subject:code=4548-4") == expected
    assert matching(seeded_client, "/fhir/Patient?_has:Observation:patient:code:not=4548-4&_id="
                                   f"{STORY_PATIENT}") == {STORY_PATIENT}
    ids, total, _ = pages(seeded_client, "/fhir/Patient?_has:Observation:patient:code=4548-4&_count=1")
    assert (sorted(ids), total) == (sorted(expected), len(expected))


def test_has_nests(seeded_app, seeded_client):
    report = stored(seeded_app, "DiagnosticReport")[0]
    code = sorted(codes(report, "code"))[0]
    reports = [r for r in stored(seeded_app, "DiagnosticReport") if code in codes(r, "code")]
    results = {target_id for r in reports for _, target_id in refs(r.get("result", []))}
    expected = {target_id for o in stored(seeded_app, "Observation") if o["id"] in results
                for target_type, target_id in refs(o.get("subject", {})) if target_type == "Patient"}
    assert expected
    assert matching(seeded_client, f"/fhir/Patient?_has:Observation:patient:_has:DiagnosticReport:result:code={code}") \
        == expected


def test_a_patient_scoped_token_sees_only_its_patient_through_a_chain(seeded_app, seeded_client):
    other = sorted(matching(seeded_client, "/fhir/Patient?_has:Observation:patient:code=4548-4") - {STORY_PATIENT})[0]
    family = seeded_client.get(f"/fhir/Patient/{other}").json["name"][0]["family"]
    headers = bearer(seeded_app, "patient/*.rs", patient=other)
    assert matching(seeded_client, "/fhir/Observation?patient.name=johnson", headers) == set()
    expected = observations_of(seeded_client, {other})
    assert matching(seeded_client, f"/fhir/Observation?patient.family={family}", headers) == expected
    ids, total, _ = pages(seeded_client, f"/fhir/Observation?patient.family={family}&_count=2", headers)
    assert (sorted(ids), total) == (sorted(expected), len(expected))
    assert matching(seeded_client, "/fhir/Patient?_has:Observation:patient:code=4548-4", headers) == {other}


def test_a_granular_token_confines_both_ends_of_the_chain(seeded_app, seeded_client):
    labs = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&category=laboratory")
    vitals = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&category=vital-signs")
    assert labs and vitals
    granular = bearer(seeded_app, "patient/Observation.rs?category=laboratory patient/Patient.rs",
                      patient=STORY_PATIENT)
    assert matching(seeded_client, "/fhir/Observation?patient.name=johnson", granular) == labs
    ids, total, _ = pages(seeded_client, "/fhir/Observation?subject:Patient.name=johnson&_count=2", granular)
    assert (sorted(ids), total) == (sorted(labs), len(labs))
    # Hidden observations decide nothing: the vital signs are out of scope, so no patient has one.
    assert matching(seeded_client, "/fhir/Patient?_has:Observation:patient:category=vital-signs", granular) == set()
    assert matching(seeded_client, "/fhir/Patient?_has:Observation:patient:category=laboratory", granular) == \
        {STORY_PATIENT}
    # Nor do hidden patients: without a Patient scope no observation is found by its patient's name.
    observations_only = bearer(seeded_app, "patient/Observation.rs", patient=STORY_PATIENT)
    assert matching(seeded_client, "/fhir/Observation?patient.name=johnson", observations_only) == set()


@pytest.mark.parametrize(("query", "named"), [
    ("patient.shoe-size=1", "'patient.shoe-size' (Patient parameter 'shoe-size': unknown parameter)"),
    ("subject.shoe-size=1", "'subject.shoe-size' (no type 'subject' of Observation may refer to supports "
                            "'shoe-size')"),
    ("patient:Practitioner.name=x", "'patient:Practitioner.name' ('patient' of Observation refers to Patient, "
                                    "not Practitioner)"),
    ("patient.name:fuzzy=x", "'patient.name:fuzzy' (Patient parameter 'name:fuzzy': string parameters take only "
                             ":contains, :exact, :missing)"),
    ("_has:Observation:patient:code=1", "'_has:Observation:patient:code' ('patient' of Observation refers to "
                                        "Patient, not Observation)"),
    ("_has:Observation=1", "'_has:Observation' (_has takes the form _has:Type:reference-parameter:parameter)"),
])
def test_unsupported_chains_are_400_naming_them_or_ignored_when_lenient(seeded_client, query, named):
    response = seeded_client.get(f"/fhir/Observation?{query}")
    assert response.status_code == 400
    assert response.json["issue"][0]["diagnostics"].startswith(f"Observation search does not support {named}. ")
    lenient = seeded_client.get(f"/fhir/Observation?{query}&_summary=count", headers=LENIENT)
    assert lenient.status_code == 200
    assert lenient.json["total"] == seeded_client.get("/fhir/Observation?_summary=count").json["total"]


def test_a_malformed_value_at_the_end_of_a_chain_is_400(seeded_client):
    response = seeded_client.get("/fhir/Observation?patient.birthdate=yesterday", headers=LENIENT)
    assert response.status_code == 400
    assert response.json["issue"][0]["diagnostics"] == "'yesterday' is not a valid date search value"


def test_conditional_create_matches_through_a_chain_within_the_token(seeded_app, seeded_client):
    [a1c] = sorted(matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&code=4548-4"))[:1]
    body = {"resourceType": "Observation", "status": "final", "code": {"text": "duplicate"},
            "subject": {"reference": f"Patient/{STORY_PATIENT}"}}
    condition = {"If-None-Exist": f"patient.family:exact=Johnson&_id={a1c}", "Content-Type": "application/fhir+json"}
    found = seeded_client.post("/fhir/Observation", json=body, headers=condition)
    assert (found.status_code, found.json["id"]) == (200, a1c)
    # a token that cannot read the patient cannot match through the patient's name: the observation is new
    observations_only = bearer(seeded_app, "patient/Observation.crus", patient=STORY_PATIENT)
    created = seeded_client.post("/fhir/Observation", json=body, headers={**condition, **observations_only})
    assert created.status_code == 201
    assert created.json["id"] != a1c
