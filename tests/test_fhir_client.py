"""Real FHIR client libraries over real HTTP against `sandbox serve` (gunicorn, two workers): fhirpy for
search, read, create, update, patch, delete and paging; Python fhirclient for discovery and reads."""

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

STORY_PATIENT = "story-diabetes"


@pytest.fixture(scope="module")
def bearer(live_server):
    return {"Authorization": f"Bearer {live_server.token()}"}


@pytest.fixture
def fhir(live_server, bearer):
    return SyncFHIRClient(f"{live_server}/fhir", authorization=bearer["Authorization"])


def test_fhirpy_searches_and_reads_patients(fhir):
    found = fhir.resources("Patient").search(family="Johnson", given="Marcus").fetch()
    assert [p.id for p in found] == [STORY_PATIENT]
    patient = fhir.reference("Patient", STORY_PATIENT).to_resource()
    assert patient.resourceType == "Patient"
    assert patient.id == STORY_PATIENT
    assert patient["name"][0]["family"] == "Johnson"
    assert fhir.resources("Patient").count() >= 10


def test_fhirpy_creates_updates_and_deletes_an_observation(fhir):
    observation = fhir.resource(
        "Observation", status="preliminary",
        code={"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        subject=fhir.reference("Patient", STORY_PATIENT), valueQuantity={"value": 71, "unit": "/min"})
    observation.save()
    assert observation.id
    assert observation["meta"]["versionId"] == "1"
    observation["status"] = "final"
    observation.save()
    assert observation["meta"]["versionId"] == "2"
    stored = fhir.reference("Observation", observation.id).to_resource()
    assert stored["status"] == "final"
    assert stored.serialize()["subject"] == {"reference": f"Patient/{STORY_PATIENT}"}
    observation.delete()
    with pytest.raises(ResourceNotFound):
        fhir.reference("Observation", observation.id).to_resource()


def test_fhirpy_patches_with_the_json_merge_patch_it_sends(fhir, live_server, bearer):
    """fhirpy's patch() and save(fields=…) send a plain resource fragment as application/json: the server takes
    it as a JSON Merge Patch (RFC 7396)."""
    observation = fhir.resource(
        "Observation", status="preliminary", code={"text": "Pain score"},
        subject=fhir.reference("Patient", STORY_PATIENT), valueInteger=4)
    observation.save()
    patched = fhir.patch("Observation", observation.id, status="final", valueInteger=None, valueString="mild")
    assert patched["meta"]["versionId"] == "2"
    assert (patched["status"], patched["valueString"]) == ("final", "mild")
    assert "valueInteger" not in patched
    observation["status"] = "amended"
    observation.save(fields=["status"])
    assert observation["meta"]["versionId"] == "3"
    stored = fhir.reference("Observation", observation.id).to_resource()
    assert (stored["status"], stored["valueString"]) == ("amended", "mild")
    json_patch = requests.patch(f"{live_server}/fhir/Observation/{observation.id}", timeout=10,
                                headers={**bearer, "Content-Type": "application/json-patch+json",
                                         "If-Match": 'W/"3"'},
                                json=[{"op": "replace", "path": "/status", "value": "corrected"}])
    assert json_patch.status_code == 200, json_patch.text
    assert json_patch.headers["ETag"] == 'W/"4"'
    observation.delete()


def test_fhirpy_follows_paging_across_workers(fhir):
    search = fhir.resources("Observation").search(patient=STORY_PATIENT).limit(7)
    total = search.count()
    assert total > 21
    ids = [observation.id for observation in search]
    assert len(ids) == total
    assert len(set(ids)) == total


def test_fhirpy_chains_and_reverse_chains_searches(fhir):
    """fhirpy spells ``patient__Patient__name`` as ``patient:Patient.name`` (R4 search.html §3.1.1.4.13)."""
    chained = fhir.resources("Observation").search(patient__Patient__name="johnson").limit(50)
    assert chained.params == {"patient:Patient.name": ["johnson"], "_count": [50]}
    plain = fhir.resources("Observation").search(patient=STORY_PATIENT)
    ids = [observation.id for observation in chained]
    assert chained.count() == plain.count() == len(ids) > 50
    assert sorted(ids) == sorted(observation.id for observation in plain.limit(1000))
    reverse = fhir.resources("Patient").search(**{"_has:Observation:patient:code": "4548-4"})
    assert STORY_PATIENT in [patient.id for patient in reverse.fetch_all()]


def test_fhirpy_gets_a_clear_error_for_an_unsupported_parameter(fhir):
    with pytest.raises(OperationOutcome) as refused:
        fhir.resources("Patient").search(family="Johnson", **{"shoe-size": "9"}).fetch()
    issue = refused.value.resource["issue"][0]
    assert issue["code"] == "not-supported"
    assert issue["diagnostics"].startswith("Patient search does not support 'shoe-size' (unknown parameter).")
    assert "family" in issue["diagnostics"]


def test_fhirclient_gets_a_400_naming_an_unsupported_parameter(live_server, bearer):
    from fhirclient import client
    from fhirclient.models.patient import Patient

    smart = client.FHIRClient(settings={"app_id": "sandbox-tests", "api_base": f"{live_server}/fhir"})
    smart.server.session.headers.update(bearer)
    with pytest.raises(requests.HTTPError) as refused:
        next(Patient.where(struct={"family": "Johnson", "shoe-size": "9"}).perform_iter(smart.server))
    assert refused.value.response.status_code == 400
    assert "'shoe-size' (unknown parameter)" in refused.value.response.json()["issue"][0]["diagnostics"]


def test_links_are_built_from_base_url(live_server, bearer):
    bundle = requests.get(f"{live_server}/fhir/Encounter?patient={STORY_PATIENT}&_count=2", headers=bearer,
                          timeout=10).json()
    assert all(link["url"].startswith(f"{live_server}/fhir/Encounter?") for link in bundle["link"])
    assert bundle["entry"][0]["fullUrl"].startswith(f"{live_server}/fhir/Encounter/")


def test_fhirclient_discovers_the_server_and_reads(live_server, bearer):
    from fhirclient import client
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    smart = client.FHIRClient(settings={"app_id": "sandbox-tests", "api_base": f"{live_server}/fhir"})
    smart.server.session.headers.update(bearer)  # a backend-style token; the SMART flows have their own tests
    smart.prepare()
    assert smart.server.capabilityStatement.fhirVersion == "4.0.1"
    patient = Patient.read(STORY_PATIENT, smart.server)
    assert patient.name[0].family == "Johnson"
    bundle = next(Patient.where(struct={"family": "Johnson"}).perform_iter(smart.server))
    assert [entry.search.mode for entry in bundle.entry] == ["match"]
    assert bundle.entry[0].resource.id == STORY_PATIENT
    pages = list(Observation.where(struct={"patient": STORY_PATIENT, "_count": "25"}).perform_iter(smart.server))
    ids = [entry.resource.id for page in pages for entry in page.entry]
    assert len(pages) > 1
    assert len(ids) == len(set(ids)) == pages[0].total
    everything = requests.get(f"{live_server}/fhir/Patient/{STORY_PATIENT}/$everything?_count=1000",
                              headers=bearer, timeout=10).json()
    types = {entry["resource"]["resourceType"] for entry in everything["entry"]}
    assert {"Patient", "Encounter", "Observation", "Practitioner"} <= types
