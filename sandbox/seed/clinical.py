"""Problems, prescriptions, allergies, procedures and smoking status, as US Core resources."""

from __future__ import annotations

import datetime as dt
import random

from . import codes
from .codes import concept
from .record import Chart, Clinician, Visit, stable_int

CLINICAL = {"active": "Active", "resolved": "Resolved", "inactive": "Inactive"}
CATEGORY_DISPLAY = {"problem-list-item": "Problem List Item", "encounter-diagnosis": "Encounter Diagnosis"}
CATEGORY_PROFILE = {"problem-list-item": "us-core-condition-problems-health-concerns",
                    "encounter-diagnosis": "us-core-condition-encounter-diagnosis"}
MED_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
MED_CATEGORY_DISPLAY = {"community": "Community", "inpatient": "Inpatient", "discharge": "Discharge"}
ASSERTED_DATE = "http://hl7.org/fhir/StructureDefinition/condition-assertedDate"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"


def add_condition(chart: Chart, entry: dict, *, onset: str, recorded: str, category: str = "problem-list-item",
                  visit: Visit | None = None, abatement: str | None = None,
                  recorder: Clinician | None = None) -> dict:
    """A Condition from a conditions.json entry; resolved when it has an abatement date."""
    status = "resolved" if abatement else "active"
    resource = {
        "resourceType": "Condition", "id": chart.new_id(), "meta": codes.profile(CATEGORY_PROFILE[category]),
        "extension": [{"url": ASSERTED_DATE, "valueDateTime": recorded}],  # asserted when it was recorded
        "clinicalStatus": concept(codes.CONDITION_CLINICAL, status, CLINICAL[status]),
        "verificationStatus": concept(codes.CONDITION_VERIFICATION, "confirmed", "Confirmed"),
        "category": codes.category(codes.CONDITION_CATEGORY, category, CATEGORY_DISPLAY[category]),
        "code": codes.condition_code(entry),
        "subject": chart.subject(),
    }
    if visit is not None:
        resource["encounter"] = visit.ref
    resource["onsetDateTime"] = onset
    if abatement:
        resource["abatementDateTime"] = abatement
    resource["recordedDate"] = recorded
    resource["recorder"] = dict((recorder or (visit.clinician if visit else chart.pcp)).ref)
    if not abatement:  # an active problem: later visits for it give it as their reason
        chart.conditions_by_code[entry["snomed"]] = resource
    return chart.add(resource)


def pick_medications(chart: Chart, groups: list[dict], age: int, rng: random.Random | None = None) -> list[str]:
    """Choose products from a conditions.json medication list, skipping any class the patient is allergic to."""
    rng = rng or chart.rng
    table = chart.tables.medications
    chosen: list[str] = []
    for group in groups:
        if age < group.get("min_age", 0) or age > group.get("max_age", 200):
            continue
        if rng.random() >= group["p"]:
            continue
        options = [k for k in group["any_of"] if table[k].get("class") not in chart.excluded_classes]
        if not options:
            options = [k for k in group.get("fallback", []) if table[k].get("class") not in chart.excluded_classes]
        if options:
            key = rng.choice(options)
            if key not in chosen:
                chosen.append(key)
    return chosen


def add_medication(chart: Chart, key: str, *, authored: str, requester: Clinician, visit: Visit | None = None,
                   reason: dict | None = None, status: str = "active", category: str = "community",
                   sig: str | None = None, refills: int | None = None) -> dict:
    """A MedicationRequest (order) for a medications.json product."""
    med = chart.tables.medications[key]
    frequency, period, unit = med["timing"]
    dosage = {
        "sequence": 1,
        "text": sig or med["sig"],
        "timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}},
        "asNeededBoolean": bool(med.get("as_needed", False)),
        "route": concept(codes.SNOMED, *codes.ROUTES[med["route"]]),
    }
    resource = {
        "resourceType": "MedicationRequest", "id": chart.new_id(), "meta": codes.profile("us-core-medicationrequest"),
        "status": status,
        "intent": "order",
        "category": codes.category(MED_CATEGORY, category, MED_CATEGORY_DISPLAY[category]),
        "reportedBoolean": False,  # a first-hand order, not a report of one
        **medication_element(key, med, by_reference=stable_int(chart.key + key + authored) % 4 == 0),
        "subject": chart.subject_with_name(),
    }
    if visit is not None:
        resource["encounter"] = visit.ref
    resource["authoredOn"] = authored
    resource["requester"] = dict(requester.ref)
    if reason is not None:
        resource["reasonReference"] = [{"reference": f"Condition/{reason['id']}",
                                        "display": reason["code"]["text"]}]
    resource["dosageInstruction"] = [dosage]
    if category != "inpatient":
        days = med.get("days")
        resource["dispenseRequest"] = {
            "numberOfRepeatsAllowed": refills if refills is not None else (0 if days else 3),
            "expectedSupplyDuration": codes.quantity(days or 90, "days", "d"),
        }
        doses = doses_for(med, days or 90)
        if doses:
            resource["dispenseRequest"]["quantity"] = {"value": doses, "unit": "dose"}
    if status == "active" and med["text"] not in chart.active_medications:
        chart.active_medications.append(med["text"])
    return chart.add(resource)


def medication_element(key: str, med: dict, *, by_reference: bool) -> dict:
    """``medicationCodeableConcept``, or for some orders a reference to the practice's Medication resource of the
    same product (US Core reads both forms)."""
    if by_reference:
        return {"medicationReference": {"reference": f"Medication/{medication_id(key)}", "display": med["text"]}}
    return {"medicationCodeableConcept": {"coding": [codes.coding(codes.RXNORM, med["rxnorm"], med["display"])],
                                          "text": med["text"]}}


def medication_id(key: str) -> str:
    return f"medication-{key}"


def doses_for(med: dict, days: int) -> int | None:
    """How many doses a supply of ``days`` holds, for products taken a fixed number of times a day."""
    frequency, period, unit = med["timing"]
    if unit != "d" or med.get("as_needed"):
        return None
    return round(days * frequency / period)


def course_status(chart: Chart, key: str, start: dt.date) -> str:
    """A short course that has run out before the anchor date is completed; long-term use stays active."""
    days = chart.tables.medications[key].get("days")
    if days and start + dt.timedelta(days=days) < chart.anchor:
        return "completed"
    return "active"


def add_allergy(chart: Chart, key: str, *, recorded: str, recorder: Clinician, onset: str | None = None) -> dict:
    table = chart.tables.allergies
    entry = table[key]
    system = codes.RXNORM if entry["system"] == "rxnorm" else codes.SNOMED
    resource = {
        "resourceType": "AllergyIntolerance", "id": chart.new_id(), "meta": codes.profile("us-core-allergyintolerance"),
        "clinicalStatus": concept(ALLERGY_CLINICAL, "active", "Active"),
        "verificationStatus": concept(ALLERGY_VERIFICATION, "confirmed", "Confirmed"),
    }
    if key != "no-known-allergy":
        resource["type"] = entry.get("type", "allergy")
        resource["category"] = [entry["category"]]
        resource["criticality"] = entry["criticality"]
    resource["code"] = concept(system, entry["code"], entry["display"], entry["text"])
    resource["patient"] = chart.subject()
    if onset:
        resource["onsetDateTime"] = onset
    resource["recordedDate"] = recorded
    resource["recorder"] = dict(recorder.ref)
    if key != "no-known-allergy":
        resource["reaction"] = [{
            "manifestation": [concept(codes.SNOMED, table["reactions"][r]["snomed"], table["reactions"][r]["display"],
                                      table["reactions"][r]["text"])],
            "severity": table["reactions"][r]["severity"],
        } for r in entry["reactions"]]
        if entry.get("excludes"):
            chart.excluded_classes.add(entry["excludes"])
        chart.allergy_texts.append(entry["text"])
    return chart.add(resource)


def add_procedure(chart: Chart, key: str, visit: Visit, *, minutes_after_start: int = 10,
                  reason: dict | None = None, clinician: Clinician | None = None,
                  location: dict | None = None) -> dict:
    proc = chart.tables.procedures[key]
    resource = {
        "resourceType": "Procedure", "id": chart.new_id(), "meta": codes.profile("us-core-procedure"),
        "status": "completed",
        "code": concept(codes.SNOMED, proc["snomed"], proc["display"], proc["text"]),
        "subject": chart.subject(),
        "encounter": visit.ref,
        "performedPeriod": {"start": visit.at(minutes_after_start),
                            "end": visit.at(minutes_after_start + proc["minutes"])},
        "performer": [{"actor": dict((clinician or visit.clinician).ref)}],
        "location": location or dict(visit.location),
    }
    if reason is not None:
        resource["reasonReference"] = [{"reference": f"Condition/{reason['id']}", "display": reason["code"]["text"]}]
    return chart.add(resource)


def add_smoking_status(chart: Chart, visit: Visit, status: str) -> dict:
    exams = chart.tables.exams
    value = exams["smoking_values"][status]
    return chart.add({
        "resourceType": "Observation", "id": chart.new_id(), "meta": codes.profile("us-core-smokingstatus"),
        "status": "final",
        "category": codes.category(codes.OBSERVATION_CATEGORY, "social-history", "Social History"),
        "code": codes.loinc(exams["smoking_status"]["loinc"], exams["smoking_status"]["display"]),
        "subject": chart.subject(),
        "encounter": visit.ref,
        "effectiveDateTime": visit.at(3),
        "valueCodeableConcept": concept(codes.SNOMED, value["snomed"], value["display"]),
    })


def add_exam_observation(chart: Chart, visit: Visit, key: str, value, *, category: str = "exam",
                         profile: str = "us-core-simple-observation") -> dict:
    """Prenatal measurements and other findings that are not vital signs (exams.json)."""
    spec = chart.tables.exams[key]
    display = {"exam": "Exam", "social-history": "Social History"}[category]
    resource = {
        "resourceType": "Observation", "id": chart.new_id(), "meta": codes.profile(profile),
        "status": "final",
        "category": codes.category(codes.OBSERVATION_CATEGORY, category, display),
        "code": codes.loinc(spec["loinc"], spec["display"]),
        "subject": chart.subject(),
        "encounter": visit.ref,
        "effectiveDateTime": visit.at(8),
        "performer": [dict(visit.clinician.ref)],
    }
    if isinstance(value, dict):
        resource["valueCodeableConcept"] = value
    else:
        resource["valueQuantity"] = codes.quantity(round(value), spec["unit"], spec["code"])
    return chart.add(resource)
