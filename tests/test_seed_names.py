"""Names in the generated data read as people write them: no second given name that repeats the first
("Lori Lori"), Mc and Mac surnames capitalised (McDonald), display names as first and family name."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sandbox.seed import generate_batches
from sandbox.seed.patients import written_surname

ANCHOR = dt.date(2026, 3, 15)


def names(seed: int, patients: int) -> list[tuple[str, dict]]:
    found = []
    for batch in generate_batches(seed, patients, ANCHOR):
        for resource in batch:
            for name in resource.get("name", []) if isinstance(resource.get("name"), list) else []:
                found.append((resource["resourceType"], name))
    return found


@pytest.mark.parametrize(("faker_form", "written"), [
    ("Mcdonald", "McDonald"), ("Mcintosh", "McIntosh"), ("Macdonald", "MacDonald"), ("Mackenzie", "MacKenzie"),
    ("Mack", "Mack"), ("Macias", "Macias"), ("Smith", "Smith"), ("Mc", "Mc"),
])
def test_surnames_are_capitalised_as_written(faker_form, written):
    assert written_surname(faker_form) == written


def test_no_generated_person_repeats_a_given_name_or_writes_mc_in_lower_case():
    seen = names(7, 60) + names(11, 60)
    assert len(seen) > 150
    for rtype, name in seen:
        given = name.get("given", [])
        assert len(given) == len(set(given)), (rtype, name)
        assert not re.search(r"\bMc[a-z]", name["family"]), (rtype, name)


def test_the_first_clinician_is_lori_mcdonald():
    shared = next(iter(generate_batches(7, 0, ANCHOR)))
    first = next(r for r in shared if r["resourceType"] == "Practitioner")
    assert (first["name"][0]["given"], first["name"][0]["family"]) == (["Lori"], "McDonald")


def test_references_show_a_patient_by_first_and_family_name():
    for batch in list(generate_batches(7, 20, ANCHOR))[1:-1]:
        patient = batch[0]
        name = patient["name"][0]
        encounter = next(r for r in batch if r["resourceType"] == "Encounter")
        assert encounter["subject"]["display"] == f"{name['given'][0]} {name['family']}"
