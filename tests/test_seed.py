"""The synthetic-data generator: determinism, FHIR validity, referential integrity, clinical coherence."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections import Counter
from functools import cache

import pytest
from fhir.resources.R4B import get_fhir_model_class

from sandbox.seed import STORY_PATIENTS, count_batches, generate, generate_batches
from sandbox.seed.codes import default_data_dir

ANCHOR = dt.date(2026, 3, 15)
SEED = 7
RANDOM_PATIENTS = 10
STORY_IDS = {"story-diabetes", "story-child", "story-pregnancy", "story-elderly", "story-inpatient"}
AHEAD = {"dueDate", "expirationDate"}  # a goal's review date and an implant's expiry lie ahead of today
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2}))?$")
VITAL_PROFILES = ("us-core-blood-pressure", "us-core-body-height", "us-core-body-weight", "us-core-bmi",
                  "us-core-heart-rate", "us-core-respiratory-rate", "us-core-body-temperature",
                  "us-core-pulse-oximetry", "us-core-head-circumference")


@cache
def batches(seed: int = SEED, patients: int = RANDOM_PATIENTS, anchor: dt.date = ANCHOR) -> tuple:
    return tuple(tuple(batch) for batch in generate_batches(seed, patients, anchor))


def patient_batches(seed: int = SEED) -> tuple:
    """The batches of one patient each: between the shared batch and the groups."""
    return batches(seed)[1:-1]


def medication_text(request: dict) -> str:
    """The product's name, whether the order codes it or references a Medication."""
    chosen = request.get("medicationCodeableConcept") or request["medicationReference"]
    return (chosen.get("text") or chosen["display"]).lower()


def medication_code(request: dict, medications: dict[str, dict]) -> str:
    if "medicationCodeableConcept" in request:
        return request["medicationCodeableConcept"]["coding"][0]["code"]
    return medications[request["medicationReference"]["reference"]]["code"]["coding"][0]["code"]


def resources(seed: int = SEED) -> list[dict]:
    return [resource for batch in batches(seed) for resource in batch]


def canonical(items) -> list[str]:
    return [json.dumps(resource, sort_keys=True) for resource in items]


def by_type(items: list[dict], resource_type: str) -> list[dict]:
    return [r for r in items if r["resourceType"] == resource_type]


def patient_batch(patient_id: str) -> list[dict]:
    for batch in batches():
        if batch[0]["resourceType"] == "Patient" and batch[0]["id"] == patient_id:
            return list(batch)
    raise AssertionError(f"no batch for {patient_id}")


def walk(value, key=None):
    """Every (key, value) pair below a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)


def codes_of(concept: dict, system_suffix: str = "") -> set[str]:
    return {c["code"] for c in concept.get("coding", []) if c["system"].endswith(system_suffix)}


def test_same_arguments_give_identical_resources():
    again = [r for batch in generate_batches(SEED, RANDOM_PATIENTS, ANCHOR) for r in batch]
    assert canonical(again) == canonical(resources())


def test_a_patient_does_not_depend_on_how_many_are_generated():
    fewer = [list(batch) for batch in generate_batches(SEED, 3, ANCHOR)][:-1]  # the groups differ, of course
    assert [canonical(b) for b in fewer] == [canonical(b) for b in batches()[:len(fewer)]]


def test_generate_flattens_the_batches():
    assert canonical(generate(SEED, RANDOM_PATIENTS, ANCHOR)) == canonical(resources())


def test_code_tables_folder_can_be_given():
    given = generate(SEED, RANDOM_PATIENTS, ANCHOR, data_dir=str(default_data_dir()))
    assert canonical(given) == canonical(resources())


def test_another_seed_changes_random_patients_but_not_stories():
    other = batches(8)
    ids = [b[0]["id"] for b in patient_batches()]
    other_ids = [b[0]["id"] for b in patient_batches(8)]
    stories = len(STORY_PATIENTS)
    assert ids[:stories] == other_ids[:stories] == [s["id"] for s in STORY_PATIENTS]
    assert set(ids[stories:]).isdisjoint(other_ids[stories:])
    assert canonical(batches()[0]) == canonical(other[0])


def test_count_batches_matches_what_is_yielded():
    for patients in (0, 3):
        assert count_batches(patients) == len(list(generate_batches(SEED, patients, ANCHOR)))


def test_story_patients_are_described_and_come_first():
    assert {s["id"] for s in STORY_PATIENTS} == STORY_IDS
    assert all(s["name"] and s["summary"] for s in STORY_PATIENTS)
    first_patients = [b[0] for b in patient_batches()[:len(STORY_PATIENTS)]]
    assert [p["id"] for p in first_patients] == [s["id"] for s in STORY_PATIENTS]
    assert all(p["resourceType"] == "Patient" for p in first_patients)


def test_shared_batch_holds_the_practice():
    counts = Counter(r["resourceType"] for r in batches()[0])
    assert counts["Organization"] == 4 and counts["Location"] >= 3 and counts["Practitioner"] >= 15
    for practitioner in by_type(list(batches()[0]), "Practitioner"):
        npi = practitioner["identifier"][0]
        assert npi["system"] == "http://hl7.org/fhir/sid/us-npi" and re.fullmatch(r"\d{10}", npi["value"])


def test_every_patient_batch_is_one_patient_and_its_record():
    for batch in patient_batches():
        patient = batch[0]
        assert patient["resourceType"] == "Patient"
        assert sum(r["resourceType"] == "Patient" for r in batch) == 1
        own = f"Patient/{patient['id']}"
        in_batch = {f"{r['resourceType']}/{r['id']}" for r in batch}
        for resource in batch[1:]:
            if resource["resourceType"] == "Provenance":  # a visit's provenance names the visit's records
                assert {t["reference"] for t in resource["target"]} <= in_batch
                continue
            targets = {v for k, v in walk(resource) if k == "reference" and v.startswith("Patient/")}
            assert targets == {own}, resource["resourceType"]


@pytest.mark.parametrize("resource_type", [
    "Patient", "Organization", "Location", "Practitioner", "PractitionerRole", "Encounter", "Condition",
    "Observation", "DiagnosticReport", "MedicationRequest", "AllergyIntolerance", "Immunization", "Procedure",
    "DocumentReference",
])
def test_resources_validate_against_r4b_models(resource_type):
    model = get_fhir_model_class(resource_type)
    found = by_type(resources(), resource_type)
    assert found, f"no {resource_type} generated"
    for resource in found:
        model.model_validate(resource)


def test_every_resource_has_id_profile_and_no_server_metadata():
    seen = set()
    for resource in resources():
        key = (resource["resourceType"], resource["id"])
        assert key not in seen
        seen.add(key)
        assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", resource["id"])
        if resource["resourceType"] in ("Group", "Questionnaire"):  # no US Core profile; as published
            continue
        profiles = resource["meta"]["profile"]
        assert profiles and all(p.startswith("http://hl7.org/fhir/us/core/StructureDefinition/") for p in profiles)
        assert set(resource["meta"]) == {"profile"}


def test_references_resolve_to_earlier_resources():
    written: set[str] = set()
    for resource in resources():
        for key, value in walk(resource):
            if key == "reference":
                assert re.fullmatch(r"[A-Za-z]+/[A-Za-z0-9\-.]+", value), value
                assert value in written, f"{resource['resourceType']}/{resource['id']} -> {value}"
        written.add(f"{resource['resourceType']}/{resource['id']}")


def test_json_ready_and_no_empty_values():
    for resource in resources():
        for _, value in walk(resource):
            assert value is not None and value != "" and value != [] and value != {}
            assert isinstance(value, str | int | float | bool | list | dict)


def test_no_date_after_the_anchor():
    for anchor in (ANCHOR, dt.date(2019, 6, 30)):
        for batch in generate_batches(3, 4, anchor):
            for resource in batch:
                if resource["resourceType"] == "Questionnaire":  # published definitions keep their date
                    continue
                for key, value in walk(resource):
                    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value):
                        assert DATE_PATTERN.match(value), (resource["resourceType"], key, value)
                        if key in AHEAD:
                            continue
                        assert value[:10] <= anchor.isoformat(), (resource["resourceType"], key, value)


def test_diabetes_means_metformin_or_insulin_and_hba1c_results():
    diabetics = 0
    for batch in patient_batches():
        record = list(batch)
        if not any("44054006" in codes_of(c["code"]) for c in by_type(record, "Condition")):
            continue
        diabetics += 1
        drugs = " ".join(medication_text(m) for m in by_type(record, "MedicationRequest"))
        assert "metformin" in drugs or "insulin" in drugs
        assert any("4548-4" in codes_of(o["code"]) for o in by_type(record, "Observation"))
    assert diabetics >= 1


def test_blood_pressure_has_both_components_in_mmhg():
    panels = [o for o in by_type(resources(), "Observation") if "85354-9" in codes_of(o["code"])]
    assert panels
    for panel in panels:
        components = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in panel["component"]}
        assert set(components) == {"8480-6", "8462-4"}
        assert all(q["code"] == "mm[Hg]" and q["system"] == "http://unitsofmeasure.org" for q in components.values())
        assert components["8480-6"]["value"] > components["8462-4"]["value"]


def test_vital_signs_use_loinc_and_ucum():
    vitals = [o for o in by_type(resources(), "Observation")
              if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    assert vitals
    for obs in vitals:
        assert obs["meta"]["profile"][0].endswith(VITAL_PROFILES) or "percentile" in obs["meta"]["profile"][0] \
            or "pediatric" in obs["meta"]["profile"][0]
        assert obs["code"]["coding"][0]["system"] == "http://loinc.org"
        quantity = obs.get("valueQuantity") or obs["component"][0]["valueQuantity"]
        assert quantity["system"] == "http://unitsofmeasure.org"


def test_lab_results_have_range_and_interpretation():
    lab = [o for o in by_type(resources(), "Observation") if o["category"][0]["coding"][0]["code"] == "laboratory"]
    assert lab
    for obs in lab:
        assert obs["referenceRange"] and (obs["referenceRange"][0].keys() & {"low", "high"})
        flag = obs["interpretation"][0]["coding"][0]
        assert flag["system"] == "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
        value, low, high = (obs["valueQuantity"]["value"], obs["referenceRange"][0].get("low"),
                            obs["referenceRange"][0].get("high"))
        expected = "H" if high and value > high["value"] else "L" if low and value < low["value"] else "N"
        assert flag["code"] == expected


def test_lab_reports_list_results_of_the_same_patient():
    index = {f"{r['resourceType']}/{r['id']}": r for r in resources()}
    reports = [r for r in by_type(resources(), "DiagnosticReport") if r["category"][0]["coding"][0]["code"] == "LAB"]
    assert reports
    for report in reports:
        assert report["result"]
        for ref in report["result"]:
            result = index[ref["reference"]]
            assert result["resourceType"] == "Observation"
            assert result["subject"] == report["subject"]
            assert result["encounter"] == report["encounter"]


def test_notes_are_readable_text():
    for note in by_type(resources(), "DocumentReference"):
        attachment = note["content"][0]["attachment"]
        assert attachment["contentType"] == "text/plain"
        text = base64.b64decode(attachment["data"]).decode("utf-8")
        assert len(text) > 100 and "Patient:" in text
        assert note["context"]["encounter"][0]["reference"].startswith("Encounter/")


def test_child_story_has_immunization_history_and_growth_chart():
    record = patient_batch("story-child")
    assert len(by_type(record, "Immunization")) >= 10
    codes = Counter(c for o in by_type(record, "Observation") for c in codes_of(o["code"], "loinc.org"))
    assert codes["8302-2"] >= 8 and codes["29463-7"] >= 8 and codes["9843-4"] >= 6
    assert codes["77606-2"] >= 3 or codes["59576-9"] >= 3


def test_inpatient_story_was_discharged_in_the_last_two_weeks():
    record = patient_batch("story-inpatient")
    stays = [e for e in by_type(record, "Encounter") if e["class"]["code"] == "IMP"]
    assert stays
    end = dt.date.fromisoformat(stays[-1]["period"]["end"][:10])
    assert 0 <= (ANCHOR - end).days <= 14
    types = {d["type"]["coding"][0]["code"] for d in by_type(record, "DocumentReference")}
    assert "18842-5" in types and "34117-2" in types


def test_diabetes_story_shows_rising_hba1c():
    record = patient_batch("story-diabetes")
    results = sorted((o["effectiveDateTime"], o["valueQuantity"]["value"]) for o in by_type(record, "Observation")
                     if "4548-4" in codes_of(o["code"]))
    assert len(results) >= 6
    assert results[-1][1] > results[0][1] + 1.0
    assert (ANCHOR - dt.date.fromisoformat(results[-1][0][:10])).days < 120


def test_pregnancy_story_has_prenatal_visits():
    record = patient_batch("story-pregnancy")
    prenatal = [e for e in by_type(record, "Encounter")
                if e["type"][0]["coding"][0]["code"] in ("424441002", "424619006")]
    assert len(prenatal) >= 5
    assert any("72892002" in codes_of(c["code"]) for c in by_type(record, "Condition"))


def _age_on(patient: dict, when: str) -> int:
    born, day = dt.date.fromisoformat(patient["birthDate"]), dt.date.fromisoformat(when[:10])
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def test_pregnancy_intent_is_asked_of_women_of_childbearing_age_who_are_not_pregnant():
    asked = []
    for batch in patient_batches():
        patient, record = batch[0], list(batch)
        pregnancies = [c for c in by_type(record, "Condition") if "72892002" in codes_of(c["code"])]
        for intent in (o for o in by_type(record, "Observation") if "86645-9" in codes_of(o["code"])):
            assert patient["gender"] == "female" and 15 <= _age_on(patient, intent["effectiveDateTime"]) <= 50
            assert all(intent["effectiveDateTime"][:10] < c["onsetDateTime"][:10] for c in pregnancies)
            asked.append((patient["id"], codes_of(intent["valueCodeableConcept"])))
    assert len(asked) >= 3
    assert ("story-pregnancy", {"454411000124108"}) in asked  # she wanted the pregnancy she now has


def test_occupations_belong_to_adults_and_end_only_for_past_jobs():
    jobs = [(batch[0], o) for batch in patient_batches() for o in by_type(list(batch), "Observation")
            if "11341-5" in codes_of(o["code"])]
    assert {"story-diabetes", "story-pregnancy", "story-elderly", "story-inpatient"} <= {p["id"] for p, _ in jobs}
    for patient, job in jobs:
        period = job["effectivePeriod"]
        assert _age_on(patient, period["start"]) >= 18
        assert period["start"] <= period.get("end", period["start"]) <= ANCHOR.isoformat()
    past = {p["id"] for p, job in jobs if "end" in job["effectivePeriod"]}
    assert "story-elderly" in past and "story-pregnancy" not in past


def test_elderly_story_takes_many_medications():
    record = patient_batch("story-elderly")
    medications = {f"Medication/{m['id']}": m for m in by_type(list(batches()[0]), "Medication")}
    active = {medication_code(m, medications) for m in by_type(record, "MedicationRequest") if m["status"] == "active"}
    assert len(active) >= 8


def test_penicillin_allergy_is_respected():
    for batch in patient_batches() + patient_batches(8):
        record = list(batch)
        allergic = any("7984" in codes_of(a["code"]) for a in by_type(record, "AllergyIntolerance"))
        if allergic:
            names = " ".join(medication_text(m) for m in by_type(record, "MedicationRequest"))
            assert "amoxicillin" not in names and "penicillin" not in names


def test_no_nsaids_with_kidney_disease_heart_failure_or_warfarin():
    avoid = {"433144002", "88805009", "49436004"}
    for batch in patient_batches() + patient_batches(8):
        record = list(batch)
        problems = {code for c in by_type(record, "Condition") for code in codes_of(c["code"], "sct")}
        if problems & avoid:
            names = " ".join(medication_text(m) for m in by_type(record, "MedicationRequest"))
            assert "ibuprofen" not in names and "naproxen" not in names


def test_anaphylaxis_allergies_come_with_epinephrine():
    checked = 0
    for seed in (SEED, 8, 11):
        for batch in patient_batches(seed):
            record = list(batch)
            severe = [a for a in by_type(record, "AllergyIntolerance")
                      if any("39579001" in codes_of(m) for r in a.get("reaction", []) for m in r["manifestation"])]
            if severe:
                checked += 1
                names = " ".join(medication_text(m) for m in by_type(record, "MedicationRequest"))
                assert "epinephrine" in names
    assert checked >= 1
