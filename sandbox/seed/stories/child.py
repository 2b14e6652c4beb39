"""Lily Nguyen: five years of well-child care from birth, every routine vaccine, growth charts, a peanut allergy."""

from __future__ import annotations

import datetime as dt

from .. import clinical, notes
from ..acute import episode_condition
from ..codes import Tables
from ..completion import complete_record
from ..immunizations import add_immunization, doses_for_visit, due_date, flu_day, flu_vaccine_key
from ..patients import Person
from ..record import Staff, weekday_on_or_after
from ..vitals import init_body, summary
from .common import Story, birth_for, measure, prescribe, problem, start_chart, visit

PATIENT_ID = "story-child"
WELL_VISITS = [0, 1, 2, 4, 6, 9, 12, 15, 18, 24, 30, 36, 48, 60]
GUIDANCE = {
    0: "Newborn: feeding every 2 to 3 hours, back to sleep, car seat rear-facing.",
    6: "Starting solids; dental care with first teeth.",
    12: "Whole milk, childproofing, reading together daily.",
    24: "Toilet training readiness, 2 to 3 word phrases on track.",
    48: "Preschool going well; counts to 10; vision and hearing screened.",
    60: "Kindergarten readiness; booster seat; swimming safety.",
}


def build(anchor: dt.date, staff: Staff, tables: Tables) -> list[dict]:
    person = Person(given=["Lily", "Mai"], family="Nguyen", sex="female", birth_date=birth_for(anchor, 5, 61),
                    races=["asian"], ethnicity="not-hispanic", language="en-US", marital=None,
                    line="12 Linden Street, Apt 3", city="Quincy", postal_code="02169", area_code="617",
                    phone="(617) 555-0117", email=None, parent_given="Hoa")
    chart = start_chart(PATIENT_ID, anchor, staff, tables, person, mrn="1000002",
                        pcp=staff.first("pediatrics"), clinic="pediatrics")
    init_body(chart, height_z=0.5, weight_z=0.3)
    birth = person.birth_date
    given: set[tuple[str, int]] = set()
    eczema = None
    for months in WELL_VISITS:
        day = weekday_on_or_after(due_date(birth, months) + dt.timedelta(days=3))
        if day >= anchor:
            continue
        at = visit(chart, "well-child", day, hour=9 + months % 5, minutes=30)
        values = measure(chart, at)
        assessment = [GUIDANCE.get(months, "Growing and developing normally; anticipatory guidance given.")]
        if months == 6:
            eczema = problem(chart, "atopic-dermatitis", day - dt.timedelta(days=20), at=at)
            prescribe(chart, "hydrocortisone-cream", at, eczema)
            assessment.append("Eczema on cheeks and elbows: emollients, hydrocortisone 1% for flares.")
        if months == 15:
            onset = day - dt.timedelta(days=45)
            clinical.add_allergy(chart, "peanut", recorded=at.start, recorder=at.clinician,
                                 onset=f"{onset.isoformat()}T12:30:00-05:00")
            prescribe(chart, "epinephrine-0.15", at, None)
            assessment.append("Peanut allergy: hives and vomiting after peanut butter at 13 months. "
                              "Strict avoidance, epinephrine auto-injector 0.15 mg, allergy action plan.")
        if months in (48, 60):
            clinical.add_procedure(chart, "hearing-examination", at, minutes_after_start=15)
        for key, number in doses_for_visit(chart, months, given, birth):
            add_immunization(chart, key, day, visit=at, dose=number)
            given.add((key, number))
        if months in (36, 60):
            notes.add_note(chart, at, "progress", [
                ("Chief complaint", "Well child check."),
                ("History of present illness", f"{notes.describe_patient(chart, day)} here with her mother. "
                                               "No concerns; eats a varied diet without peanuts."),
                ("Vital signs", summary(values)),
                ("Assessment and plan", assessment),
                ("Immunizations", "Up to date for age on the routine childhood schedule."),
                ("Allergies", notes.allergy_line(chart)),
            ])
    _ear_infection(chart, birth)
    for season in range(birth.year, anchor.year + 1):
        shot_day = flu_day(chart, season)
        if shot_day < anchor and chart.age_months(shot_day) >= 6:
            add_immunization(chart, flu_vaccine_key(chart, shot_day), shot_day, hour=15)
            second = shot_day + dt.timedelta(days=28)
            if chart.age_months(shot_day) < 12 and second < anchor:
                add_immunization(chart, flu_vaccine_key(chart, second), second, hour=15, dose=2)
    return complete_record(chart, family=("parent-female", "Hoa"))


def _ear_infection(chart, birth: dt.date) -> None:
    """An office visit for acute otitis media at 14 months, treated with amoxicillin-clavulanate."""
    entry = chart.tables.conditions["acute"]["otitis-media"]
    day = weekday_on_or_after(birth + dt.timedelta(days=426))
    if day >= chart.anchor:
        return
    at = visit(chart, "problem", day, reason="otitis-media", hour=11, minutes=20)
    condition = episode_condition(chart, entry, at, day - dt.timedelta(days=2))
    measure(chart, at, full=False, temperature=38.6)
    prescribe(chart, "amoxicillin-clavulanate-suspension", at, condition,
              status=clinical.course_status(chart, "amoxicillin-clavulanate-suspension", day))


STORY = Story(
    patient_id=PATIENT_ID,
    name="Lily Nguyen",
    summary="5-year-old girl followed since birth: 14 well-child visits with growth charts (length, weight, head "
            "circumference, percentiles), every routine childhood vaccine, eczema and a peanut allergy.",
    build=build,
)
