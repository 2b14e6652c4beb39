"""The Patient compartment comes from the FHIR R4 CompartmentDefinition/patient as data, and the index, $everything
and the access policy share it."""

from __future__ import annotations

import json

import pytest

from sandbox.fhir import everything
from sandbox.store import compartment
from sandbox.store.compartment import COMPARTMENT_PARAMS, COMPARTMENT_TYPES, DATA_FILE, LISTED_TYPES, element_paths
from sandbox.store.indexing import Membership, compartment_memberships, compartment_patients
from sandbox.store.resource_types import R4_RESOURCE_TYPES


def test_every_type_and_param_of_the_definition_is_in_the_table():
    definition = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    listed = {r["code"]: [p["code"] for p in r["param"]] for r in definition["resource"]}
    assert {rtype: [p.code for p in params] for rtype, params in LISTED_TYPES.items()} == listed
    assert len(listed) == 145 and sum(len(params) for params in listed.values()) == 100
    assert set(listed) == R4_RESOURCE_TYPES - {"Parameters"}  # every R4 resource type, in the compartment or not
    assert all(param.paths for params in COMPARTMENT_PARAMS.values() for param in params)


def test_the_data_names_its_source_and_licence():
    source = json.loads(DATA_FILE.read_text(encoding="utf-8"))["source"]
    assert source["definitions"] == "https://hl7.org/fhir/R4/definitions.json.zip"
    assert source["compartmentDefinition"] == "http://hl7.org/fhir/CompartmentDefinition/patient"
    assert source["fhirVersion"] == "4.0.1" and source["licence"].startswith("CC0 1.0")


@pytest.mark.parametrize("rtype, expected", [
    ("Observation", {"subject": ("subject",), "performer": ("performer",)}),
    ("Encounter", {"patient": ("subject",)}),
    ("AllergyIntolerance", {"patient": ("patient",), "recorder": ("recorder",), "asserter": ("asserter",)}),
    ("CarePlan", {"patient": ("subject",), "performer": ("activity.detail.performer",)}),
    ("CareTeam", {"patient": ("subject",), "participant": ("participant.member",)}),
    ("Coverage", {"policy-holder": ("policyHolder",), "subscriber": ("subscriber",),
                  "beneficiary": ("beneficiary",), "payor": ("payor",)}),
    ("Patient", {"link": ("link.other",)}),
    ("Provenance", {"patient": ("target",)}),
    ("AuditEvent", {"patient": ("agent.who", "entity.what")}),
    ("SupplyRequest", {"subject": ("deliverTo",)}),
    ("Group", {"member": ("member.entity",)}),
])
def test_params_read_the_elements_of_their_r4_search_parameter(rtype, expected):
    assert {param.code: param.paths for param in COMPARTMENT_PARAMS[rtype]} == expected


@pytest.mark.parametrize("rtype", ["Device", "Practitioner", "Organization", "Medication", "Task", "Location"])
def test_types_the_definition_lists_without_params_are_never_in_a_compartment(rtype):
    assert LISTED_TYPES[rtype] == () and rtype not in COMPARTMENT_TYPES


def test_expressions_other_than_plain_paths_are_refused():
    assert element_paths("Basic", "Basic.subject.where(resolve() is Patient)") == ("subject",)
    for expression in ("Observation.value as Quantity", "Basic.subject.where(resolve() is Group)", "Other.subject"):
        with pytest.raises(ValueError, match="cannot read"):
            element_paths("Basic" if "Basic" in expression else "Observation", expression)


def test_index_everything_and_policy_share_the_one_table():
    assert everything.COMPARTMENT_TYPES is compartment.COMPARTMENT_TYPES
    from sandbox.auth import access_policy

    assert access_policy.COMPARTMENT_TYPES is compartment.COMPARTMENT_TYPES


def test_memberships_name_each_patient_reference_and_its_param():
    observation = {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"},
                   "performer": [{"reference": "Practitioner/dr1"}, {"reference": "Patient/p2"}]}
    assert compartment_memberships(observation) == [Membership("p1", "subject"), Membership("p2", "performer")]
    assert Membership("p2", "performer").describe() == "Patient/p2 (performer)"


def test_a_patient_is_in_its_own_compartment_and_in_those_it_links_to():
    patient = {"resourceType": "Patient", "id": "p1",
               "link": [{"other": {"reference": "Patient/p9"}, "type": "seealso"}]}
    assert compartment_memberships(patient) == [Membership("p1", None), Membership("p9", "link")]
    assert compartment_patients({"resourceType": "Patient"}) == set()  # not stored yet: no id


def test_only_patient_references_count():
    report = {"resourceType": "DiagnosticReport", "id": "r1", "subject": {"reference": "Group/g1"}}
    assert compartment_patients(report) == set()
    device = {"resourceType": "Device", "id": "d1", "patient": {"reference": "Patient/p1"}}
    assert compartment_patients(device) == set()  # R4 lists Device without params: never in a Patient compartment
