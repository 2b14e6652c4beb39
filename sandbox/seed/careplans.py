"""Who looks after a patient and toward what: the CareTeam, a Goal per treated problem and the CarePlan that
ties the active problems to their goals (US Core CareTeam, Goal and CarePlan)."""

from __future__ import annotations

import datetime as dt

from ..narrative import render_div
from . import codes
from .codes import concept
from .record import Chart, Clinician, stamp


def active_problems(chart: Chart) -> list[dict]:
    """Problem-list Conditions still active, in the order they were written."""
    return [r for r in chart.resources if r["resourceType"] == "Condition" and "abatementDateTime" not in r
            and r["category"][0]["coding"][0]["code"] == "problem-list-item"]


def condition_key(chart: Chart, condition: dict) -> str | None:
    code = condition["code"]["coding"][0]["code"]
    for key, entry in chart.tables.conditions["chronic"].items():
        if entry["snomed"] == code:
            return key
    return None


def add_care_team(chart: Chart, family: dict | None) -> dict:
    """The primary care clinician, every specialist who has seen the patient, the patient and a caregiver."""
    roles = chart.tables.records["care_team_roles"]
    seen: dict[str, Clinician] = {}
    for visit in chart.visits:
        if visit.kind not in ("emergency", "inpatient") and visit.clinician.ref != chart.pcp.ref:
            seen.setdefault(visit.clinician.ref["reference"], visit.clinician)
    participants = [{"role": [concept(codes.SNOMED, roles["primary-care"]["snomed"],
                                      roles["primary-care"]["display"])], "member": dict(chart.pcp.ref)}]
    for clinician in seen.values():
        participants.append({"role": [_specialty_role(chart, clinician)], "member": dict(clinician.ref)})
    participants.append({"role": [concept(codes.SNOMED, roles["patient"]["snomed"], roles["patient"]["display"])],
                         "member": chart.subject_with_name()})
    if family is not None:
        participants.append({"role": [concept(codes.SNOMED, roles["caregiver"]["snomed"],
                                              roles["caregiver"]["display"])],
                             "member": {"reference": f"RelatedPerson/{family['id']}",
                                        "display": family_display(family)}})
    start = chart.visits[0].day if chart.visits else chart.anchor
    return chart.add({
        "resourceType": "CareTeam", "id": chart.us_core_id(), "meta": codes.profile("us-core-careteam"),
        "status": "active",
        "name": f"Care team of {chart.name}",
        "subject": chart.subject_with_name(),
        "period": {"start": start.isoformat()},
        "participant": participants,
        "managingOrganization": [chart.organization()],
    })


def _specialty_role(chart: Chart, clinician: Clinician) -> dict:
    """A specialist's role is their NUCC specialty, as the practice's PractitionerRoles give it."""
    for specialty in chart.tables.staff["specialties"]:
        if specialty["display"] == clinician.specialty:
            return concept(codes.NUCC, specialty["nucc"], specialty["display"])
    raise KeyError(clinician.specialty)


def family_display(resource: dict) -> str:
    name = resource["name"][0]
    return f"{name['given'][0]} {name['family']}"


def add_goals(chart: Chart) -> list[tuple[dict, dict]]:
    """A Goal for each active problem that has one in records.json: (goal, the condition it addresses)."""
    goals = chart.tables.records["goals"]
    made = []
    for condition in active_problems(chart):
        key = condition_key(chart, condition)
        if key not in goals:
            continue
        spec = goals[key]
        start = dt.date.fromisoformat(condition["recordedDate"][:10])
        target: dict = {}
        if "lab" in spec:
            analyte = chart.tables.labs["analytes"][spec["lab"]]
            target["measure"] = codes.loinc(analyte["loinc"], analyte["display"], analyte["short"])
            target["detailQuantity"] = {"comparator": spec["comparator"],
                                        **codes.quantity(spec["value"], analyte["unit"], analyte["code"])}
        elif "vital" in spec:
            vital = chart.tables.vitals[spec["vital"]]
            target["measure"] = codes.loinc(vital["loinc"], vital["display"])
            if "detail" in spec:
                target["detailString"] = spec["detail"]
        target["dueDate"] = _due(chart, start, spec["months"]).isoformat()
        goal = chart.add({
            "resourceType": "Goal", "id": chart.us_core_id(), "meta": codes.profile("us-core-goal"),
            "lifecycleStatus": "active",
            "description": {"text": spec["text"]},
            "subject": chart.subject_with_name(),
            "startDate": start.isoformat(),
            "target": [target],
            "expressedBy": dict(chart.pcp.ref),
            "addresses": [{"reference": f"Condition/{condition['id']}", "display": condition["code"]["text"]}],
        })
        made.append((goal, condition))
    return made


def _due(chart: Chart, start: dt.date, months: int) -> dt.date:
    """The next review date after the start that is still ahead of the anchor: goals are reviewed, not missed."""
    due = start + dt.timedelta(days=round(months * 30.4))
    while due <= chart.anchor:
        due += dt.timedelta(days=round(months * 30.4))
    return due


def add_care_plan(chart: Chart, goals: list[tuple[dict, dict]], care_team: dict) -> dict | None:
    """The assessment and plan for the active problems; its narrative lists each problem with its goal."""
    problems = active_problems(chart)
    if not problems:
        return None
    goal_of = {condition["id"]: goal for goal, condition in goals}
    plan_lines = [(condition["code"]["text"], goal_of[condition["id"]]["description"]["text"]
                   if condition["id"] in goal_of else "Monitor at routine visits") for condition in problems]
    category = chart.tables.records["careplan_category"]
    last = chart.visits[-1] if chart.visits else None
    plan = {
        "resourceType": "CarePlan", "id": chart.us_core_id(), "meta": codes.profile("us-core-careplan"),
        "text": {"status": "generated", "div": render_div("CarePlan", plan_lines)},
        "status": "active",
        "intent": "plan",
        "category": [concept(category["system"], category["code"], category["display"])],
        "title": "Chronic care plan",
        "subject": chart.subject_with_name(),
        "period": {"start": min(c["recordedDate"] for c in problems)[:10]},
        "created": last.end if last else stamp(chart.anchor, 8),
        "author": dict(chart.pcp.ref),
        "careTeam": [{"reference": f"CareTeam/{care_team['id']}"}],
        "addresses": [{"reference": f"Condition/{c['id']}", "display": c["code"]["text"]} for c in problems],
    }
    if goals:
        plan["goal"] = [{"reference": f"Goal/{goal['id']}"} for goal, _ in goals]
    return chart.add(plan)
