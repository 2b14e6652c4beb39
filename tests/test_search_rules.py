"""Search rules on the store: parameter parsing, date ranges and SQL semantics, without HTTP."""

import datetime as dt
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.store import Store
from sandbox.store.errors import InvalidRequest
from sandbox.store.indexing import date_range, normalize_string, parse_reference
from sandbox.store.query import parse_search, split_values
from sandbox.store.search import AnyOf, Compartment, search

LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


@pytest.fixture(scope="module")
def mem():
    store = Store(":memory:")
    store.update({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-05-17",
                  "name": [{"family": "Núñez", "given": ["Ana", "María"]}],
                  "identifier": [{"system": "urn:mrn", "value": "100"}]})
    store.update({"resourceType": "Patient", "id": "p2", "gender": "male", "birthDate": "1975",
                  "name": [{"family": "Nunn", "given": ["Bob"]}]})
    for day in range(1, 6):
        for pid in ("p1", "p2"):
            category = "laboratory" if day % 2 else "vital-signs"
            store.update({
                "resourceType": "Observation", "id": f"{pid}-{day}", "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": category}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": f"100{day}-1"}]},
                "subject": {"reference": f"Patient/{pid}"},
                "effectiveDateTime": f"2024-03-0{day}T09:30:00+01:00",
            })
    return store


def ids(store, rtype, qs, filters=()):
    result = search(store, parse_search(rtype, parse_qsl(qs, keep_blank_values=True)), filters)
    return [m.id for m in result.matches]


@pytest.mark.parametrize("qs, expected", [
    ("family=nu", ["p1", "p2"]),
    ("family=NUÑE", ["p1"]),
    ("family=NUÑ", ["p1", "p2"]),
    ("family:exact=Nunn", ["p2"]),
    ("family:exact=nunn", []),
    ("name:contains=arí", ["p1"]),
    ("given=bob,ana", ["p1", "p2"]),
    ("gender=female", ["p1"]),
    ("gender:not=female", ["p2"]),
    ("identifier=urn:mrn|100", ["p1"]),
    ("identifier=urn:other|100", []),
    ("identifier=100", ["p1"]),
    ("birthdate=1980", ["p1"]),
    ("birthdate=1980-05", ["p1"]),
    ("birthdate=lt1976", ["p2"]),
    ("birthdate=ge1980-05-17", ["p1"]),
    ("birthdate=gt1980-05-17", []),
    ("birthdate=ne1975", ["p1"]),
    ("birthdate=sa1975", ["p1"]),
    ("birthdate=eb1980", ["p2"]),
    ("birthdate=le1975-06", ["p2"]),
    ("_id=p2", ["p2"]),
    ("_id=p1,p2&gender=male", ["p2"]),
    ("family=n&given=ana", ["p1"]),
])
def test_patient_search(mem, qs, expected):
    assert ids(mem, "Patient", qs) == expected


@pytest.mark.parametrize("qs, expected", [
    ("patient=p1&category=laboratory&_sort=-date", ["p1-5", "p1-3", "p1-1"]),
    (f"subject=Patient/p2&category={LAB}&_sort=date", ["p2-1", "p2-3", "p2-5"]),
    ("patient=p1&date=2024-03-02", ["p1-2"]),
    ("patient=p1&date=ge2024-03-04T08:30:00Z", ["p1-4", "p1-5"]),
    ("patient=p1&date=lt2024-03-02T08:30:00Z", ["p1-1"]),
    ("patient=p1&date=lt2024-03-02T08:31:00Z", ["p1-1", "p1-2"]),
    ("patient=p1&code=http://loinc.org|1003-1,1004-1", ["p1-3", "p1-4"]),
    ("patient=p1&code=|1003-1", []),
    ("subject:Patient=p2&_sort=-date&_count=2", ["p2-5", "p2-4"]),
    ("patient=p2&_sort=-date&_count=2&_offset=2", ["p2-3", "p2-2"]),
    ("patient:missing=true", []),
])
def test_observation_search(mem, qs, expected):
    assert ids(mem, "Observation", qs) == expected


def test_filters_apply_inside_the_query_so_totals_stay_right(mem):
    query = parse_search("Observation", [("_count", "2")])
    granular = AnyOf(((parse_search("Observation", [("category", "vital-signs")]).criteria[0],),))
    result = search(mem, query, (Compartment(("p1",)), granular))
    assert result.total == 2
    assert [m.id for m in result.matches] == ["p1-2", "p1-4"]
    assert search(mem, query, (Compartment(()),)).total == 0


def test_summary_count_and_total(mem):
    result = search(mem, parse_search("Observation", [("patient", "p1"), ("_summary", "count")]))
    assert (result.total, result.matches) == (5, [])


def test_includes_and_revincludes(mem):
    result = search(mem, parse_search("Observation", parse_qsl("_id=p1-1&_include=Observation:patient")))
    assert [i.id for i in result.included] == ["p1"]
    result = search(mem, parse_search("Patient", parse_qsl("_id=p2&_revinclude=Observation:subject")))
    assert sorted(i.id for i in result.included) == [f"p2-{d}" for d in range(1, 6)]


@pytest.mark.parametrize("qs", [
    "birthdate=yesterday", "birthdate=ge2020-13", "_count=-1", "_count=ten", "_sort=nonsense",
    "gender:exact=male", "family:missing=maybe", "_total=all", "_summary=some", "_include=Patient",
    "_include=Patient:gender", "family=", "general-practitioner=a/b/c/d",
])
def test_malformed_searches_are_refused_clearly(mem, qs):
    with pytest.raises(InvalidRequest):
        search(mem, parse_search("Patient", parse_qsl(qs, keep_blank_values=True)))


def test_unknown_parameters_are_refused_unless_lenient():
    assert parse_search("Patient", [("shoe-size", "9")], strict=False).ignored == ["shoe-size"]
    with pytest.raises(InvalidRequest):
        parse_search("Patient", [("shoe-size", "9")])


def test_count_is_capped():
    assert parse_search("Patient", [("_count", "5000")], max_page_size=100).count == 100


@pytest.mark.parametrize("text, expected", [
    ("2020", ("2020-01-01T00:00:00", "2021-01-01T00:00:00")),
    ("2020-12", ("2020-12-01T00:00:00", "2021-01-01T00:00:00")),
    ("2020-02-28", ("2020-02-28T00:00:00", "2020-02-29T00:00:00")),
    ("2020-02-28T23:30:00-01:00", ("2020-02-29T00:30:00", "2020-02-29T00:30:01")),
    ("2020-02-28T10:00Z", ("2020-02-28T10:00:00", "2020-02-28T10:01:00")),
    ("2020-02-28T10:00:00.123Z", ("2020-02-28T10:00:00", "2020-02-28T10:00:01")),
])
def test_date_ranges(text, expected):
    assert date_range(text) == expected


@given(st.datetimes(min_value=dt.datetime(1, 2, 1),
                    max_value=dt.datetime(9998, 12, 1)))
def test_every_datetime_range_is_one_second_wide_and_ordered(moment):
    start, end = date_range(moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0"))
    assert start < end


def test_split_values_honours_escaped_commas():
    assert split_values(r"a,b\,c,d") == ["a", "b,c", "d"]


def test_normalize_string_folds_case_and_accents():
    assert normalize_string("  Núñez  DE la Peña ") == "nunez de la pena"


@pytest.mark.parametrize("ref, expected", [
    ("Patient/1", ("Patient", "1")),
    ("http://x.org/fhir/Patient/1", ("Patient", "1")),
    ("Patient/1/_history/3", ("Patient", "1")),
    ("#contained", None),
    ("urn:uuid:abc", None),
    ("nonsense", None),
])
def test_parse_reference(ref, expected):
    assert parse_reference(ref) == expected
