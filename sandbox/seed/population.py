"""Random patients: demographics, a plan, then each planned visit written out in date order."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from . import clinical, labs, notes, vitals
from .acute import write_acute_episode
from .codes import Tables
from .completion import complete_record
from .encounters import open_visit, reason_concept
from .immunizations import add_history_before, add_immunization, available, doses_for_visit, flu_vaccine_key
from .patients import faker_for, make_person, patient_resource, primary_care_for
from .planning import HISTORY_YEARS, Plan, PlannedVisit, choose_allergies, choose_problems, choose_smoking, plan_visits
from .record import ID_NAMESPACE, Chart, Staff, Visit, stable_int, stamp
from .visitlog import History, VisitLog, note_sections

NOTE_VISITS = 2


def mrn_for(seed: int, index: int) -> str:
    """Unique within a seed: an affine map of the index onto 2,000,000-8,999,999 (stories use 1,000,00x)."""
    return str(2_000_000 + (index * 7919 + seed * 104_729) % 7_000_000)


def build_random_patient(seed: int, index: int, anchor: dt.date, staff: Staff, tables: Tables) -> list[dict]:
    key = f"seed-{seed}/patient-{index}"
    rng = random.Random(stable_int(key))
    person = make_person(rng, faker_for(stable_int(key + "/names")), anchor, tables)
    chart = Chart(key=key, patient_id=str(uuid.uuid5(ID_NAMESPACE, key + "/patient")), rng=rng, anchor=anchor,
                  staff=staff, tables=tables, sex=person.sex, birth_date=person.birth_date,
                  name=person.display_name, mrn=mrn_for(seed, index), pcp=primary_care_for(person, anchor, staff, rng),
                  clinic="pediatrics" if (anchor - person.birth_date).days < 18 * 365 else "primary-care")
    chart.add(patient_resource(chart, person))
    age = chart.age_years(anchor)
    bmi = max(18.0, min(46.0, rng.gauss(27.5, 5.0)))
    smoking = choose_smoking(chart, age)
    plan = Plan(window_start=max(person.birth_date, anchor - dt.timedelta(days=365 * HISTORY_YEARS)), bmi=bmi,
                smoking=smoking)
    plan.problems = choose_problems(chart, age, bmi, smoking)
    for problem in plan.problems.values():
        chart.lab_effects.update(problem.entry.get("lab_effects", {}))
        chart.vital_effects.update(problem.entry.get("vital_effects", {}))
        chart.excluded_classes.update(problem.entry.get("avoid", []))
    vitals.init_body(chart, bmi=bmi)
    plan.allergies = choose_allergies(chart, age)
    plan.visits = plan_visits(chart, plan)
    history = History()
    write_history(chart, plan)
    for planned in plan.visits:
        write_visit(chart, plan, planned, history)
    write_notes(chart, history)
    return complete_record(chart)


def write_history(chart: Chart, plan: Plan) -> None:
    """What the chart already knew before its first visit: allergies, old problems, registry immunizations."""
    reviewed = plan.window_start + dt.timedelta(days=1)
    known = min(max(reviewed, chart.birth_date + dt.timedelta(days=365)),  # reactions show up after infancy
                chart.anchor - dt.timedelta(days=1))
    for key in plan.allergies:
        clinical.add_allergy(chart, key, recorded=stamp(known, 8, 30), recorder=chart.pcp)
    if plan.needs_epinephrine(chart.tables):
        key = "epinephrine-0.15" if chart.age_years(known) < 8 else "epinephrine-0.3"
        clinical.add_medication(chart, key, authored=stamp(known, 8, 40), requester=chart.pcp)
    if not plan.allergies and chart.rng.random() < 0.7:
        clinical.add_allergy(chart, "no-known-allergy", recorded=stamp(reviewed, 8, 30), recorder=chart.pcp)
    for problem in plan.problems.values():
        if problem.onset < plan.window_start:
            onset = stamp(problem.onset, 9)
            problem.resource = clinical.add_condition(chart, problem.entry, onset=onset, recorded=onset)
    if chart.age_years(chart.anchor) < 19:
        add_history_before(chart, plan.window_start)


def write_visit(chart: Chart, plan: Plan, planned: PlannedVisit, history: History) -> None:
    if planned.kind == "shot":
        _write_shot(chart, planned)
    elif planned.kind == "acute":
        write_acute_episode(chart, planned, history)
    else:
        _write_checkin(chart, plan, planned, history)


def _write_shot(chart: Chart, planned: PlannedVisit) -> None:
    if planned.vaccine == "flu":
        add_immunization(chart, flu_vaccine_key(chart, planned.day), planned.day, hour=chart.rng.randint(9, 16))
    elif available(chart, planned.vaccine, planned.day):
        add_immunization(chart, planned.vaccine, planned.day, hour=chart.rng.randint(9, 16), dose=planned.dose)


def _write_checkin(chart: Chart, plan: Plan, planned: PlannedVisit, history: History) -> None:
    """Well visits, follow-ups and new-diagnosis visits: full vitals, problems addressed, labs, refills."""
    rng = chart.rng
    day = planned.day
    age = chart.age_years(day)
    active = [p for p in plan.problems.values() if p.onset <= day]
    if planned.kind == "well":
        kind = "well-child" if planned.scheduled_months is not None else "well-adult"
        addressed = active
        complaint = "Well child check." if kind == "well-child" else "Annual physical examination."
        reason = None
    else:
        addressed = [plan.problems[k] for k in planned.problems]
        entries = [p.entry for p in addressed]
        kind = "problem" if planned.kind == "diagnosis" else (
            "asthma-follow-up" if all(e.get("visit_kind") == "asthma-follow-up" for e in entries) else "follow-up")
        verb = "New concern:" if planned.kind == "diagnosis" else "Follow-up of"
        complaint = f"{verb} {', '.join(e['text'].lower() for e in entries)}."
        reason = reason_concept(entries[0])
    clinician = chart.staff.pick(planned.specialist, rng) if planned.specialist else chart.pcp
    visit = open_visit(chart, kind, day, hour=rng.randint(8, 15), minute=rng.choice((0, 15, 30, 45)),
                       minutes=40 if planned.kind == "well" else 25, clinician=clinician, reason=reason)
    log = VisitLog(visit, complaint)
    for problem in addressed:
        if problem.resource is None:
            problem.resource = clinical.add_condition(chart, problem.entry, onset=stamp(problem.onset, 9),
                                                      recorded=visit.start, visit=visit)
    log.vitals = vitals.measure(chart, day)
    vitals.add_vitals(chart, visit, log.vitals)
    if plan.smoking and (kind == "well-adult" or age >= 13):
        clinical.add_smoking_status(chart, visit, plan.smoking)
    _write_labs(chart, visit, kind, age, addressed, history, log)
    _write_checkin_procedures(chart, visit, kind, age, addressed, history, planned)
    log.background = [p.entry["text"].lower() for p in active]
    for problem in addressed:
        started = []
        if not problem.treated:
            problem.treated = True
            for key in clinical.pick_medications(chart, problem.entry.get("medications", []), age):
                clinical.add_medication(chart, key, authored=visit.at(35), requester=visit.clinician, visit=visit,
                                        reason=problem.resource)
                started.append(chart.tables.medications[key]["text"])
            problem.medications.extend(started)
            log.medications.extend(started)
        log.assessment.append(assessment_line(problem, planned.kind == "diagnosis", started, log.vitals))
    if kind == "well-child":
        for key, number in doses_for_visit(chart, planned.scheduled_months, history.given, plan.window_start):
            add_immunization(chart, key, day, visit=visit, dose=number)
            history.given.add((key, number))
    elif kind == "well-adult":
        _adult_boosters(chart, visit, age, history)
    history.logs.append(log)


def assessment_line(problem, new: bool, started: list[str], measured: dict) -> str:
    """One line of the plan, the way it reads in a note: status, then what to do about it."""
    text = problem.entry["text"]
    detail = ""
    if problem.key == "hypertension" and "blood_pressure" in measured:
        detail = " (BP {}/{} today)".format(*measured["blood_pressure"])
    if new:
        plan = f"start {', '.join(started)}" if started else "lifestyle measures first, recheck at next visit"
        return f"{text}, new diagnosis{detail}: {plan}."
    if problem.medications:
        return f"{text}{detail}: stable; continue {', '.join(problem.medications)}."
    return f"{text}{detail}: stable without medication; monitor."


def _write_labs(chart: Chart, visit: Visit, kind: str, age: int, addressed: list, history: History,
                log: VisitLog) -> None:
    day = visit.day
    panels: list[str] = []
    if kind == "well-adult":
        if (age >= 40 or addressed) and history.due("bmp", day, 300):
            panels.append("bmp")
        if age >= 20 and history.due("lipid", day, 4 * 365) and chart.rng.random() < 0.7:
            panels.append("lipid")
        if age >= 50 and history.due("cbc", day, 700) and chart.rng.random() < 0.5:
            panels.append("cbc")
    for problem in addressed:
        for panel, how_often in problem.entry.get("labs", {}).items():
            if how_often == "visit" or history.due(panel, day, 300):
                panels.append(panel)
    for panel in dict.fromkeys(panels):
        _, values = labs.add_panel(chart, visit, panel)
        history.last[panel] = day
        log.results.append(labs.summary(chart, values))


def _write_checkin_procedures(chart: Chart, visit: Visit, kind: str, age: int, addressed: list,
                              history: History, planned: PlannedVisit) -> None:
    day = visit.day
    done: list[str] = []
    if kind == "well-adult" or (kind == "well-child" and age >= 12):
        done.append("depression-screening")
    if kind == "well-child" and planned.scheduled_months in (48, 60, 72, 96, 120):
        done.append("hearing-examination")
    if kind == "well-adult" and chart.is_female:
        if 21 <= age <= 65 and history.due("cervical-cytology", day, 3 * 365) and chart.rng.random() < 0.8:
            done.append("cervical-cytology")
        if 50 <= age <= 74 and history.due("screening-mammography", day, 700) and chart.rng.random() < 0.75:
            done.append("screening-mammography")
    if kind == "well-adult" and age >= 65 and len(chart.active_medications) >= 3:
        done.append("medication-reconciliation")
    for problem in addressed:
        for key in problem.entry.get("yearly_procedures", []):
            if history.due(key, day, 330):
                done.append(key)
        for key in problem.entry.get("once_procedures", []):
            if key not in history.last:
                done.append(key)
    for offset, key in enumerate(dict.fromkeys(done)):
        clinical.add_procedure(chart, key, visit, minutes_after_start=12 + 5 * offset)
        history.last[key] = day


def _adult_boosters(chart: Chart, visit: Visit, age: int, history: History) -> None:
    rng = chart.rng
    day = visit.day
    wanted = []
    if "td" not in history.last and rng.random() < 0.12:
        wanted.append("td")
    if age >= 50 and "zoster" not in history.last and available(chart, "zoster", day) and rng.random() < 0.3:
        wanted.append("zoster")
    if age >= 65 and "pcv20" not in history.last and available(chart, "pcv20", day) and rng.random() < 0.5:
        wanted.append("pcv20")
    for key in wanted:
        add_immunization(chart, key, day, visit=visit, dose=1)
        history.last[key] = day


def write_notes(chart: Chart, history: History) -> None:
    """Progress notes for the latest visits and emergency notes for recent ED visits."""
    recent = [log for log in history.logs if log.visit.kind != "emergency"][-NOTE_VISITS:]
    emergencies = [log for log in history.logs if log.visit.kind == "emergency" and not log.noted
                   and (chart.anchor - log.visit.day).days < 3 * 365][-1:]
    for log in emergencies + recent:
        note_type = "emergency" if log.visit.kind == "emergency" else "progress"
        notes.add_note(chart, log.visit, note_type, note_sections(chart, log))
