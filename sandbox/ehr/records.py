"""What the clinician UI reads, through the same store search functions the FHIR API uses (DESIGN: the UI never
calls the API over HTTP). One indexed search per list, never one query per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..patients import encounter_of, search_criteria
from ..store import Store
from ..store.query import parse_search
from ..store.search import SearchResult, search
from . import chart

PATIENTS_PER_PAGE = 25
MAX_ROWS = 1000


def find(store: Store, rtype: str, params: list[tuple[str, str]], count: int = MAX_ROWS,
         offset: int = 0) -> SearchResult:
    query = parse_search(rtype, [*params, ("_count", str(count)), ("_offset", str(offset))],
                         max_page_size=max(count, MAX_ROWS))
    return search(store, query)


def total(store: Store, rtype: str, params: list[tuple[str, str]]) -> int:
    query = parse_search(rtype, [*params, ("_summary", "count")])
    return search(store, query).total or 0


def resources(result: SearchResult) -> list[dict]:
    return [stored.resource for stored in result.matches]


# -- the patient list ------------------------------------------------------------------------------------------


@dataclass
class PatientPage:
    rows: list[dict]
    total: int
    page: int
    pages: int
    text: str


def find_patients(store: Store, text: str, page: int, today: dt.date) -> PatientPage:
    """One page of patients matching ``text``, sorted by family then given name."""
    criteria = search_criteria(text)
    page = max(page, 1)
    result = find(store, "Patient", [*criteria, ("_sort", "family,given")], PATIENTS_PER_PAGE,
                  (page - 1) * PATIENTS_PER_PAGE)
    patients = resources(result)
    states = allergy_states(store, [p["id"] for p in patients])
    rows = []
    for patient in patients:
        row = chart.patient_header(patient, today)
        row["allergies"] = states.get(patient["id"])
        rows.append(row)
    count = result.total or 0
    return PatientPage(rows, count, page, max(1, -(-count // PATIENTS_PER_PAGE)), text.strip())


def allergy_states(store: Store, patient_ids: list[str]) -> dict[str, dict]:
    """The banner allergy state of several patients, from one search."""
    if not patient_ids:
        return {}
    found = find(store, "AllergyIntolerance", [("patient", ",".join(f"Patient/{p}" for p in patient_ids))])
    rows: dict[str, list[dict]] = {p: [] for p in patient_ids}
    for resource in resources(found):
        owner = (resource.get("patient") or {}).get("reference", "").rpartition("/")[2]
        rows.setdefault(owner, []).append(chart.allergy_row(resource))
    return {p: chart.allergy_state(r) for p, r in rows.items()}


# -- one patient's chart -------------------------------------------------------------------------------------


def patient(store: Store, patient_id: str) -> dict | None:
    stored = store.current("Patient", patient_id)
    return None if stored is None or stored.deleted else stored.resource


def of_patient(store: Store, rtype: str, patient_id: str, *params: tuple[str, str],
               count: int = MAX_ROWS) -> SearchResult:
    return find(store, rtype, [("patient", f"Patient/{patient_id}"), *params], count)


def encounter(store: Store, patient_id: str, encounter_id: str) -> dict | None:
    """The encounter, if it exists and belongs to the patient."""
    return encounter_of(store, patient_id, encounter_id)


def section_counts(store: Store, patient_id: str) -> dict[str, int]:
    """Item counts for the chart nav: one count query per section (allergies are counted from the banner's rows)."""
    mine = [("patient", f"Patient/{patient_id}")]
    return {
        "encounters": total(store, "Encounter", mine),
        "problems": total(store, "Condition", mine),
        "medications": total(store, "MedicationRequest", mine),
        "vitals": total(store, "Observation", [*mine, ("category", "vital-signs")]),
        "labs": total(store, "DiagnosticReport", [*mine, ("category", "LAB")]),
        "immunizations": total(store, "Immunization", mine),
        "procedures": total(store, "Procedure", mine),
        "notes": total(store, "DocumentReference", mine),
    }


def lab_reports(store: Store, patient_id: str, count: int) -> tuple[list[dict], dict[str, dict], int]:
    """(reports newest first, their result Observations by id, how many reports there are in all), from one
    search with ``_include=DiagnosticReport:result``."""
    found = of_patient(store, "DiagnosticReport", patient_id, ("category", "LAB"), ("_sort", "-date"),
                       ("_include", "DiagnosticReport:result"), count=count)
    observations = {s.id: s.resource for s in found.included if s.type == "Observation"}
    return resources(found), observations, found.total or 0


def same_test(store: Store, patient_id: str, observation: dict, count: int = 200) -> list[dict]:
    """The patient's results of the observation's test (its first code), oldest first, up to and including it."""
    code = next((c.get("code") for c in (observation.get("code") or {}).get("coding") or [] if c.get("code")), None)
    if code is None:
        return [observation]
    when = observation.get("effectiveDateTime") or (observation.get("effectivePeriod") or {}).get("start")
    until = [("date", f"le{when}")] if when else []
    found = resources(of_patient(store, "Observation", patient_id, ("code", code), *until, ("_sort", "-date"),
                                 count=count))
    found.reverse()
    mine = next((n for n, r in enumerate(found) if r.get("id") == observation.get("id")), None)
    return found[: mine + 1] if mine is not None else [*found, observation]


def notes(store: Store, patient_id: str, count: int) -> tuple[list[dict], dict[str, dict], int]:
    """(DocumentReferences newest first, their encounters by id, how many there are in all), from one search
    with ``_include=DocumentReference:encounter``."""
    found = of_patient(store, "DocumentReference", patient_id, ("_sort", "-date"),
                       ("_include", "DocumentReference:encounter"), count=count)
    encounters = {s.id: s.resource for s in found.included if s.type == "Encounter"}
    return resources(found), encounters, found.total or 0
