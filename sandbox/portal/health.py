"""What the patient portal shows of one record, in everyday words (UI-GUIDE §2 Patient portal): "Blood pressure",
not "BP"; "High", not "H"; long dates ("9 September 2024").

Plain functions of the store and a patient id, reading through the same searches as the chart (ehr/records.py)
and building on the chart's row builders; only the words and dates are the portal's own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .. import formatting as fmt
from .. import vital_ranges
from ..ehr import chart, records, results
from ..store import Store

RECENT_VISITS = 3
LAB_REPORTS = 20
UPCOMING_STATUSES = {"planned", "arrived", "triaged", "in-progress", "onleave"}

VITAL_WORDS = {"spo2": "Oxygen level", "bmi": "Body mass index", "rr": "Breathing rate"}
UNIT_WORDS = {"hr": "beats a minute", "rr": "breaths a minute"}
VISIT_WORDS = {"AMB": "Clinic visit", "IMP": "Hospital stay", "ACUTE": "Hospital stay", "NONAC": "Hospital stay",
               "EMER": "Emergency visit", "VR": "Video or phone visit", "HH": "Home visit",
               "OBSENC": "Hospital observation", "SS": "Short hospital stay", "PRENC": "Pre-admission visit"}
STRONGER = {"Critical high": "Very high", "Critical low": "Very low", "Critical abnormal": "Abnormal"}

# Vital signs recorded with neither an interpretation nor a reference range (as the seeded ones are) are flagged
# against the usual adult ranges (sandbox/vital_ranges.py): key → (unit as recorded, the range in words).
FLAGGED_UNITS = {"hr": "/min", "rr": "/min", "spo2": "%", "temp": "Cel"}
BP_LOW, BP_HIGH = vital_ranges.FLAGGED["bp"]  # (systolic, diastolic)


def range_words(low: float | None, high: float | None) -> str:
    return f"{low} or more" if high is None else f"{low} to {high}"


# -- names and flags ---------------------------------------------------------------------------------------------


def everyday_name(resource: dict | None, fallback: str = "") -> str:
    """``Marcus Johnson``: first given name and family name, no title, as people write their own name."""
    if not resource:
        return fallback
    names = resource.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), None) or next(iter(names), {})
    words = [*(name.get("given") or [])[:1], name.get("family") or ""]
    return " ".join(w for w in words if w) or name.get("text") or fallback or chart.list_name(resource)


def first_name(resource: dict | None, fallback: str = "") -> str:
    return everyday_name(resource, fallback).split(" ")[0]


def flag_words(flag: results.Flag | None) -> dict[str, Any] | None:
    """A result's flag as the portal shows it: a glyph (hidden from screen readers) and a word."""
    if flag is None:
        return None
    return {"word": STRONGER.get(flag.words, flag.words), "glyph": flag.glyph, "level": flag.level,
            "calculated": flag.calculated}


HIGH = {"word": "High", "glyph": "▲", "level": "abnormal", "calculated": True}
LOW = {"word": "Low", "glyph": "▼", "level": "abnormal", "calculated": True}


def is_adult(patient: dict, today: dt.date) -> bool:
    return vital_ranges.adult_on(patient.get("birthDate"), today)


def usual_flag(key: str, resource: dict) -> tuple[dict | None, str]:
    """(flag, usual range in words) of an adult's vital sign against the usual adult ranges."""
    if key == "bp":
        values = [(c.get("valueQuantity") or {}).get("value") for code in (results.SYSTOLIC, results.DIASTOLIC)
                  for c in resource.get("component") or [] if code in results.codes_of(c)]
        if len(values) != 2 or not all(isinstance(v, (int, float)) for v in values):
            return None, ""
        systolic, diastolic = values
        usual = f"Usual range below {BP_HIGH[0]}/{BP_HIGH[1]}"
        if systolic >= BP_HIGH[0] or diastolic >= BP_HIGH[1]:
            return HIGH, usual
        if systolic < BP_LOW[0] or diastolic < BP_LOW[1]:
            return LOW, usual
        return None, usual
    if key not in FLAGGED_UNITS:
        return None, ""
    (low, high), unit = vital_ranges.FLAGGED[key], FLAGGED_UNITS[key]
    words = range_words(low, high)
    quantity = resource.get("valueQuantity") or {}
    value = quantity.get("value")
    if not isinstance(value, (int, float)) or unit not in (quantity.get("code"), quantity.get("unit")):
        return None, ""
    usual = f"Usual range {words}"
    if high is not None and value > high:
        return HIGH, usual
    if low is not None and value < low:
        return LOW, usual
    return None, usual


# -- My health ------------------------------------------------------------------------------------------------


def latest_vitals(resources: list[dict], adult: bool) -> list[dict]:
    """The latest reading of each vital sign (``resources`` newest first), in flowsheet order, with a flag from the
    record (interpretation or reference range) or, for an adult, from the usual adult range."""
    labels = {key: label for key, label, _ in results.VITALS}
    latest: dict[str, dict] = {}
    for resource in resources:
        key = results.vital_key(resource)
        if key not in labels or key in latest:
            continue
        value, unit = results.value_of(resource)
        flag, usual = flag_words(results.flag_of(resource)), ""
        if adult:
            calculated, usual = usual_flag(key, resource)
            flag = flag or calculated
        latest[key] = {"key": key, "label": VITAL_WORDS.get(key, labels[key]), "value": value,
                       "unit": UNIT_WORDS.get(key, unit), "date": fmt.long_date(results.effective(resource)),
                       "flag": flag, "usual": usual}
    return [latest[key] for key, _, _ in results.VITALS if key in latest]


def conditions(resources: list[dict]) -> list[dict]:
    """Active health conditions, newest first, each with the date it started."""
    active, _ = chart.conditions(resources)
    return [{"name": row["name"], "since": fmt.long_date(row["sort"]) if row["sort"] else ""} for row in active]


def allergies(resources: list[dict]) -> dict[str, Any]:
    """The known allergies, or which of "No known allergies" and "No allergies recorded" holds."""
    rows = [chart.allergy_row(r) for r in resources]
    state = chart.allergy_state(rows)
    known = [{"substance": r["substance"], "reaction": r["reaction"] if r["reaction"] != "Not recorded" else "",
              "severity": r["severity"] if r["severity"] != "Not recorded" else "", "serious": r["critical"]}
             for r in rows if r["active"] and not r["no_known"]]
    words = {"known": "", "none": "No known allergies: the care team checked and recorded none.",
             "not-recorded": "No allergies are recorded."}
    return {"known": known, "state": state["kind"], "words": words[state["kind"]]}


def visit(resource: dict) -> dict[str, Any]:
    row = chart.encounter_row(resource)
    klass = (resource.get("class") or {}).get("code")
    start = (resource.get("period") or {}).get("start")
    return {"date": fmt.long_date(start), "time": fmt.parse(start)[1] or "", "kind": VISIT_WORDS.get(klass, "Visit"),
            "type": row["type"] if row["type"] != fmt.NOT_KNOWN else "",
            "reason": row["reason"] if row["reason"] != "No reason recorded" else "",
            "clinician": row["clinician_short"] if row["clinician"] != fmt.NOT_KNOWN else "",
            "location": row["location"] if row["location"] != fmt.NOT_KNOWN else "",
            "sort": start or ""}


def visits(resources: list[dict], today: dt.date) -> tuple[list[dict], list[dict]]:
    """(upcoming visits, soonest first; recent visits, newest first) from encounters sorted newest first."""
    upcoming, recent = [], []
    for resource in resources:
        day = fmt.parse((resource.get("period") or {}).get("start"))[0]
        later = resource.get("status") in UPCOMING_STATUSES or (day is not None and day > today)
        (upcoming if later else recent).append(visit(resource))
    return sorted(upcoming, key=lambda v: v["sort"]), recent[:RECENT_VISITS]


def summary(store: Store, patient_id: str, patient: dict, today: dt.date) -> dict[str, Any]:
    """The My health page: conditions, allergies, latest vital signs, visits and pointers to results and medicines."""
    vitals = records.of_patient(store, "Observation", patient_id, ("category", "vital-signs"), ("_sort", "-date"),
                                count=60)
    encounters = records.of_patient(store, "Encounter", patient_id, ("_sort", "-date"), count=40)
    upcoming, recent = visits(records.resources(encounters), today)
    medicines = records.of_patient(store, "MedicationRequest", patient_id, ("status", "active"))
    reports, observations, _ = records.lab_reports(store, patient_id, 1)
    latest_report = None
    if reports:
        panel = results.lab_panels(reports, observations)[0]
        latest_report = {"name": panel["name"], "date": fmt.long_date(results.effective(reports[0])),
                         "outside": panel["abnormal"]}
    return {
        "conditions": conditions(records.resources(records.of_patient(store, "Condition", patient_id))),
        "allergies": allergies(records.resources(records.of_patient(store, "AllergyIntolerance", patient_id))),
        "vitals": latest_vitals(records.resources(vitals), is_adult(patient, today)),
        "upcoming": upcoming,
        "recent": recent,
        "medicine_count": len(chart.medications(records.resources(medicines))[0]),
        "latest_report": latest_report,
    }


# -- Test results and Medicines -----------------------------------------------------------------------------------


def test_results(store: Store, patient_id: str, limit: int = LAB_REPORTS) -> dict[str, Any]:
    """Lab reports newest first, each result with its normal range and a flag word."""
    reports, observations, total = records.lab_reports(store, patient_id, limit)
    panels = []
    for report, panel in zip(reports, results.lab_panels(reports, observations), strict=True):
        rows = [{"name": r["name"], "value": r["value"], "unit": r["unit"], "numeric": r["numeric"],
                 "flag": flag_words(r["flag"]), "range": r["range"] if r["range"] != "Not given" else ""}
                for r in panel["rows"]]
        panels.append({"id": panel["id"], "name": panel["name"], "date": fmt.long_date(results.effective(report)),
                       "outside": panel["abnormal"], "rows": rows, "status": report.get("status") or "",
                       "conclusion": panel["conclusion"]})
    return {"panels": panels, "shown": len(panels), "total": total}


def _reason(resource: dict) -> str:
    for reason in resource.get("reasonReference") or []:
        if reason.get("display"):
            return reason["display"]
    return next((chart.concept(c, "") for c in resource.get("reasonCode") or []), "")


def medicine(resource: dict) -> dict[str, Any]:
    row = chart.medication_row(resource)
    return {"name": row["name"], "how": row["sig"], "reason": _reason(resource),
            "started": fmt.long_date(row["sort"]) if row["sort"] else "",
            "prescriber": row["prescriber"].split(",")[0] if row["prescriber"] != fmt.NOT_KNOWN else "",
            "status": {"completed": "Finished", "stopped": "Stopped", "cancelled": "Cancelled",
                       "entered-in-error": "Recorded in error"}.get(resource.get("status"), row["status"])}


def medicines(store: Store, patient_id: str) -> dict[str, Any]:
    """Medicines taken now, then past ones, newest first."""
    found = records.resources(records.of_patient(store, "MedicationRequest", patient_id))
    ordered = sorted(found, key=lambda r: r.get("authoredOn") or "", reverse=True)
    current = [medicine(r) for r in ordered if r.get("status") in chart.ACTIVE_MEDICATION]
    past = [medicine(r) for r in ordered if r.get("status") not in chart.ACTIVE_MEDICATION]
    return {"current": current, "past": past}
