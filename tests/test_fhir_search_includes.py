"""_include:iterate and _revinclude:iterate (R4 search.html §3.1.1.5.4): includes applied again to what the
includes brought in. Expected sets come from the stored JSON and plain searches."""

from sandbox.store.indexing import parse_reference
from tests.test_fhir_search_chaining import STORY_PATIENT, bearer, matching


def entries(client, url: str, headers: dict | None = None) -> tuple[set[str], set[tuple[str, str]]]:
    response = client.get(url, headers=headers or {})
    assert response.status_code == 200, response.json
    bundle = response.json
    matches = {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"}
    included = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle.get("entry", [])
                if e["search"]["mode"] == "include"}
    return matches, included


def test_include_iterate_follows_the_references_of_included_resources(seeded_client):
    observation = next(o for o in (seeded_client.get(f"/fhir/Observation?patient={STORY_PATIENT}&_count=50")
                                   .json["entry"]) if "encounter" in o["resource"])["resource"]
    encounter_id = parse_reference(observation["encounter"]["reference"])[1]
    encounter = seeded_client.get(f"/fhir/Encounter/{encounter_id}").json
    participants = {parse_reference(p["individual"]["reference"]) for p in encounter.get("participant", [])
                    if "individual" in p}
    assert participants
    base = f"/fhir/Observation?_id={observation['id']}&_include=Observation:encounter"
    _, plain = entries(seeded_client, f"{base}&_include=Encounter:participant")
    assert plain == {("Encounter", encounter_id)}  # without :iterate, Encounter:participant applies to no match
    _, iterated = entries(seeded_client, f"{base}&_include:iterate=Encounter:participant")
    assert iterated == {("Encounter", encounter_id)} | participants


def test_revinclude_iterate_brings_the_observations_of_the_included_encounters(seeded_client):
    encounters = matching(seeded_client, f"/fhir/Encounter?patient={STORY_PATIENT}")
    observations: set[str] = set()
    for encounter in sorted(encounters):
        observations |= matching(seeded_client, f"/fhir/Observation?encounter={encounter}")
    assert encounters and observations
    url = (f"/fhir/Patient?_id={STORY_PATIENT}&_revinclude=Encounter:patient"
           "&_revinclude:iterate=Observation:encounter")
    matches, included = entries(seeded_client, url)
    assert matches == {STORY_PATIENT}
    assert included == {("Encounter", e) for e in encounters} | {("Observation", o) for o in observations}


def test_iterated_includes_stay_within_a_granular_token(seeded_app, seeded_client):
    labs = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&category=laboratory")
    token = bearer(seeded_app, "patient/Patient.rs patient/Encounter.rs patient/Observation.rs?category=laboratory",
                   patient=STORY_PATIENT)
    url = (f"/fhir/Patient?_id={STORY_PATIENT}&_revinclude=Encounter:patient"
           "&_revinclude:iterate=Observation:encounter")
    _, included = entries(seeded_client, url, token)
    assert {i for t, i in included if t == "Observation"} <= labs
    assert {i for t, i in included if t == "Observation"}


def test_other_modifiers_of_include_are_refused(seeded_client):
    response = seeded_client.get("/fhir/Observation?_include:deep=Observation:encounter")
    assert response.status_code == 400
    assert "'_include:deep' (modifiers of _include are not supported)" in response.json["issue"][0]["diagnostics"]
