"""Encounters: the visit every other clinical resource of a day hangs off."""

from __future__ import annotations

import datetime as dt

from . import codes
from .codes import concept
from .record import Chart, Clinician, Visit, add_minutes, stamp

CLASS_DISPLAY = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}
LOCATION_FOR_CLASS = {"EMER": "emergency", "IMP": "inpatient"}


def open_visit(chart: Chart, kind: str, day: dt.date, *, hour: int = 9, minute: int = 0, minutes: int = 30,
               end_day: dt.date | None = None, end_hour: int | None = None, end_minute: int = 0,
               clinician: Clinician | None = None, reason: dict | None = None,
               location: str | None = None) -> Visit:
    """Add a finished Encounter of the given kind (a key of encounter_types.json) and return its Visit.

    An inpatient stay runs from ``day`` to ``end_day`` (admitted from the emergency department, discharged
    home); every other visit lasts ``minutes``.
    """
    spec = chart.tables.encounter_types[kind]
    encounter_class = spec["class"]
    clinician = clinician or chart.pcp
    if end_day is None:
        end_day, end_hour, end_minute = add_minutes(day, hour, minute, minutes)
    elif end_hour is None:
        end_hour = 11
    start, end = stamp(day, hour, minute), stamp(end_day, end_hour, end_minute)
    location_key = location or LOCATION_FOR_CLASS.get(encounter_class, chart.clinic)
    location_ref = chart.location(location_key)
    encounter_id = chart.new_id()
    period = {"start": start, "end": end}
    encounter = {
        "resourceType": "Encounter", "id": encounter_id, "meta": codes.profile("us-core-encounter"),
        "identifier": [{"use": "official", "system": codes.VISIT_NUMBER_SYSTEM,
                        "value": f"V{int(encounter_id[:8], 16) % 1_000_000_000:09d}"}],
        "status": "finished",
        "class": codes.coding(codes.ACT_CODE, encounter_class, CLASS_DISPLAY[encounter_class]),
        "type": [concept(codes.SNOMED, spec["snomed"], spec["display"], spec["text"])],
        "subject": chart.subject_with_name(),
        "participant": [{
            "type": [concept(codes.PARTICIPATION, "PPRF", "primary performer")],
            "period": dict(period),
            "individual": dict(clinician.ref),
        }],
        "period": period,
    }
    reason = reason or _routine_reason(spec)
    if reason:
        encounter["reasonCode"] = [reason]
        condition = chart.conditions_by_code.get(reason["coding"][0]["code"])
        if condition is not None:  # the problem is already on the chart: point at it too
            encounter["reasonReference"] = [{"reference": f"Condition/{condition['id']}",
                                             "display": condition["code"]["text"]}]
    if encounter_class == "IMP":
        encounter["hospitalization"] = {
            "admitSource": concept("http://terminology.hl7.org/CodeSystem/admit-source", "emd",
                                   "From accident/emergency department"),
            "dischargeDisposition": concept("http://terminology.hl7.org/CodeSystem/discharge-disposition",
                                            "home", "Home"),
        }
    encounter["location"] = [{"location": location_ref, "status": "completed", "period": dict(period)}]
    encounter["serviceProvider"] = chart.organization()
    chart.add(encounter)
    visit = Visit(encounter=encounter, kind=kind, day=day, end_day=end_day, start=start, end=end, hour=hour,
                  minute=minute, clinician=clinician, location=location_ref)
    chart.visits.append(visit)
    return visit


def _routine_reason(spec: dict) -> dict | None:
    if "reason_icd10" not in spec:
        return None
    code, display = spec["reason_icd10"]
    return concept(codes.ICD10CM, code, display, spec["text"])


def reason_concept(entry: dict) -> dict:
    """SNOMED CT reason for an encounter, taken from a conditions.json entry."""
    return concept(codes.SNOMED, entry["snomed"], entry["display"], entry["text"])
