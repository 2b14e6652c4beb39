"""Sofia Martinez: second pregnancy, 28 weeks on the anchor date, with the usual prenatal visits."""

from __future__ import annotations

import datetime as dt

from .. import clinical, notes
from ..codes import Tables, snomed
from ..completion import complete_record
from ..immunizations import add_immunization, flu_day, flu_vaccine_key
from ..patients import Person
from ..record import Staff
from ..vitals import init_body, summary
from .common import Story, birth_for, days_before, lab, measure, prescribe, problem, start_chart, visit

PATIENT_ID = "story-pregnancy"
GESTATION_TODAY_DAYS = 196  # 28 weeks 0 days on the anchor date
PRENATAL_WEEKS = [8, 12, 16, 20, 24, 27]
PRE_PREGNANCY_KG = 64.0


def build(anchor: dt.date, staff: Staff, tables: Tables) -> list[dict]:
    person = Person(given=["Sofia", "Isabel"], family="Martinez", sex="female", birth_date=birth_for(anchor, 29, 200),
                    races=["white"], ethnicity="hispanic", language="es", marital="M",
                    line="221 Broadway, Apt 5", city="Chelsea", postal_code="02150", area_code="617",
                    phone="(617) 555-0163", email="sofia.martinez29@example.com", prefix="Mrs.")
    chart = start_chart(PATIENT_ID, anchor, staff, tables, person, mrn="1000003",
                        pcp=staff.clinicians["family-medicine"][1])
    init_body(chart, height_z=-0.2, weight_z=0.0, bmi=23.4, bmi_trend=0.0)
    last_period = anchor - dt.timedelta(days=GESTATION_TODAY_DAYS)
    obstetrician = staff.first("obstetrics")

    physical = visit(chart, "well-adult", days_before(chart, 420), hour=10, minutes=40)
    clinical.add_allergy(chart, "penicillin", recorded=physical.start, recorder=physical.clinician)
    measure(chart, physical, weight=PRE_PREGNANCY_KG)
    clinical.add_smoking_status(chart, physical, "never")
    clinical.add_procedure(chart, "depression-screening", physical, minutes_after_start=12)
    clinical.add_procedure(chart, "cervical-cytology", physical, minutes_after_start=20)

    pregnancy = None
    for weeks in PRENATAL_WEEKS:
        day = last_period + dt.timedelta(days=weeks * 7 + 1)
        if day >= anchor:
            continue
        first = pregnancy is None
        at = visit(chart, "prenatal-initial" if first else "prenatal", day, reason="normal-pregnancy",
                   clinician=obstetrician, hour=8 + weeks % 7, minutes=45 if first else 25)
        if first:
            pregnancy = problem(chart, "normal-pregnancy", last_period + dt.timedelta(days=14), at=at)
        weight = PRE_PREGNANCY_KG + (0.1 * weeks if weeks < 13 else 1.3 + 0.45 * (weeks - 13))
        values = measure(chart, at, weight=weight, blood_pressure=(108 + weeks % 5, 68 + weeks % 4))
        clinical.add_exam_observation(chart, at, "pregnancy_status",
                                      snomed(**_pregnant(tables)), category="social-history",
                                      profile="us-core-observation-pregnancystatus")
        clinical.add_exam_observation(chart, at, "gestational_age", weeks)
        results: list[str] = []
        plan = [f"Intrauterine pregnancy at {weeks} weeks, progressing normally."]
        if weeks >= 12:
            clinical.add_exam_observation(chart, at, "fetal_heart_rate", 158 - weeks // 2)
            clinical.add_procedure(chart, "fetal-heart-auscultation", at, minutes_after_start=10, reason=pregnancy)
        if weeks >= 20:
            clinical.add_exam_observation(chart, at, "fundal_height", weeks + (1 if weeks % 2 else 0))
            clinical.add_procedure(chart, "fundal-height-evaluation", at, minutes_after_start=12, reason=pregnancy)
        if first:
            for offset, key in enumerate(("pregnancy-test", "fetal-viability-ultrasound", "blood-typing")):
                clinical.add_procedure(chart, key, at, minutes_after_start=10 + 15 * offset, reason=pregnancy)
            results += lab(chart, at, "cbc", hemoglobin=12.8, mcv=88)
            plan += ["Dating ultrasound consistent with last menstrual period; EDD "
                     f"{(last_period + dt.timedelta(days=280)).isoformat()}.",
                     "Prenatal vitamin with folic acid daily. Penicillin allergy noted for labor planning.",
                     "Nausea is mild; small frequent meals."]
        if weeks == 20:
            clinical.add_procedure(chart, "fetal-anatomy-ultrasound", at, minutes_after_start=20, reason=pregnancy)
            plan.append("Anatomy scan normal, placenta posterior and high.")
        if weeks == 27:
            results += lab(chart, at, "glucose_challenge", glucose_challenge=118)
            results += lab(chart, at, "cbc", hemoglobin=12.1, mcv=86)
            add_immunization(chart, "tdap", day, visit=at, dose=1)
            prescribe(chart, "acetaminophen-500", at, pregnancy,
                      sig="Take 1 to 2 tablets every 8 hours as needed for back pain; avoid ibuprofen in pregnancy")
            plan += ["Glucose challenge normal; Tdap given today.", "Discussed kick counts and preterm labor signs."]
        if first or weeks == PRENATAL_WEEKS[-1]:
            notes.add_note(chart, at, "history-and-physical" if first else "progress", [
                ("Chief complaint", "Initial prenatal visit." if first else f"Routine prenatal visit, {weeks} weeks."),
                ("History", "G2P1, prior uncomplicated vaginal delivery. Spanish-speaking; interpreter used."),
                ("Vital signs", summary(values)),
                ("Results", results),
                ("Assessment and plan", plan),
                ("Allergies", notes.allergy_line(chart)),
            ])
    for season in (anchor.year - 1, anchor.year):
        shot_day = flu_day(chart, season)
        if last_period < shot_day < anchor:
            add_immunization(chart, flu_vaccine_key(chart, shot_day), shot_day, hour=16)
    return complete_record(chart, family=("spouse", "Luis"))


def _pregnant(tables: Tables) -> dict:
    value = tables.exams["pregnant"]
    return {"code": value["snomed"], "display": value["display"]}


STORY = Story(
    patient_id=PATIENT_ID,
    name="Sofia Martinez",
    summary="29-year-old Spanish-speaking woman, 28 weeks into her second pregnancy: prenatal visits with weight, "
            "blood pressure, fetal heart rate and fundal height, anatomy ultrasound, glucose screen and Tdap; "
            "penicillin allergy.",
    build=build,
)
