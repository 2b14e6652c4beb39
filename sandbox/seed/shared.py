"""The practice every patient belongs to: one Organization, its Locations, clinicians and their roles.

These resources come from a fixed internal seed, not the caller's seed, so ``Practitioner/practitioner-01``
is the same person in every database (handy as the default ``fhirUser`` of launches and in docs).
"""

from __future__ import annotations

import random

from faker import Faker

from . import codes
from .codes import Tables, concept
from .coverage import payer_organizations
from .patients import faker_for, written_surname
from .pharmacy import medication_resources, pharmacy_organization
from .record import Clinician, Staff, stable_int
from .screening import questionnaire_resources

ORGANIZATION_ID = "organization-riverside"
ROLE_CODES = "http://terminology.hl7.org/CodeSystem/practitioner-role"
ROLE_TYPES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def npi_check_digit(base9: str) -> str:
    """NPI check digit: Luhn over the 9 digits prefixed with the card issuer code 80840."""
    digits = [int(d) for d in "80840" + base9]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def make_npi(rng: random.Random) -> str:
    base = "1" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    return base + npi_check_digit(base)


def fictional_phone(area_code: str, rng: random.Random) -> str:
    """Numbers in 555-0100..0199, the range reserved for fiction."""
    return f"({area_code}) 555-01{rng.randint(0, 99):02d}"


def _address(tables: Tables, line: str) -> dict:
    org = tables.places["organization"]
    return {"use": "work", "line": [line], "city": org["city"], "state": tables.places["state"],
            "postalCode": org["postalCode"], "country": "US"}


def build_shared(tables: Tables) -> tuple[list[dict], Staff]:
    """The first batch: resources every patient references, and the references themselves."""
    rng = random.Random(stable_int("riverside-staff"))
    fake = faker_for(stable_int("riverside-staff-names"))
    org_info = tables.places["organization"]
    area = org_info["area_code"]
    org_ref = {"reference": f"Organization/{ORGANIZATION_ID}", "display": org_info["name"]}
    organization = {
        "resourceType": "Organization", "id": ORGANIZATION_ID, "meta": codes.profile("us-core-organization"),
        "identifier": [{"system": codes.NPI, "value": make_npi(rng)}],
        "active": True,
        "type": [concept("http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider")],
        "name": org_info["name"],
        "telecom": [{"system": "phone", "value": f"({area}) 555-0100", "use": "work"}],
        "address": [_address(tables, org_info["line"])],
    }
    resources = [organization]
    locations: dict[str, dict] = {}
    for key, info in tables.staff["locations"].items():
        location_id = f"location-{key}"
        resources.append({
            "resourceType": "Location", "id": location_id, "meta": codes.profile("us-core-location"),
            "status": "active", "name": info["name"], "mode": "instance",
            "type": [concept(ROLE_TYPES, info["role"], info["role_display"])],
            "telecom": [{"system": "phone", "value": fictional_phone(area, rng), "use": "work"}],
            "address": _address(tables, info["line"]),
            "managingOrganization": dict(org_ref),
        })
        locations[key] = {"reference": f"Location/{location_id}", "display": info["name"]}

    clinicians: dict[str, list[Clinician]] = {}
    roles = []
    number = 0
    for specialty in tables.staff["specialties"]:
        for _ in range(specialty["count"]):
            number += 1
            practitioner, clinician = _practitioner(number, specialty, fake, rng, tables, area)
            resources.append(practitioner)
            clinicians.setdefault(specialty["key"], []).append(clinician)
            roles.append(_role(number, specialty, clinician, org_ref, locations, area))
    resources.extend(roles)
    address = _address(tables, org_info["line"])
    resources.append(pharmacy_organization(tables, address))
    resources.extend(payer_organizations(tables, address))
    resources.extend(medication_resources(tables))
    resources.extend(questionnaire_resources(tables))
    return resources, Staff(organization=org_ref, locations=locations, clinicians=clinicians)


def _practitioner(number: int, specialty: dict, fake: Faker, rng: random.Random, tables: Tables,
                  area: str) -> tuple[dict, Clinician]:
    female = rng.random() < 0.55
    given = fake.first_name_female() if female else fake.first_name_male()
    family = written_surname(fake.last_name())
    credential = specialty["credential"]
    is_doctor = credential in ("MD", "DO")
    name = {"use": "official", "family": family, "given": [given], "suffix": [credential]}
    if is_doctor:
        name["prefix"] = ["Dr."]
    practitioner_id = f"practitioner-{number:02d}"
    handle = "".join(ch for ch in f"{given}.{family}".lower() if ch.isalnum() or ch == ".")
    resource = {
        "resourceType": "Practitioner", "id": practitioner_id, "meta": codes.profile("us-core-practitioner"),
        "identifier": [{"system": codes.NPI, "value": make_npi(rng)}],
        "active": True,
        "name": [name],
        "telecom": [
            {"system": "phone", "value": fictional_phone(area, rng), "use": "work"},
            {"system": "email", "value": f"{handle}@riverside.example.org", "use": "work"},
        ],
        "address": [_address(tables, tables.staff["locations"][specialty["location"]]["line"])],
        "gender": "female" if female else "male",
    }
    display = f"{'Dr. ' if is_doctor else ''}{given} {family}, {credential}"
    clinician = Clinician(ref={"reference": f"Practitioner/{practitioner_id}", "display": display},
                          name=display, specialty=specialty["display"], location=specialty["location"])
    return resource, clinician


def _role(number: int, specialty: dict, clinician: Clinician, org_ref: dict, locations: dict[str, dict],
          area: str) -> dict:
    is_doctor = specialty["credential"] in ("MD", "DO")
    role_code = ("doctor", "Doctor") if is_doctor else ("nurse", "Nurse")
    return {
        "resourceType": "PractitionerRole", "id": f"practitioner-role-{number:02d}",
        "meta": codes.profile("us-core-practitionerrole"),
        "active": True,
        "practitioner": dict(clinician.ref),
        "organization": dict(org_ref),
        "code": [concept(ROLE_CODES, *role_code)],
        "specialty": [concept(codes.NUCC, specialty["nucc"], specialty["display"])],
        "location": [dict(locations[specialty["location"]])],
        "telecom": [{"system": "phone", "value": f"({area}) 555-01{number:02d}", "use": "work"}],
    }
