"""Chaining (R4 search.html §3.1.1.4.13) and reverse chaining (§3.1.1.4.14) on the store, without HTTP: the
target types a chain reaches, deleted and hidden targets, and what the parsed chain looks like."""

from urllib.parse import parse_qsl

import pytest

from sandbox.store import Store
from sandbox.store.chaining import Chain, Has
from sandbox.store.errors import InvalidRequest
from sandbox.store.query import Criterion, parse_search
from sandbox.store.search import Compartment, search


@pytest.fixture
def mem():
    store = Store(":memory:")
    store.update({"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Grey"}]})
    store.update({"resourceType": "Location", "id": "lab", "name": "Grey Street Laboratory"})
    store.update({"resourceType": "Patient", "id": "p1", "gender": "female", "name": [{"family": "Grey"}],
                  "generalPractitioner": [{"reference": "Practitioner/dr"}]})
    store.update({"resourceType": "Patient", "id": "p2", "gender": "male", "name": [{"family": "Stone"}]})
    subjects = {"o1": "Patient/p1", "o2": "Patient/p2", "o3": "Location/lab", "o4": "Patient/p1"}
    for oid, subject in subjects.items():
        store.update({"resourceType": "Observation", "id": oid, "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": f"{oid}-code"}]},
                      "subject": {"reference": subject}})
    return store


def ids(store, rtype: str, qs: str, filters=(), filters_for=lambda rtype: ()) -> list[str]:
    query = parse_search(rtype, parse_qsl(qs))
    query.sort = [("_id", False)]
    return [stored.id for stored in search(store, query, filters, filters_for).matches]


@pytest.mark.parametrize(("qs", "expected"), [
    ("subject.name=grey", ["o1", "o3", "o4"]),  # the patient and the location named Grey
    ("subject:Patient.name=grey", ["o1", "o4"]),
    ("subject:Location.name=grey", ["o3"]),
    ("patient.name=grey", ["o1", "o4"]),
    ("patient.gender=male", ["o2"]),
    ("patient.gender:not=male", ["o1", "o4"]),
    ("patient.name=grey,stone", ["o1", "o2", "o4"]),
    ("patient.name=grey&patient.gender=male", []),
    ("patient.general-practitioner.name=grey", ["o1", "o4"]),
    ("patient.general-practitioner:Practitioner._id=dr", ["o1", "o4"]),
    ("patient.general-practitioner:missing=true", ["o2"]),
])
def test_chains(mem, qs, expected):
    assert ids(mem, "Observation", qs) == expected


@pytest.mark.parametrize(("qs", "expected"), [
    ("_has:Observation:patient:code=o2-code", ["p2"]),
    ("_has:Observation:subject:code=o1-code,o2-code", ["p1", "p2"]),
    ("_has:Observation:subject:code=o3-code", []),  # that one is about the location
    ("_has:Observation:patient:subject.name=stone", ["p2"]),
    # beside a term that drives the query, the reverse chain is probed per candidate
    ("gender=male&_has:Observation:patient:code=o2-code", ["p2"]),
    ("gender=female&_has:Observation:patient:code=o2-code", []),
    ("name=grey,stone&_has:Observation:subject:code=o1-code,o2-code&_has:Observation:subject:code=o4-code", ["p1"]),
    ("gender:not=female&_has:Observation:patient:code=o2-code", ["p2"]),
])
def test_reverse_chains(mem, qs, expected):
    assert ids(mem, "Patient", qs) == expected


def test_reverse_chain_nests(mem):
    assert ids(mem, "Practitioner", "_has:Patient:general-practitioner:_has:Observation:patient:code=o4-code") == \
        ["dr"]
    assert ids(mem, "Location", "_has:Observation:subject:code=o3-code") == ["lab"]
    assert ids(mem, "Practitioner", "name=grey&_has:Patient:general-practitioner:_has:Observation:patient:"
                                    "code=o4-code") == ["dr"]
    assert ids(mem, "Practitioner", "name=grey&_has:Patient:general-practitioner:_has:Observation:patient:"
                                    "code=o2-code") == []


def test_a_deleted_target_matches_nothing(mem):
    mem.delete("Patient", "p2")
    assert ids(mem, "Observation", "patient.gender=male") == []
    assert ids(mem, "Patient", "_has:Observation:patient:code=o2-code") == []
    mem.delete("Observation", "o1")
    assert ids(mem, "Patient", "_has:Observation:patient:code=o1-code") == []


def test_the_filters_of_the_target_type_apply_inside_the_chain(mem):
    only_p1 = {"Patient": (Compartment(("p1",)),), "Observation": (Compartment(("p1",)),)}

    def filters_for(rtype):
        return only_p1.get(rtype, ())

    assert ids(mem, "Observation", "patient.name=grey,stone", filters_for=filters_for) == ["o1", "o4"]
    assert ids(mem, "Patient", "_has:Observation:patient:code=o2-code", filters_for=filters_for) == []
    assert ids(mem, "Patient", "_has:Observation:patient:code=o1-code", filters_for=filters_for) == ["p1"]


def test_parsed_chains_keep_the_leaf_criterion_of_each_target():
    [chain] = parse_search("Observation", [("subject.name:exact", "Grey")]).criteria
    leaf = Criterion("name", "string", ("Grey",), "exact")
    assert isinstance(chain, Chain)
    assert chain.param == "subject"
    # R4 lets subject refer to a Group, Device, Location or Patient: the chain reaches those with a name parameter
    assert [target for target, _ in chain.branches] == ["Location", "Patient"]
    assert all(inner == leaf for _, inner in chain.branches)
    [has] = parse_search("Patient", [("_has:Observation:patient:code", "1,2")]).criteria
    assert has == Has("Observation", "patient", Criterion("code", "token", ("1", "2")))


@pytest.mark.parametrize("name", [
    "link.link.link.link.link.name",
    "_has:Patient:link:_has:Patient:link:_has:Patient:link:_has:Patient:link:_has:Patient:link:name",
])
def test_chains_follow_at_most_four_references(name):
    with pytest.raises(InvalidRequest) as refused:
        parse_search("Patient", [(name, "x")], strict=False)
    assert refused.value.code == "too-costly"
    assert "follows 5 references; a chain may follow at most 4" in str(refused.value)
    assert parse_search("Patient", [(name.replace("link.", "", 1).replace("_has:Patient:link:", "", 1), "x")])


def test_a_chain_that_fans_out_into_too_many_types_is_refused():
    with pytest.raises(InvalidRequest) as refused:
        parse_search("Observation", [("focus.subject.code", "x")])  # focus may refer to any type
    assert refused.value.code == "too-costly"
    assert "name the target types with the :Type modifier" in str(refused.value)
    assert parse_search("Observation", [("subject:Patient.general-practitioner:Practitioner.name", "x")]).criteria


def test_a_chain_names_a_real_target_type():
    with pytest.raises(InvalidRequest) as refused:
        parse_search("Patient", [("general-practitioner:Spaceship._tag", "x")])
    assert "'general-practitioner:Spaceship._tag' ('Spaceship' is not a FHIR R4 resource type)" in str(refused.value)
