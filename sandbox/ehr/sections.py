"""The chart's sections: what each one reads and hands to its template (templates/ehr/sections/<key>.html).

Each loader takes the store and the patient id and returns the template values; the banner's data (allergies,
encounter in context) is already in the page around it. Summary is the default section; Apps is last (UI-GUIDE §1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store import Store
from . import apps, chart, records, results

ENCOUNTER_PAGE = 100
LAB_REPORTS = 40
VITAL_ROWS = 400


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    load: Callable[[Store, str], dict[str, Any]]


def summary(store: Store, patient_id: str) -> dict[str, Any]:
    conditions = records.of_patient(store, "Condition", patient_id)
    medications = records.of_patient(store, "MedicationRequest", patient_id, ("status", "active"))
    vitals = records.of_patient(store, "Observation", patient_id, ("category", "vital-signs"), ("_sort", "-date"),
                                count=60)
    labs = records.of_patient(store, "Observation", patient_id, ("category", "laboratory"), ("_sort", "-date"),
                              count=80)
    encounters = records.of_patient(store, "Encounter", patient_id, ("_sort", "-date"), count=3)
    active_problems, _ = chart.conditions(records.resources(conditions))
    active_medications, _ = chart.medications(records.resources(medications))
    return {
        "problems": active_problems,
        "medications": active_medications,
        "vitals": results.latest_vitals(records.resources(vitals)),
        "labs": results.recent_results(records.resources(labs)),
        "encounters": [chart.encounter_row(r) for r in records.resources(encounters)],
        "encounter_total": encounters.total or 0,
        "apps": apps.cards(store)[:3],
    }


def encounters(store: Store, patient_id: str) -> dict[str, Any]:
    found = records.of_patient(store, "Encounter", patient_id, ("_sort", "-date"), count=ENCOUNTER_PAGE)
    rows = [chart.encounter_row(r) for r in records.resources(found)]
    return {"years": chart.by_year(rows), "shown": len(rows), "total": found.total or 0}


def problems(store: Store, patient_id: str) -> dict[str, Any]:
    active, other = chart.conditions(records.resources(records.of_patient(store, "Condition", patient_id)))
    return {"active": active, "other": other}


def medications(store: Store, patient_id: str) -> dict[str, Any]:
    found = records.of_patient(store, "MedicationRequest", patient_id)
    active, other = chart.medications(records.resources(found))
    return {"active": active, "other": other}


def allergies(store: Store, patient_id: str) -> dict[str, Any]:
    return {}  # the chart already read them for the banner


def vitals(store: Store, patient_id: str) -> dict[str, Any]:
    found = records.of_patient(store, "Observation", patient_id, ("category", "vital-signs"), ("_sort", "-date"),
                               count=VITAL_ROWS)
    columns, rows = results.vitals_table(records.resources(found))
    return {"columns": columns, "rows": rows, "shown": len(found.matches), "total": found.total or 0}


def labs(store: Store, patient_id: str) -> dict[str, Any]:
    reports, observations, count = records.lab_reports(store, patient_id, LAB_REPORTS)
    return {"panels": results.lab_panels(reports, observations), "total": count}


def app_section(store: Store, patient_id: str) -> dict[str, Any]:
    cards = apps.cards(store)
    return {"cards": cards, "backend_count": apps.backend_count(store)}


SECTIONS = (
    Section("summary", "Summary", summary),
    Section("encounters", "Encounters", encounters),
    Section("problems", "Problems", problems),
    Section("medications", "Medications", medications),
    Section("allergies", "Allergies", allergies),
    Section("vitals", "Vitals", vitals),
    Section("labs", "Labs", labs),
    Section("apps", "Apps", app_section),
)
BY_KEY = {s.key: s for s in SECTIONS}


def load(key: str, store: Store, patient_id: str) -> dict[str, Any]:
    return BY_KEY[key].load(store, patient_id)
