"""Writes under a reach confined to patients stay wholly inside their compartments: every patient reference that
puts the resource in a Patient compartment, in the new version and in the one it replaces, names one of the
reach's patients; types outside the Patient compartment need a clinician's user/ scopes or system/ scopes."""

from __future__ import annotations

import pytest

from sandbox.auth.access_policy import ScopePolicy
from sandbox.auth.scopes import ScopeSet
from sandbox.store import Store
from sandbox.store.errors import Forbidden


def observation(subject: str, performer: str | None = None, oid: str | None = None) -> dict:
    resource = {"resourceType": "Observation", "status": "final", "code": {"text": "Pain score"},
                "subject": {"reference": f"Patient/{subject}"}}
    if performer:
        resource["performer"] = [{"reference": performer}]
    return {**resource, "id": oid} if oid else resource


@pytest.fixture
def store():
    store = Store(":memory:")
    store.load([{"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": "p2"},
                {"resourceType": "Practitioner", "id": "dr1"},
                observation("p1", oid="mine"), observation("p2", oid="theirs")])
    return store


def policy(store, scopes="patient/*.cruds", **kw) -> ScopePolicy:
    kw = kw or {"patient": "p1"}
    return ScopePolicy(store, ScopeSet.parse(scopes), **kw)


def refusal(write) -> str:
    with pytest.raises(Forbidden) as refused:
        write()
    return refused.value.message


def test_a_create_naming_a_second_patient_is_refused_and_names_the_reference(store):
    pol = policy(store)
    message = refusal(lambda: pol.check_write("c", "Observation", observation("p1", "Patient/p2")))
    assert "Patient/p2 (performer)" in message and "Patient/p1" in message
    assert pol.decisions[-1] == ("failure", message)
    pol.check_write("c", "Observation", observation("p1", "Practitioner/dr1"))
    pol.check_write("c", "Observation", observation("p1", "Patient/p1"))
    assert pol.decisions[-1][0] == "success"


def test_an_update_is_judged_on_the_stored_version_and_the_new_one(store):
    pol = policy(store)
    theirs, mine = store.read("Observation", "theirs"), store.read("Observation", "mine")
    message = refusal(lambda: pol.check_write("u", "Observation", observation("p1", oid="theirs"), theirs))
    assert "Observation/theirs as stored (version 1) refers to Patient/p2 (subject)" in message
    message = refusal(lambda: pol.check_write("u", "Observation", observation("p1", "Patient/p2", "mine"), mine))
    assert "new version of Observation/mine refers to Patient/p2 (performer)" in message
    pol.check_write("u", "Observation", observation("p1", "Practitioner/dr1", "mine"), mine)


def test_a_delete_is_judged_on_the_stored_version(store):
    pol = policy(store)
    assert "Patient/p2 (subject)" in refusal(
        lambda: pol.check_write("d", "Observation", None, store.read("Observation", "theirs")))
    pol.check_write("d", "Observation", None, store.read("Observation", "mine"))


def test_a_deleted_resource_is_judged_by_its_last_version_with_content(store):
    store.delete("Observation", "theirs")
    last = store.last_content("Observation", "theirs")
    assert last.version == 1 and last.resource["subject"] == {"reference": "Patient/p2"}
    assert store.current("Observation", "theirs").deleted
    pol = policy(store)
    assert "Patient/p2" in refusal(lambda: pol.check_write("c", "Observation", observation("p1", oid="theirs"), last))
    assert "Patient/p1" in refusal(lambda: pol.check("r", "Observation", last.resource))  # its history
    assert store.last_content("Observation", "never") is None


def test_a_resource_naming_no_patient_is_in_no_compartment_a_patient_may_write(store):
    unattached = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    assert "refers to no patient" in refusal(lambda: policy(store).check_write("c", "Observation", unattached))


@pytest.mark.parametrize("scopes, kw", [
    ("patient/*.cruds", {"patient": "p1"}),
    ("user/*.cruds", {"user_patients": ("p1",)}),  # a patient user
])
def test_types_outside_the_patient_compartment_cannot_be_written_by_patient_confined_scopes(store, scopes, kw):
    pol = policy(store, scopes, **kw)
    practitioner = {"resourceType": "Practitioner", "name": [{"family": "Mallory"}]}
    message = refusal(lambda: pol.check_write("c", "Practitioner", practitioner))
    assert "outside the Patient compartment" in message and "system/" in message
    refusal(lambda: pol.check_write("d", "Practitioner", None, store.read("Practitioner", "dr1")))
    pol.check("r", "Practitioner")  # reading stays open: apps follow references into such types


@pytest.mark.parametrize("scopes, kw", [("user/*.cruds", {"user_patients": None}), ("system/*.cruds", {})])
def test_clinicians_and_backend_services_write_anywhere(store, scopes, kw):
    pol = ScopePolicy(store, ScopeSet.parse(scopes), **kw)
    pol.check_write("c", "Practitioner", {"resourceType": "Practitioner"})
    pol.check_write("u", "Observation", observation("p1", "Patient/p2", "theirs"), store.read("Observation", "theirs"))


def test_user_scopes_of_a_family_member_reach_every_linked_patient_together(store):
    family = policy(store, "user/*.cruds", user_patients=("p1", "p2"))
    family.check_write("c", "Observation", observation("p1", "Patient/p2"))
    assert "Patient/p3 (performer)" in refusal(
        lambda: family.check_write("c", "Observation", observation("p1", "Patient/p3")))


def test_a_patient_is_in_its_own_compartment(store):
    pol = policy(store)
    pol.check_write("u", "Patient", {"resourceType": "Patient", "id": "p1"}, store.read("Patient", "p1"))
    assert "Patient/p2 (the Patient itself)" in refusal(
        lambda: pol.check_write("u", "Patient", {"resourceType": "Patient", "id": "p2"}, store.read("Patient", "p2")))
    linked = {"resourceType": "Patient", "id": "p1",
              "link": [{"other": {"reference": "Patient/p2"}, "type": "seealso"}]}
    assert "Patient/p2 (link)" in refusal(
        lambda: pol.check_write("u", "Patient", linked, store.read("Patient", "p1")))


def test_several_scopes_each_must_hold_the_whole_resource(store):
    category = "http://terminology.hl7.org/CodeSystem/observation-category"
    pol = policy(store, f"patient/Observation.c?category={category}|vital-signs patient/Observation.c?category=x",
                 patient="p1")
    vital = {**observation("p1"), "category": [{"coding": [{"system": category, "code": "vital-signs"}]}]}
    pol.check_write("c", "Observation", vital)
    assert "outside what any one of the token's scopes reaches" in refusal(
        lambda: pol.check_write("c", "Observation", observation("p1")))
