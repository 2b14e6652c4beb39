"""Acute illness and injury: an office, urgent-care or emergency visit, and sometimes a hospital stay."""

from __future__ import annotations

import datetime as dt

from . import clinical, labs, notes, vitals
from .encounters import open_visit, reason_concept
from .immunizations import add_immunization
from .planning import PlannedVisit
from .record import Chart, Visit, stamp
from .visitlog import History, VisitLog, note_sections, sub_visit

ADULT_RANGES_FROM_AGE = 12  # labs.json holds adult reference ranges; younger children get no panels here
KIND_FOR_SETTING = {"problem": "problem", "urgent": "urgent", "emergency": "emergency", "inpatient": "emergency"}


def episode_condition(chart: Chart, entry: dict, visit: Visit, onset_day: dt.date) -> dict:
    """Encounter diagnosis, resolved once the usual course has run out before the anchor date."""
    ends = onset_day + dt.timedelta(days=entry["days"])
    abatement = stamp(ends, 12) if ends < chart.anchor else None
    return clinical.add_condition(chart, entry, onset=stamp(onset_day, 8), recorded=visit.start, visit=visit,
                                  category="encounter-diagnosis", abatement=abatement)


def write_acute_episode(chart: Chart, planned: PlannedVisit, history: History) -> Visit:
    rng = chart.rng
    entry = chart.tables.conditions["acute"][planned.acute]
    day = planned.day
    age = chart.age_years(day)
    setting = planned.setting
    kind = KIND_FOR_SETTING[setting]
    if kind == "emergency":
        clinician = chart.staff.pick("emergency", rng)
        hour, minutes = rng.randint(7, 13), rng.randint(150, 240)
    elif kind == "urgent":
        clinician = chart.staff.pick("nurse-practitioner", rng) if age >= 18 else chart.pcp
        hour, minutes = rng.randint(9, 16), 45
    else:
        clinician, hour, minutes = chart.pcp, rng.randint(8, 15), 20
    visit = open_visit(chart, kind, day, hour=hour, minute=rng.choice((0, 10, 20, 30, 40, 50)), minutes=minutes,
                       clinician=clinician, reason=reason_concept(entry))
    log = VisitLog(visit, entry["complaint"][0].upper() + entry["complaint"][1:] + ".")
    onset_day = day - dt.timedelta(days=rng.randint(1, 3))
    condition = episode_condition(chart, entry, visit, onset_day) if setting != "inpatient" else None
    fever = rng.random() < entry["fever"]
    log.vitals = vitals.measure(chart, day, full=kind == "problem", fever=fever,
                                acute_effects=entry.get("vital_effects"))
    vitals.add_vitals(chart, visit, log.vitals)
    if kind == "emergency" and age >= ADULT_RANGES_FROM_AGE:
        for panel in entry.get("labs", []):
            given = {k: rng.uniform(*r) for k, r in entry.get("lab_effects", {}).items()}
            _, values = labs.add_panel(chart, visit, panel, given)
            log.results.append(labs.summary(chart, values))
    for offset, key in enumerate(entry.get("procedures", [])):
        clinical.add_procedure(chart, key, visit, minutes_after_start=15 + 10 * offset, reason=condition)
    if setting != "inpatient":
        for key in clinical.pick_medications(chart, entry.get("medications", []), age):
            clinical.add_medication(chart, key, authored=visit.at(minutes - 5), requester=clinician, visit=visit,
                                    reason=condition, status=clinical.course_status(chart, key, day))
            log.medications.append(chart.tables.medications[key]["text"])
    for key in entry.get("vaccines", []):
        if history.due(key, day, 5 * 365) and age >= 7:
            add_immunization(chart, key, day, visit=visit, clinician=clinician)
            history.last[key] = day
    plan = "admitted to the medical service" if setting == "inpatient" else "supportive care and return precautions"
    log.assessment.append(f"{entry['text']}: {plan}.")
    history.logs.append(log)
    if setting == "inpatient":
        write_stay(chart, entry, visit, log, history)
    return visit


def write_stay(chart: Chart, entry: dict, ed_visit: Visit, ed_log: VisitLog, history: History) -> Visit:
    """Admission from the emergency department, daily rounds, discharge home with a summary."""
    rng = chart.rng
    length = rng.randint(2, 4)
    admit_day, hour, minute = ed_visit.end_day, int(ed_visit.end[11:13]), int(ed_visit.end[14:16])
    discharge_day = admit_day + dt.timedelta(days=length)
    hospitalist = chart.staff.pick("hospitalist", rng)
    stay = open_visit(chart, "inpatient", admit_day, hour=hour, minute=minute, end_day=discharge_day, end_hour=11,
                      end_minute=30, clinician=hospitalist, reason=reason_concept(entry))
    condition = episode_condition(chart, entry, stay, admit_day - dt.timedelta(days=rng.randint(1, 3)))
    for key in entry.get("inpatient_medications", []):
        clinical.add_medication(chart, key, authored=stay.at(45), requester=hospitalist, visit=stay,
                                reason=condition, status="completed", category="inpatient")
    procedures_day = sub_visit(stay, admit_day + dt.timedelta(days=1), 8)
    for offset, key in enumerate(entry.get("inpatient_procedures", [])):
        clinical.add_procedure(chart, key, procedures_day, minutes_after_start=30 + 90 * offset, reason=condition)
    results = []
    for day_number in range(1, length + 1):
        morning = sub_visit(stay, admit_day + dt.timedelta(days=day_number), 7)
        improving = {"spo2": (94, 98), "heart_rate": (74, 92)} if day_number > 1 else entry.get("vital_effects")
        vitals.add_vitals(chart, morning, vitals.measure(chart, morning.day, full=False, fever=False,
                                                         acute_effects=improving))
        if day_number == 1 and chart.age_years(stay.day) >= ADULT_RANGES_FROM_AGE:
            _, values = labs.add_panel(chart, sub_visit(stay, morning.day, 5, 30), "cbc",
                                       {"wbc": rng.uniform(9.0, 11.5)})
            results.append(labs.summary(chart, values))
    discharge = sub_visit(stay, discharge_day, 9, 30)
    clinical.add_procedure(chart, "medication-reconciliation", discharge, minutes_after_start=0, reason=condition)
    clinical.add_procedure(chart, "patient-discharge", discharge, minutes_after_start=60, reason=condition)
    new_meds = []
    for key in entry.get("discharge_medications", []):
        clinical.add_medication(chart, key, authored=discharge.at(30), requester=hospitalist, visit=stay,
                                reason=condition, status=clinical.course_status(chart, key, discharge_day),
                                category="discharge")
        new_meds.append(chart.tables.medications[key]["text"])
    notes.add_note(chart, ed_visit, "emergency", note_sections(chart, ed_log))
    ed_log.noted = True
    admission = VisitLog(stay, ed_log.complaint, vitals=ed_log.vitals, results=ed_log.results,
                         assessment=[f"{entry['text']}: admit; IV therapy and monitoring."])
    notes.add_note(chart, stay, "history-and-physical", note_sections(chart, admission), written=stay.at(90))
    notes.add_note(chart, stay, "discharge-summary", [
        ("Admission date", stay.day.isoformat()),
        ("Discharge date", discharge_day.isoformat()),
        ("Principal diagnosis", entry["text"]),
        ("Hospital course", f"{notes.describe_patient(chart, stay.day)} admitted from the emergency department "
                            f"with {entry['complaint']}. Treated and improved over {length} days."),
        ("Results", ed_log.results + results),
        ("Discharge medications", new_meds + notes.medication_list(chart)),
        ("Disposition", "Home. Follow up with primary care in 1 to 2 weeks."),
    ], written=stay.end)
    return stay
