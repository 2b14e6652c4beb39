"""Generated narrative (R4 narrative.html): well-formed XHTML summaries per type, escaped values, kept author
narrative, on every seeded resource, and served with ``_summary=text``."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from sandbox.narrative import XHTML_NS, generated_text, with_narrative
from sandbox.seed import generate

DIV = f"{{{XHTML_NS}}}div"
ALLOWED_TAGS = {f"{{{XHTML_NS}}}{tag}" for tag in ("div", "p", "b")}


def parsed(resource: dict) -> ET.Element:
    """The narrative div, parsed as XML; checked to be an XHTML div of allowed elements without attributes."""
    text = resource["text"]
    assert text["status"] == "generated"
    root = ET.fromstring(text["div"])
    assert root.tag == DIV
    for element in root.iter():
        assert element.tag in ALLOWED_TAGS
        assert element.attrib == {}
    return root


def lines(resource: dict) -> list[str]:
    """The narrative as its paragraphs of plain text."""
    return ["".join(p.itertext()) for p in parsed(resource).iter(f"{{{XHTML_NS}}}p")]


def concept(text: str, code: str = "1", system: str = "http://loinc.org") -> dict:
    return {"coding": [{"system": system, "code": code, "display": text + " (display)"}], "text": text}


CASES = [
    ({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-02-03",
      "name": [{"use": "nickname", "given": ["Jo"]}, {"use": "official", "family": "Smith", "given": ["Joanna"]}],
      "identifier": [{"system": "urn:ssn", "value": "999"},
                     {"type": {"coding": [{"code": "MR"}]}, "system": "urn:mrn", "value": "M-17"}]},
     ["Patient", "Name: Joanna Smith", "Gender: female", "Birth date: 1980-02-03", "MRN: M-17"]),
    ({"resourceType": "Observation", "status": "final", "code": concept("Body weight"),
      "valueQuantity": {"value": 72.5, "unit": "kg"}, "effectiveDateTime": "2024-03-05T09:30:00-05:00"},
     ["Observation", "Code: Body weight", "Value: 72.5 kg", "Effective: 2024-03-05T09:30:00-05:00",
      "Status: final"]),
    ({"resourceType": "Observation", "status": "final", "code": concept("Blood pressure"),
      "effectiveDateTime": "2024-03-05",
      "component": [{"code": concept("Systolic"), "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
                    {"code": concept("Diastolic"), "valueQuantity": {"value": 80, "unit": "mm[Hg]"}}]},
     ["Observation", "Code: Blood pressure", "Systolic: 120 mm[Hg]", "Diastolic: 80 mm[Hg]",
      "Effective: 2024-03-05", "Status: final"]),
    ({"resourceType": "Condition", "code": {"coding": [{"code": "44054006", "display": "Diabetes"}]},
      "clinicalStatus": {"coding": [{"code": "active"}]}, "onsetDateTime": "2019-01-01"},
     ["Condition", "Code: Diabetes", "Clinical status: active", "Onset: 2019-01-01"]),
    ({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
      "medicationCodeableConcept": concept("Metformin 500 mg"), "dosageInstruction": [{"text": "1 tablet daily"}]},
     ["MedicationRequest", "Medication: Metformin 500 mg", "Dosage: 1 tablet daily", "Status: active",
      "Intent: order"]),
    ({"resourceType": "MedicationRequest", "status": "stopped", "intent": "order",
      "medicationReference": {"reference": "Medication/m1", "display": "Lisinopril"}},
     ["MedicationRequest", "Medication: Lisinopril", "Status: stopped", "Intent: order"]),
    ({"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB", "display": "ambulatory"},
      "type": [concept("Office visit")], "period": {"start": "2024-01-02T09:00:00Z", "end": "2024-01-02T09:20:00Z"}},
     ["Encounter", "Type: Office visit", "Class: ambulatory",
      "Period: 2024-01-02T09:00:00Z to 2024-01-02T09:20:00Z", "Status: finished"]),
    ({"resourceType": "AllergyIntolerance", "code": concept("Peanut"), "criticality": "high",
      "reaction": [{"manifestation": [concept("Hives"), concept("Wheeze")]}]},
     ["AllergyIntolerance", "Substance: Peanut", "Criticality: high", "Reaction: Hives, Wheeze"]),
    ({"resourceType": "Immunization", "status": "completed", "vaccineCode": concept("Influenza"),
      "occurrenceDateTime": "2023-10-01"},
     ["Immunization", "Vaccine: Influenza", "Date: 2023-10-01", "Status: completed"]),
    ({"resourceType": "Procedure", "status": "completed", "code": concept("Appendectomy"),
      "performedPeriod": {"start": "2022-08-10"}},
     ["Procedure", "Procedure: Appendectomy", "Performed: from 2022-08-10", "Status: completed"]),
    ({"resourceType": "DiagnosticReport", "status": "final", "code": concept("Lipid panel"),
      "effectiveDateTime": "2024-02-02", "result": [{"reference": "Observation/a"}, {"reference": "Observation/b"}]},
     ["DiagnosticReport", "Report: Lipid panel", "Effective: 2024-02-02", "Status: final", "Results: 2"]),
    ({"resourceType": "DocumentReference", "status": "current", "type": concept("Progress note"),
      "date": "2024-02-02T10:00:00Z", "author": [{"display": "Dr. A"}]},
     ["DocumentReference", "Type: Progress note", "Date: 2024-02-02T10:00:00Z", "Status: current", "Author: Dr. A"]),
    ({"resourceType": "CarePlan", "status": "active", "intent": "plan", "title": "Diabetes plan",
      "period": {"start": "2024-01-01", "end": "2024-12-31"}},
     ["CarePlan", "Title: Diabetes plan", "Period: 2024-01-01 to 2024-12-31", "Status: active", "Intent: plan"]),
    ({"resourceType": "Organization", "name": "Clinic", "active": True,
      "address": [{"line": ["1 Main St"], "city": "Boston", "state": "MA"}]},
     ["Organization", "Name: Clinic", "Address: 1 Main St, Boston, MA", "Active: yes"]),
    ({"resourceType": "Practitioner", "name": [{"prefix": ["Dr."], "given": ["Ann"], "family": "Lee"}]},
     ["Practitioner", "Name: Dr. Ann Lee"]),
    ({"resourceType": "Device", "status": "active", "type": concept("Glucose meter"),
      "udiCarrier": [{"deviceIdentifier": "0123"}]},
     ["Device", "Device: Glucose meter", "UDI: 0123", "Status: active"]),
    ({"resourceType": "Flag", "status": "active", "code": concept("Fall risk"), "category": [concept("Safety")]},
     ["Flag", "Code: Fall risk", "Category: Safety", "Status: active"]),
    ({"resourceType": "Basic", "id": "b1"}, ["Basic", "Id: b1"]),
]


@pytest.mark.parametrize(("resource", "expected"), CASES, ids=[case[0]["resourceType"] for case in CASES])
def test_each_type_gets_its_summary_as_an_xhtml_div(resource, expected):
    assert lines(with_narrative(resource)) == expected


def test_markup_in_values_is_escaped_text():
    patient = {"resourceType": "Patient",
               "name": [{"family": "<script>alert('x')</script>", "given": ["Tom & \"Jerry\""]}]}
    div = generated_text(patient)["div"]
    assert "<script>" not in div
    assert "&lt;script&gt;" in div
    assert lines({"text": generated_text(patient)})[1] == "Name: Tom & \"Jerry\" <script>alert('x')</script>"


def test_characters_xml_forbids_are_dropped():
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "bell\x07 and\x00 nul"}}
    assert lines(with_narrative(observation))[1] == "Code: bell and nul"


def test_an_existing_narrative_is_kept_as_it_is():
    text = {"status": "additional", "div": f'<div xmlns="{XHTML_NS}">Written by hand</div>'}
    resource = {"resourceType": "Patient", "id": "p1", "text": text}
    assert with_narrative(resource) is resource
    assert resource["text"] is text


def test_text_takes_its_place_after_id_and_meta_and_the_input_is_not_changed():
    resource = {"resourceType": "Patient", "gender": "male", "id": "p1", "meta": {"versionId": "1"}}
    narrated = with_narrative(resource)
    assert list(narrated) == ["resourceType", "id", "meta", "text", "gender"]
    assert "text" not in resource


def test_the_narrative_depends_only_on_the_resource():
    resource = CASES[0][0]
    assert generated_text(dict(resource)) == generated_text(dict(resource))


def test_every_seeded_resource_carries_a_generated_narrative():
    seeded = list(generate(7, 3, dt.date(2026, 3, 15)))
    kinds = {r["resourceType"] for r in seeded}
    assert {"Patient", "Observation", "Condition", "MedicationRequest", "Encounter", "Immunization"} <= kinds
    for resource in seeded:
        root = parsed(resource)
        assert "".join(root.itertext()).startswith(resource["resourceType"])


# -- served over the FHIR API ----------------------------------------------------------------------

def test_summary_text_returns_the_seeded_narrative(seeded_client):
    patient = seeded_client.get("/fhir/Patient/story-diabetes").json
    summary = seeded_client.get("/fhir/Patient/story-diabetes?_summary=text").json
    assert set(summary) == {"resourceType", "id", "meta", "text"}
    assert summary["text"] == patient["text"]
    assert lines(summary) == ["Patient", "Name: Mr. Marcus Anthony Johnson", "Gender: male",
                              f"Birth date: {patient['birthDate']}", f"MRN: {patient['identifier'][0]['value']}"]


def test_summary_text_in_a_search_keeps_text_and_mandatory_elements(seeded_client):
    bundle = seeded_client.get("/fhir/Observation?patient=story-diabetes&_count=5&_summary=text").json
    resources = [entry["resource"] for entry in bundle["entry"]]
    assert resources
    for resource in resources:
        assert set(resource) == {"resourceType", "id", "meta", "text", "status", "code"}
        assert lines(resource)[0] == "Observation"


def test_a_client_write_is_stored_as_sent_without_a_narrative(client):
    created = client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"})
    assert created.status_code == 201
    assert "text" not in client.get(created.headers["Location"].split("/_history")[0]).json
