"""One patient's chart while it is being written: ids, clock, references, and the resources so far.

Everything random goes through the chart's own ``random.Random`` so a patient depends only on its key
(seed and index, or the story name), never on global state or on the patients generated before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from dataclasses import dataclass, field

from .codes import Tables

# Fixed namespace for uuid5 ids: same key, same id, on every machine.
ID_NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-4c1f-9a57-2e0c8d3b9a41")
# Generated times are local clinic times with a fixed offset; every time of day used stays before 19:00,
# so the UTC date equals the local date and "not after the anchor date" holds in both readings.
UTC_OFFSET = "-05:00"


def stable_int(key: str) -> int:
    """A 64-bit integer from a string, identical across processes (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def stamp(day: dt.date, hour: int, minute: int = 0) -> str:
    """FHIR dateTime/instant with seconds and offset, e.g. ``2024-03-05T09:30:00-05:00``."""
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00{UTC_OFFSET}"


def add_minutes(day: dt.date, hour: int, minute: int, minutes: int) -> tuple[dt.date, int, int]:
    total = hour * 60 + minute + minutes
    return day + dt.timedelta(days=total // 1440), (total % 1440) // 60, total % 60


def weekday_on_or_after(day: dt.date) -> dt.date:
    """Clinics are closed at weekends: move a Saturday or Sunday visit to Monday."""
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def years_between(start: dt.date, end: dt.date) -> int:
    """Whole years of age on ``end`` for someone born on ``start``."""
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


@dataclass(frozen=True)
class Clinician:
    ref: dict
    name: str
    specialty: str
    location: str


@dataclass
class Staff:
    """References to the shared resources (first batch) that every chart points at."""

    organization: dict
    locations: dict[str, dict]
    clinicians: dict[str, list[Clinician]]

    def pick(self, specialty: str, rng: random.Random) -> Clinician:
        return rng.choice(self.clinicians[specialty])

    def first(self, specialty: str) -> Clinician:
        return self.clinicians[specialty][0]


@dataclass
class Visit:
    """An encounter already added to the chart, with what later resources need to point at it."""

    encounter: dict
    kind: str
    day: dt.date
    end_day: dt.date
    start: str
    end: str
    hour: int
    minute: int
    clinician: Clinician
    location: dict

    @property
    def ref(self) -> dict:
        return {"reference": f"Encounter/{self.encounter['id']}"}

    def at(self, minutes_after_start: int) -> str:
        day, hour, minute = add_minutes(self.day, self.hour, self.minute, minutes_after_start)
        return stamp(day, hour, minute)


@dataclass
class Chart:
    key: str
    patient_id: str
    rng: random.Random
    anchor: dt.date
    staff: Staff
    tables: Tables
    sex: str
    birth_date: dt.date
    name: str
    mrn: str
    pcp: Clinician
    clinic: str
    resources: list[dict] = field(default_factory=list)
    body: dict = field(default_factory=dict)
    lab_effects: dict = field(default_factory=dict)
    vital_effects: dict = field(default_factory=dict)
    excluded_classes: set[str] = field(default_factory=set)
    allergy_texts: list[str] = field(default_factory=list)
    active_medications: list[str] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    conditions_by_code: dict[str, dict] = field(default_factory=dict)  # SNOMED CT code -> Condition
    _serial: int = 0
    _us_core_serial: int = 0
    _us_core_rng: random.Random | None = None

    def new_id(self) -> str:
        self._serial += 1
        return str(uuid.uuid5(ID_NAMESPACE, f"{self.key}/{self._serial}"))

    def us_core_id(self) -> str:
        """Ids of the US Core additions (orders, specimens, dispenses, provenance …) come from a counter of their
        own, so adding them leaves the ids of every other resource as they were."""
        self._us_core_serial += 1
        return str(uuid.uuid5(ID_NAMESPACE, f"{self.key}/us-core/{self._us_core_serial}"))

    @property
    def us_core_rng(self) -> random.Random:
        """The randomness of the US Core additions, apart from ``rng`` so that the rest of the chart is unchanged."""
        if self._us_core_rng is None:
            self._us_core_rng = random.Random(stable_int(self.key + "/us-core"))
        return self._us_core_rng

    def add(self, resource: dict) -> dict:
        self.resources.append(resource)
        return resource

    def subject(self) -> dict:
        return {"reference": f"Patient/{self.patient_id}"}

    def subject_with_name(self) -> dict:
        return {"reference": f"Patient/{self.patient_id}", "display": self.name}

    def age_years(self, day: dt.date) -> int:
        return years_between(self.birth_date, day)

    def age_months(self, day: dt.date) -> float:
        return (day - self.birth_date).days / 30.4375

    @property
    def is_female(self) -> bool:
        return self.sex == "female"

    def organization(self) -> dict:
        return dict(self.staff.organization)

    def location(self, key: str) -> dict:
        return dict(self.staff.locations[key])
