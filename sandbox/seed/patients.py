"""Who a patient is: demographics drawn from faker and the tables, and the US Core Patient resource."""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field

from faker import Faker

from . import codes
from .codes import Tables, concept
from .record import Chart, Clinician, Staff, years_between

RACE_SYSTEM = "urn:oid:2.16.840.1.113883.6.238"
RACE_URL = codes.US_CORE + "us-core-race"
ETHNICITY_URL = codes.US_CORE + "us-core-ethnicity"
BIRTHSEX_URL = codes.US_CORE + "us-core-birthsex"
MARITAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
CONTACT_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/v2-0131"

_faker: Faker | None = None


def faker_for(seed: int) -> Faker:
    """One en_US Faker, re-seeded per patient: creating one costs ~0.3 s, re-seeding microseconds."""
    global _faker
    if _faker is None:
        _faker = Faker("en_US")
    _faker.seed_instance(seed)
    return _faker


@dataclass
class Person:
    given: list[str]
    family: str
    sex: str
    birth_date: dt.date
    races: list[str]
    ethnicity: str
    language: str
    marital: str | None
    line: str
    city: str
    postal_code: str
    area_code: str
    phone: str
    email: str | None
    prefix: str | None = None
    parent_given: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """First and family name, as a person writes it on a form: ``Lori McDonald``."""
        return f"{self.given[0]} {self.family}"


def distinct_name(draw, taken: str, tries: int = 20) -> str:
    """A second given name other than the first: faker draws common names often enough that "Lori Lori" came up."""
    for _ in range(tries):
        name = draw()
        if name != taken:
            return name
    raise RuntimeError(f"no given name other than {taken!r} in {tries} draws")


_SCOTTISH_PREFIX = re.compile(r"^(Mc|Mac(?=(?:donald|kenzie|kay|intosh|millan|pherson|lean|leod)$))(.)(.*)$")


def written_surname(name: str) -> str:
    """Faker's surnames come capitalised as ``Mcdonald``; people write ``McDonald``, ``MacDonald``. "Mac" only
    before the stems where it is the prefix (``Mack``, ``Macias`` stay)."""
    match = _SCOTTISH_PREFIX.match(name)
    return f"{match[1]}{match[2].upper()}{match[3]}" if match else name


def _weighted(rng: random.Random, table: dict) -> str:
    keys = list(table)
    return rng.choices(keys, weights=[table[k]["weight"] for k in keys])[0]


def random_age_days(rng: random.Random, tables: Tables) -> int:
    bands = tables.demographics["age_bands"]
    low, high, _ = rng.choices(bands, weights=[b[2] for b in bands])[0]
    return rng.randint(low * 365, high * 365 + 364)


def make_person(rng: random.Random, fake: Faker, anchor: dt.date, tables: Tables, *,
                sex: str | None = None, age_days: int | None = None) -> Person:
    """Random but coherent demographics: names match sex, titles and marital status match age."""
    demo = tables.demographics
    sex = sex or rng.choice(("female", "male"))
    age_days = random_age_days(rng, tables) if age_days is None else age_days
    birth = anchor - dt.timedelta(days=age_days)
    age = years_between(birth, anchor)
    first_name = fake.first_name_female if sex == "female" else fake.first_name_male
    first = first_name()
    middle = distinct_name(first_name, first)
    family = written_surname(fake.last_name())
    races = [_weighted(rng, demo["race"])]
    if rng.random() < demo["multiracial_rate"]:
        other = _weighted(rng, demo["race"])
        if other != races[0]:
            races.append(other)
    ethnicity = _weighted(rng, demo["ethnicity"])
    language = "en-US"
    if ethnicity == "hispanic" and rng.random() < 0.35:
        language = "es"
    elif races[0] == "asian" and rng.random() < 0.2:
        language = rng.choice(("zh", "vi"))
    elif rng.random() < 0.03:
        language = rng.choice(("pt", "ht"))
    marital = None
    if age >= 18:
        weights = {"S": 0.7, "M": 0.27, "D": 0.03, "W": 0.0} if age < 30 else (
            {"S": 0.2, "M": 0.58, "D": 0.15, "W": 0.07} if age < 70 else {"S": 0.05, "M": 0.45, "D": 0.12, "W": 0.38})
        marital = rng.choices(list(weights), weights=list(weights.values()))[0]
    prefix = None
    if age >= 18:
        prefix = "Mr." if sex == "male" else ("Mrs." if marital in ("M", "W") else "Ms.")
    towns = tables.places["towns"]
    town = rng.choices(towns, weights=[t["weight"] for t in towns])[0]
    phone = f"({town['area_code']}) 555-01{rng.randint(0, 99):02d}"
    email = None
    if age >= 16:
        handle = re.sub(r"[^a-z.]", "", f"{first}.{family}".lower())
        email = f"{handle}{rng.randint(1, 99)}@example.com"
    parent = None
    if age < 18:
        parent = fake.first_name_female() if rng.random() < 0.6 else fake.first_name_male()
    return Person(given=[first, middle], family=family, sex=sex, birth_date=birth, races=races,
                  ethnicity=ethnicity, language=language, marital=marital, line=fake.street_address(),
                  city=town["city"], postal_code=town["postalCode"], area_code=town["area_code"], phone=phone,
                  email=email, prefix=prefix, parent_given=parent)


def primary_care_for(person: Person, anchor: dt.date, staff: Staff, rng: random.Random) -> Clinician:
    if years_between(person.birth_date, anchor) < 18:
        return staff.pick("pediatrics", rng)
    pool = staff.clinicians["family-medicine"] + staff.clinicians["internal-medicine"]
    if years_between(person.birth_date, anchor) < 65:
        pool = pool + staff.clinicians["nurse-practitioner"]
    return rng.choice(pool)


def patient_resource(chart: Chart, person: Person) -> dict:
    demo = chart.tables.demographics
    race_ext = [{"url": "ombCategory", "valueCoding": codes.coding(RACE_SYSTEM, demo["race"][r]["code"],
                                                                     demo["race"][r]["display"])}
                for r in person.races]
    race_ext.append({"url": "text", "valueString": " and ".join(demo["race"][r]["display"] for r in person.races)})
    ethnicity = demo["ethnicity"][person.ethnicity]
    ethnicity_coding = codes.coding(RACE_SYSTEM, ethnicity["code"], ethnicity["display"])
    language = demo["languages"][person.language]
    name = {"use": "official", "family": person.family, "given": list(person.given)}
    if person.prefix:
        name["prefix"] = [person.prefix]
    telecom = [{"system": "phone", "value": person.phone, "use": "mobile" if person.email else "home"}]
    if person.email:
        telecom.append({"system": "email", "value": person.email, "use": "home"})
    resource = {
        "resourceType": "Patient", "id": chart.patient_id, "meta": codes.profile("us-core-patient"),
        "extension": [
            {"url": RACE_URL, "extension": race_ext},
            {"url": ETHNICITY_URL, "extension": [
                {"url": "ombCategory", "valueCoding": ethnicity_coding},
                {"url": "text", "valueString": ethnicity["display"]}]},
            {"url": BIRTHSEX_URL, "valueCode": "F" if person.sex == "female" else "M"},
        ],
        "identifier": [{
            "use": "usual",
            "type": concept(codes.IDENTIFIER_TYPE, "MR", "Medical Record Number"),
            "system": codes.MRN_SYSTEM, "value": chart.mrn,
        }],
        "active": True,
        "name": [name],
        "telecom": telecom,
        "gender": person.sex,
        "birthDate": person.birth_date.isoformat(),
        "address": [{"use": "home", "type": "physical", "line": [person.line], "city": person.city,
                     "state": chart.tables.places["state"], "postalCode": person.postal_code, "country": "US"}],
        "communication": [{"language": concept("urn:ietf:bcp:47", person.language, language["display"],
                                               language["text"]), "preferred": True}],
        "generalPractitioner": [dict(chart.pcp.ref)],
        "managingOrganization": chart.organization(),
    }
    if person.marital:
        marital = demo["marital_status"][person.marital]
        resource["maritalStatus"] = concept(MARITAL_SYSTEM, person.marital, marital["display"], marital["text"])
    if person.parent_given:
        resource["contact"] = [{
            "relationship": [concept(CONTACT_RELATIONSHIP, "N", "Next-of-Kin", "Parent")],
            "name": {"use": "official", "family": person.family, "given": [person.parent_given]},
            "telecom": [{"system": "phone", "value": person.phone, "use": "mobile"}],
        }]
    return resource
