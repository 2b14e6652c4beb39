"""The access policy of a token: scopes × interaction × compartment × category × user kind, without HTTP."""

from __future__ import annotations

import pytest

from sandbox.auth.access_policy import ScopePolicy
from sandbox.auth.scopes import ScopeSet
from sandbox.store import Store
from sandbox.store.errors import Forbidden
from sandbox.store.query import parse_search
from sandbox.store.search import search

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _obs(oid: str, patient: str, category: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": oid},
            "subject": {"reference": f"Patient/{patient}"},
            "category": [{"coding": [{"system": CATEGORY, "code": category}]}]}


@pytest.fixture(scope="module")
def store():
    store = Store(":memory:")
    store.load([
        {"resourceType": "Practitioner", "id": "dr1"},
        {"resourceType": "Practitioner", "id": "dr2"},
        {"resourceType": "Patient", "id": "p1"},
        {"resourceType": "Patient", "id": "p2"},
        _obs("lab1", "p1", "laboratory"), _obs("vit1", "p1", "vital-signs"), _obs("soc1", "p1", "social-history"),
        _obs("lab2", "p2", "laboratory"), _obs("vit2", "p2", "vital-signs"),
    ])
    return store


def policy(store, scopes, **kw) -> ScopePolicy:
    return ScopePolicy(store, ScopeSet.parse(scopes), **kw)


def visible_ids(store, pol, rtype="Observation", params=()) -> list[str]:
    query = parse_search(rtype, list(params) + [("_sort", "_id")])
    return [s.id for s in search(store, query, pol.search_filters(rtype)).matches]


def readable(store, pol, rtype, rid) -> bool:
    try:
        pol.check_stored("r", store.read(rtype, rid))
    except Forbidden:
        return False
    return True


ALL = ["lab1", "lab2", "soc1", "vit1", "vit2"]


@pytest.mark.parametrize("scopes, kw, searched, read", [
    ("patient/Observation.rs", {"patient": "p1"}, ["lab1", "soc1", "vit1"], ["lab1", "soc1", "vit1"]),
    ("patient/Observation.read", {"patient": "p2"}, ["lab2", "vit2"], ["lab2", "vit2"]),
    ("patient/*.rs", {"patient": "p1"}, ["lab1", "soc1", "vit1"], ["lab1", "soc1", "vit1"]),
    (f"patient/Observation.rs?category={CATEGORY}|laboratory", {"patient": "p1"}, ["lab1"], ["lab1"]),
    (f"patient/Observation.rs?category={CATEGORY}|laboratory patient/Observation.rs?category=vital-signs",
     {"patient": "p1"}, ["lab1", "vit1"], ["lab1", "vit1"]),
    ("patient/Observation.rs", {}, [], []),  # no launch patient: a patient/ scope reaches nothing
    ("user/Observation.rs", {"user_patients": None}, ALL, ALL),  # a clinician
    ("user/Observation.rs", {"user_patients": ("p2",)}, ["lab2", "vit2"], ["lab2", "vit2"]),  # a patient user
    (f"user/Observation.rs?category={CATEGORY}|laboratory", {"user_patients": None}, ["lab1", "lab2"],
     ["lab1", "lab2"]),
    ("system/*.rs", {}, ALL, ALL),
    ("patient/Observation.r", {"patient": "p1"}, None, ["lab1", "soc1", "vit1"]),  # read, no search
    ("patient/Observation.s", {"patient": "p1"}, ["lab1", "soc1", "vit1"], []),  # search, no read
    ("patient/Condition.rs", {"patient": "p1"}, None, []),
])
def test_search_and_read_see_exactly_what_the_scopes_reach(store, scopes, kw, searched, read):
    pol = policy(store, scopes, **kw)
    if searched is None:
        with pytest.raises(Forbidden):
            pol.check("s", "Observation")
    else:
        assert visible_ids(store, pol) == searched
    assert [oid for oid in ALL if readable(store, pol, "Observation", oid)] == read


def test_search_without_the_permission_is_refused_with_the_scope_to_ask_for(store):
    pol = policy(store, "patient/Condition.rs", patient="p1")
    with pytest.raises(Forbidden) as refused:
        pol.check("s", "Observation")
    assert "patient/Observation.rs" in str(refused.value) and "patient/Observation.read" in str(refused.value)
    assert "patient/Condition.rs" in str(refused.value)  # what the token has


def test_types_outside_every_compartment_stay_readable_under_patient_scopes(store):
    pol = policy(store, "patient/*.rs", patient="p1")
    assert readable(store, pol, "Practitioner", "dr2")
    assert visible_ids(store, pol, "Practitioner") == ["dr1", "dr2"]
    assert readable(store, pol, "Patient", "p1") and not readable(store, pol, "Patient", "p2")


def test_fhir_user_scope_reads_the_users_own_resource_only(store):
    pol = policy(store, "openid fhirUser patient/Observation.rs", patient="p1", fhir_user="Practitioner/dr1")
    assert readable(store, pol, "Practitioner", "dr1")
    assert not readable(store, pol, "Practitioner", "dr2")
    without = policy(store, "openid patient/Observation.rs", patient="p1", fhir_user="Practitioner/dr1")
    assert not readable(store, without, "Practitioner", "dr1")


def test_writes_stay_inside_the_compartment_and_the_granted_categories(store):
    pol = policy(store, f"patient/Observation.cu?category={CATEGORY}|vital-signs", patient="p1")
    pol.check("c", "Observation", _obs("new", "p1", "vital-signs"))
    with pytest.raises(Forbidden):
        pol.check("c", "Observation", _obs("new", "p2", "vital-signs"))
    with pytest.raises(Forbidden):
        pol.check("c", "Observation", _obs("new", "p1", "laboratory"))
    with pytest.raises(Forbidden):
        pol.check("d", "Observation")


def test_included_entries_are_filtered_by_read_reach(store):
    pol = policy(store, f"patient/Observation.rs?category={CATEGORY}|laboratory patient/Patient.rs", patient="p1")
    entries = [store.read("Observation", oid) for oid in ("lab1", "vit1", "lab2")] + [store.read("Patient", "p2")]
    assert [e.id for e in pol.visible(entries)] == ["lab1"]


def test_an_unknown_granular_parameter_grants_nothing(store):
    pol = policy(store, "patient/Observation.rs?bogus=1", patient="p1")
    assert visible_ids(store, pol) == []
    assert not readable(store, pol, "Observation", "lab1")


def test_decisions_are_recorded_with_their_rule(store):
    pol = policy(store, "patient/Observation.rs", patient="p1")
    readable(store, pol, "Observation", "lab1")
    readable(store, pol, "Observation", "lab2")
    assert [outcome for outcome, _ in pol.decisions] == ["success", "failure"]
    assert "Patient/p1" in pol.decisions[1][1]


def test_a_patient_scope_without_a_patient_says_so(store):
    with pytest.raises(Forbidden, match="needs a patient in context"):
        policy(store, "patient/Observation.rs").check("s", "Observation")
