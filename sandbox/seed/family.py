"""Family members (RelatedPerson): a parent of every child, a spouse or grown child of some adults.

A family member linked to a story patient signs in to the portal (auth/users.py makes their user), and
``sandbox users add-family`` adds one to any patient with ``related_person``."""

from __future__ import annotations

from . import codes
from .codes import concept
from .patients import faker_for, written_surname
from .record import Chart, stable_int

ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PARENT_CODES = ("MTH", "FTH")
RELATIONSHIP_GENDER = {"parent-female": "female", "parent-male": "male", "daughter": "female", "son": "male"}


def relationships(tables) -> dict:
    return tables.records["family"]


def related_person(resource_id: str, patient: dict, relationship: str, given: str, family: str, *,
                   gender: str | None, tables, phone: str | None = None) -> dict:
    """A US Core RelatedPerson of ``patient`` (its Patient resource), living at the patient's address."""
    entry = relationships(tables)[relationship]
    resource = {
        "resourceType": "RelatedPerson", "id": resource_id, "meta": codes.profile("us-core-relatedperson"),
        "active": True,
        "patient": {"reference": f"Patient/{patient['id']}"},
        "relationship": [concept(ROLE_CODES, entry["code"], entry["display"], entry["text"])],
        "name": [{"use": "official", "family": family, "given": [given]}],
    }
    phone = phone or next((t["value"] for t in patient.get("telecom", []) if t.get("system") == "phone"), None)
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "mobile"}]
    if patient.get("address"):
        resource["address"] = [dict(patient["address"][0])]
    if gender:
        resource["gender"] = RELATIONSHIP_GENDER.get(relationship, gender)
    return resource


def is_parent(resource: dict) -> bool:
    return resource["relationship"][0]["coding"][0]["code"] in PARENT_CODES


def _contact_is_female(patient: dict) -> bool:
    """Whether the parent named as the child's contact has a name faker lists as a woman's."""
    from faker.providers.person.en_US import Provider

    given = (patient.get("contact") or [{}])[0].get("name", {}).get("given") or [""]
    return given[0] in Provider.first_names_female


def add_family_member(chart: Chart, relationship: str | None = None, given: str | None = None) -> dict | None:
    """A parent for a child (the one named as contact), a spouse or grown child for some adults; None for others."""
    patient = chart.resources[0]
    age = chart.age_years(chart.anchor)
    rng = chart.us_core_rng
    family = patient["name"][0]["family"]
    if relationship is None:
        if age < 18:
            relationship = "parent-female" if _contact_is_female(patient) else "parent-male"
        elif age >= 70 and rng.random() < 0.5:
            relationship = "daughter" if rng.random() < 0.55 else "son"
        elif patient.get("maritalStatus", {}).get("coding", [{}])[0].get("code") == "M" and rng.random() < 0.3:
            relationship = "spouse"
        else:
            return None
    gender = RELATIONSHIP_GENDER.get(relationship) or ("male" if chart.is_female else "female")
    if given is None:
        contact = (patient.get("contact") or [{}])[0].get("name", {}).get("given")
        if contact and relationship.startswith("parent"):
            given = contact[0]
        else:
            fake = faker_for(stable_int(chart.key + "/family"))
            draw = fake.first_name_female if gender == "female" else fake.first_name_male
            given = draw()
            while given == patient["name"][0]["given"][0]:
                given = draw()
    if relationship == "daughter" and rng.random() < 0.5:  # a married daughter often has another surname
        family = written_surname(faker_for(stable_int(chart.key + "/family-name")).last_name())
    return chart.add(related_person(chart.us_core_id(), patient, relationship, given, family, gender=gender,
                                    tables=chart.tables))
