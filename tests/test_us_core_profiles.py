"""US Core 6.1 in the seeded data: every profile the seed claims has story-patient data that carries the
profile's must-support and mandatory elements (as listed by the US Core 6.1.0 StructureDefinitions in
seed_data/us_core/must_support.json), the API finds it by patient, and every seeded resource passes the
store's validation with its references resolving."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from functools import cache
from urllib.parse import urlsplit

import pytest
from conftest import ANCHOR_DATE, ROOT, TEST_SEED

from sandbox.seed import STORY_PATIENTS, generate, generate_batches
from sandbox.seed.codes import US_CORE, default_data_dir
from sandbox.store.validation import resource_problems

MUST_SUPPORT = json.loads((default_data_dir() / "us_core" / "must_support.json").read_text())["profiles"]
STORY_IDS = [s["id"] for s in STORY_PATIENTS]
VALIDATED_PATIENTS = 20  # enough random patients that the rarer records (implants, reported medicines) occur

# US Core 6.1 profiles the seed has no data for, and why.
NOT_COVERED: dict[str, str] = {}

# Must-support elements that realistic data leaves out, and why.
ABSENT_BY_NATURE = {
    "Observation.dataAbsentReason": "every seeded observation has its value",
    "Observation.component.dataAbsentReason": "every seeded component has its value",
    "Observation.component:FlowRate": "no story patient is on supplemental oxygen",
    "Observation.component:Concentration": "no story patient is on supplemental oxygen",
    "Observation.hasMember": "scores stand alone; the questionnaire response holds the items",
    "Condition.category:screening-assessment": "no problem comes from a social-needs screen",
    "Condition.abatement[x]": "story problems are still active",
    "Immunization.statusReason": "every seeded immunization was given",
    "Device.distinctIdentifier": "only for tissue products (HCT/P); the seeded implants are not",
    "MedicationRequest.dosageInstruction.doseAndRate": "the medication tables give the dose in the sig text",
    "MedicationDispense.dosageInstruction.doseAndRate": "the medication tables give the dose in the sig text",
    "DiagnosticReport.result": "only for the note profile: imaging reports hold their findings as text",
    "DiagnosticReport.media": "no images are stored, only the radiologist's report",
    "PractitionerRole.endpoint": "the practice has no Direct or FHIR endpoints",
    "DocumentReference.content.attachment.url": "notes carry their text inline (attachment.data), the alternative",
}
VITAL_SIGN_COMPONENTS = ("Observation.component", "Observation.component.code", "Observation.component.value[x]")


@cache
def story_data() -> tuple[dict, ...]:
    """The shared practice and the story patients' records (no random patients: they may vary with the seed)."""
    batches = list(generate_batches(TEST_SEED, 0, dt.date.fromisoformat(ANCHOR_DATE)))
    return tuple(resource for batch in batches[:-1] for resource in batch)


@cache
def claimed() -> dict[str, list[dict]]:
    """Story resources by the US Core profiles they claim, directly or through a profile derived from one (a blood
    pressure is a US Core vital sign too)."""
    by_profile: dict[str, list[dict]] = {}
    for resource in story_data():
        for url in resource.get("meta", {}).get("profile", []):
            profile = url.removeprefix(US_CORE) if url.startswith(US_CORE) else None
            while profile is not None:
                by_profile.setdefault(profile, []).append(resource)
                parent = MUST_SUPPORT.get(profile, {}).get("baseDefinition", "")
                profile = parent.removeprefix(US_CORE) if parent.startswith(US_CORE) else None
    return by_profile


def _patient_of(resource: dict) -> str | None:
    if resource["resourceType"] == "Patient":
        return resource["id"]
    for element in ("subject", "patient", "beneficiary"):
        reference = (resource.get(element) or {}).get("reference", "")
        if reference.startswith("Patient/"):
            return reference.removeprefix("Patient/")
    for target in resource.get("target", []):
        if target["reference"].startswith("Patient/"):
            return target["reference"].removeprefix("Patient/")
    return None


def _references(value):
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def values_at(node, parts: list[str]) -> list:
    """The values an element path reaches in a resource: slices are read as their element, ``[x]`` as any of its
    types, and a primitive's extensions under its ``_name``."""
    if not parts:
        return [node]
    if isinstance(node, list):
        return [found for item in node for found in values_at(item, parts)]
    if not isinstance(node, dict):
        return []
    name = parts[0].split(":")[0]
    if name.endswith("[x]"):
        keys = [k for k in node if k.startswith(name[:-3]) and k[len(name) - 3:][:1].isupper()]
    else:
        keys = [k for k in (name, "_" + name) if k in node]
    return [found for key in keys for found in values_at(node[key], parts[1:])]


def present(resource: dict, element_id: str) -> bool:
    return bool(values_at(resource, element_id.split(".")[1:]))


def exempt(profile: str, element_id: str) -> bool:
    if any(element_id == e or element_id.startswith(e + ".") for e in ABSENT_BY_NATURE):
        return True
    # Components are a vital-signs must-support for panels; single measurements have none.
    if profile == "us-core-blood-pressure":
        return element_id == "Observation.value[x]"  # a panel: its values are its components
    return MUST_SUPPORT[profile]["baseDefinition"].endswith("us-core-vital-signs") and \
        element_id in VITAL_SIGN_COMPONENTS


def test_the_must_support_table_is_us_core_6_1():
    table = json.loads((default_data_dir() / "us_core" / "must_support.json").read_text())
    assert table["source"]["version"] == "6.1.0"
    assert "Provenance.agent:ProvenanceAuthor" in MUST_SUPPORT["us-core-provenance"]["mustSupport"]
    assert "MedicationRequest.reported[x]" in MUST_SUPPORT["us-core-medicationrequest"]["mustSupport"]


def test_every_us_core_profile_has_story_data_or_is_named_as_not_covered():
    assert set(MUST_SUPPORT) - set(claimed()) == set(NOT_COVERED)
    assert set(claimed()) <= set(MUST_SUPPORT), "the seed claims a profile US Core 6.1 does not define"


@pytest.mark.parametrize("profile", sorted(set(MUST_SUPPORT) - set(NOT_COVERED)))
def test_story_data_carries_the_must_support_elements(profile):
    resources = claimed()[profile]
    rules = MUST_SUPPORT[profile]
    missing = [e for e in rules["mustSupport"] if not exempt(profile, e)
               and not any(present(r, e) for r in resources)]
    assert missing == [], f"{profile}: no story resource has {missing}"


@pytest.mark.parametrize("profile", sorted(set(MUST_SUPPORT) - set(NOT_COVERED)))
def test_mandatory_elements_are_in_every_resource_that_claims_the_profile(profile):
    for resource in claimed()[profile]:
        for element in MUST_SUPPORT[profile]["required"]:
            parent = element.rsplit(".", 1)[0]
            if "." in parent and not present(resource, parent):
                continue  # mandatory only within an optional parent that is absent
            assert present(resource, element), f"{resource['resourceType']}/{resource['id']} lacks {element}"


def test_story_patients_each_have_family_coverage_care_team_and_provenance():
    for patient_id in STORY_IDS:
        types = {r["resourceType"] for r in story_data() if _patient_of(r) == patient_id}
        assert {"Coverage", "CareTeam", "RelatedPerson", "Provenance"} <= types, patient_id


def test_every_seeded_resource_passes_the_stores_validation_and_its_references_resolve():
    written: set[str] = set()
    for batch in generate_batches(TEST_SEED, VALIDATED_PATIENTS, dt.date.fromisoformat(ANCHOR_DATE)):
        for resource in batch:
            assert resource_problems(resource) == [], f"{resource['resourceType']}/{resource['id']}"
            for reference in _references(resource):
                assert reference in written, f"{resource['resourceType']}/{resource['id']} -> {reference}"
            written.add(f"{resource['resourceType']}/{resource['id']}")


# -- the API finds it ----------------------------------------------------------------------------------------------

PATIENT_SEARCH = {"Patient": "_id", "Provenance": "patient"}
SHARED_TYPES = {"Organization", "Practitioner", "PractitionerRole", "Location", "Medication"}


def _searchable_examples() -> list[tuple[str, str, str]]:
    """(profile, resource id, patient id): one story resource of each patient-linked profile."""
    examples = []
    for profile in sorted(set(claimed())):
        for resource in claimed()[profile]:
            patient_id = _patient_of(resource)
            if resource["resourceType"] not in SHARED_TYPES and patient_id:
                examples.append((profile, resource["id"], patient_id))
                break
    return examples


@pytest.mark.seeded
@pytest.mark.parametrize(("profile", "resource_id", "patient_id"), _searchable_examples())
def test_a_search_by_patient_returns_the_story_data(client, profile, resource_id, patient_id):
    rtype = claimed()[profile][0]["resourceType"]
    parameter = PATIENT_SEARCH.get(rtype, "patient")
    value = patient_id if parameter == "_id" else f"Patient/{patient_id}"
    url = f"/fhir/{rtype}?{parameter}={value}&_count=200"
    found: set[str] = set()
    while url:
        response = client.get(url)
        if response.status_code == 400 and parameter in response.get_data(as_text=True):
            pytest.skip(f"this build's search parameters have no {rtype}?{parameter} yet")
        assert response.status_code == 200, response.get_data(as_text=True)
        bundle = response.get_json()
        found |= {e["resource"]["id"] for e in bundle.get("entry", [])}
        after = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
        url = urlsplit(after[0])._replace(scheme="", netloc="").geturl() if after else None
    assert resource_id in found


@pytest.mark.seeded
def test_the_shared_resources_story_data_points_at_are_served(client):
    for profile in sorted(claimed()):
        resource = claimed()[profile][0]
        if resource["resourceType"] in SHARED_TYPES:
            response = client.get(f"/fhir/{resource['resourceType']}/{resource['id']}")
            assert response.status_code == 200 and response.get_json()["meta"]["profile"] == [US_CORE + profile]


def test_results_and_ordered_procedures_point_at_their_order_and_specimen():
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in story_data()}
    labs = [r for r in story_data() if r["resourceType"] in ("Observation", "DiagnosticReport")
            and r["category"][0]["coding"][0]["code"] in ("laboratory", "LAB")]
    assert labs
    for result in labs:
        order = by_ref[result["basedOn"][0]["reference"]]
        specimen = by_ref[(result["specimen"] if result["resourceType"] == "Observation"
                           else result["specimen"][0])["reference"]]
        assert order["subject"] == specimen["subject"] == {"reference": result["subject"]["reference"]}
        assert specimen["request"] == [{"reference": f"ServiceRequest/{order['id']}"}]
        assert order["authoredOn"] <= result["effectiveDateTime"] == specimen["collection"]["collectedDateTime"]
    mammograms = [r for r in story_data() if r["resourceType"] == "Procedure" and "basedOn" in r]
    assert mammograms
    for procedure in mammograms:
        order = by_ref[procedure["basedOn"][0]["reference"]]
        assert order["code"] == procedure["code"] and order["encounter"] == procedure["encounter"]


def test_visits_give_their_reason_and_follow_ups_point_at_the_problem():
    encounters = [r for r in story_data() if r["resourceType"] == "Encounter"]
    assert all(e.get("reasonCode") for e in encounters if e["class"]["code"] == "AMB")
    linked = [e for e in encounters if e.get("reasonReference")]
    assert len(linked) >= 10
    conditions = {f"Condition/{r['id']}": r for r in story_data() if r["resourceType"] == "Condition"}
    for encounter in linked:
        condition = conditions[encounter["reasonReference"][0]["reference"]]
        assert condition["code"]["coding"][0]["code"] == encounter["reasonCode"][0]["coding"][0]["code"]


def test_another_process_generates_the_same_records():
    """Same seed, same ids and records, whatever the process's hash seed (nothing may depend on set order)."""
    script = ("import datetime as dt, hashlib, json; from sandbox.seed import generate; "
              "print(hashlib.sha256(''.join(json.dumps(r, sort_keys=True) for r in "
              f"generate({TEST_SEED}, 3, dt.date.fromisoformat('{ANCHOR_DATE}'))).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(hash_seed)}, cwd=ROOT).stdout.strip()
               for hash_seed in (1, 2)}
    here = hashlib.sha256("".join(json.dumps(r, sort_keys=True) for r in
                                  generate(TEST_SEED, 3, dt.date.fromisoformat(ANCHOR_DATE))).encode()).hexdigest()
    assert digests == {here}
