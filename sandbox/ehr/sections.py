"""The chart's sections: what each one reads and hands to its template (templates/ehr/sections/<key>.html).

Each loader takes the store and the patient id and returns the template values; the banner's data (allergies,
encounter in context) is already in the page around it. Summary is the default section; Apps is last (UI-GUIDE §1).
A section may also read named query parameters (the note on screen, the lab trend open), so that state has a real
URL; ``load`` hands them over, keeping the loaders plain functions of their arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request

from ..patients import record_of
from ..store import Store
from . import apps, chart, charts, history, records, results

ENCOUNTER_PAGE = 100
LAB_REPORTS = 40
VITAL_ROWS = 400
NOTE_ROWS = 100
HISTORY_ROWS = 250  # immunizations and procedures: imported histories run to hundreds of rows


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    load: Callable[..., dict[str, Any]]
    options: tuple[str, ...] = ()  # query parameters passed to ``load`` as keyword arguments


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
    vital_resources = records.resources(vitals)
    latest = results.latest_vitals(vital_resources)
    sparks = charts.vital_sparklines(vital_resources)
    for row in latest:
        row["spark"] = sparks.get(row["key"])
    return {
        "problems": active_problems,
        "medications": active_medications,
        "vitals": latest,
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
    resources = records.resources(found)
    columns, rows = results.vitals_table(resources)
    birth_date = (records.patient(store, patient_id) or {}).get("birthDate")
    return {"columns": columns, "rows": rows, "shown": len(found.matches), "total": found.total or 0,
            "panels": charts.vitals_chart(resources, birth_date)}


def lab_trend(store: Store, patient_id: str, observation_id: str) -> dict | None:
    """One result's trend (the Trend control of a lab row), or None for an unknown or non-numeric result."""
    observation = record_of(store, "Observation", patient_id, observation_id)
    if observation is None:
        return None
    return charts.lab_trend(observation, records.same_test(store, patient_id, observation))


def labs(store: Store, patient_id: str, trend: str = "") -> dict[str, Any]:
    """The lab panels; ``trend`` names a result whose trend is shown open (the Trend control's own URL)."""
    reports, observations, count = records.lab_reports(store, patient_id, LAB_REPORTS)
    open_trend = lab_trend(store, patient_id, trend) if trend else None
    return {"panels": results.lab_panels(reports, observations), "total": count, "open_trend": open_trend,
            "context_apps": apps.for_context(store, "DiagnosticReport")}


def immunizations(store: Store, patient_id: str) -> dict[str, Any]:
    found = records.of_patient(store, "Immunization", patient_id, ("_sort", "-date"), count=HISTORY_ROWS)
    rows = [history.immunization_row(r) for r in records.resources(found)]
    return {"rows": rows, "total": found.total or 0}


def procedures(store: Store, patient_id: str) -> dict[str, Any]:
    found = records.of_patient(store, "Procedure", patient_id, ("_sort", "-date"), count=HISTORY_ROWS)
    rows = [history.procedure_row(r) for r in records.resources(found)]
    return {"rows": rows, "total": found.total or 0}


def notes(store: Store, patient_id: str, note: str = "") -> dict[str, Any]:
    """The note list (newest first) and the note in the reading pane: ``note`` if it is this patient's, else the
    newest. Only the note on screen is decoded."""
    resources, encounter_resources, count = records.notes(store, patient_id, NOTE_ROWS)
    encounters = {rid: chart.encounter_row(r) for rid, r in encounter_resources.items()}
    rows = [history.note_row(r, encounters) for r in resources]
    selected = next((r for r in resources if r.get("id") == note), None) if note else None
    if note and selected is None:
        selected = record_of(store, "DocumentReference", patient_id, note)
        if selected is not None:  # older than the list shows: its encounter was not included
            rows.append(history.note_row(selected, encounters))
    missing = bool(note) and selected is None
    selected = selected or next(iter(resources), None)
    reading = None
    if selected is not None:
        reading = {**history.note_row(selected, encounters), **history.note_text(selected)}
    return {"rows": rows, "reading": reading, "total": count, "missing": missing,
            "context_apps": apps.for_context(store, "DocumentReference")}


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
    Section("labs", "Labs", labs, ("trend",)),
    Section("immunizations", "Immunizations", immunizations),
    Section("procedures", "Procedures", procedures),
    Section("notes", "Notes", notes, ("note",)),
    Section("apps", "Apps", app_section),
)
BY_KEY = {s.key: s for s in SECTIONS}


def load(key: str, store: Store, patient_id: str) -> dict[str, Any]:
    section = BY_KEY[key]
    options = {}
    if has_request_context():
        options = {name: request.args[name][:100] for name in section.options if request.args.get(name)}
    return section.load(store, patient_id, **options)
