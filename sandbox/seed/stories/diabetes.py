"""Marcus Johnson: type 2 diabetes with hypertension, HbA1c climbing over six years despite treatment."""

from __future__ import annotations

import datetime as dt

from .. import clinical, notes
from ..codes import Tables
from ..completion import complete_record
from ..immunizations import add_immunization, flu_day, flu_vaccine_key
from ..patients import Person
from ..record import Staff
from ..vitals import init_body, summary
from .common import Story, birth_for, days_before, lab, measure, prescribe, problem, start_chart, visit

PATIENT_ID = "story-diabetes"
# (days before the anchor, kind, HbA1c %, systolic, diastolic, weight kg)
VISITS = [
    (2190, "diagnosis", 6.9, 138, 86, 101.0), (2010, "follow-up", 6.8, 136, 84, 100.2),
    (1830, "annual", 7.0, 140, 88, 101.1), (1640, "follow-up", 7.1, 138, 86, 101.8),
    (1460, "annual", 7.3, 142, 88, 102.3), (1280, "follow-up", 7.2, 144, 90, 102.9),
    (1095, "annual", 7.5, 148, 92, 103.4), (915, "follow-up", 7.7, 134, 84, 103.0),
    (730, "annual", 7.6, 132, 82, 104.1), (550, "endocrinology", 8.0, 136, 84, 104.8),
    (365, "annual", 8.3, 138, 86, 105.2), (180, "follow-up", 8.7, 140, 88, 105.9),
    (75, "follow-up", 9.2, 142, 88, 106.4),
]


def build(anchor: dt.date, staff: Staff, tables: Tables) -> list[dict]:
    person = Person(given=["Marcus", "Anthony"], family="Johnson", sex="male", birth_date=birth_for(anchor, 58, 142),
                    races=["black"], ethnicity="not-hispanic", language="en-US", marital="M",
                    line="48 Wendover Street", city="Boston", postal_code="02124", area_code="617",
                    phone="(617) 555-0142", email="marcus.johnson58@example.com", prefix="Mr.")
    chart = start_chart(PATIENT_ID, anchor, staff, tables, person, mrn="1000001",
                        pcp=staff.first("family-medicine"))
    init_body(chart, height_z=0.6, weight_z=0.0, bmi=33.0, bmi_trend=0.25)
    first = days_before(chart, VISITS[0][0])
    clinical.add_allergy(chart, "no-known-allergy", recorded=f"{first.isoformat()}T09:05:00-05:00",
                         recorder=chart.pcp)
    hypertension = problem(chart, "hypertension", anchor - dt.timedelta(days=9 * 365))
    diabetes = lipids = None
    endocrinologist = staff.first("endocrinology")
    for number, (days, kind, a1c, systolic, diastolic, weight) in enumerate(VISITS):
        day = days_before(chart, days)
        encounter_kind = {"diagnosis": "problem", "annual": "well-adult"}.get(kind, "follow-up")
        at = visit(chart, encounter_kind, day, reason=None if kind == "annual" else "diabetes",
                   clinician=endocrinologist if kind == "endocrinology" else None, hour=9 + number % 6,
                   minutes=40 if kind == "annual" else 25)
        if diabetes is None:
            diabetes = problem(chart, "diabetes", day, at=at)
            lipids = problem(chart, "hyperlipidemia", day, at=at)
        vitals = measure(chart, at, weight=weight, blood_pressure=(systolic, diastolic))
        clinical.add_smoking_status(chart, at, "former")
        glucose = 28.7 * a1c - 46.7 + chart.rng.uniform(-12, 12)
        results = lab(chart, at, "hba1c", hba1c=a1c)
        if kind in ("diagnosis", "annual"):
            results += lab(chart, at, "bmp", glucose=glucose, creatinine=0.98 + number * 0.012)
            results += lab(chart, at, "lipid", ldl=148 if number == 0 else 92 + number, hdl=41, triglycerides=182)
            results += lab(chart, at, "uacr", uacr=12 + number * 3.5)
            clinical.add_procedure(chart, "depression-screening", at, minutes_after_start=12)
            clinical.add_procedure(chart, "eye-examination", at, minutes_after_start=20, reason=diabetes)
        plan = _treat(chart, at, number, a1c, diabetes, lipids, hypertension)
        if number == 10:
            problem(chart, "diabetic-microalbuminuria", day, at=at)
            plan.append("Microalbuminuria on two annual screens: continue lisinopril for renal protection.")
        if number == 4:
            add_immunization(chart, "pcv20" if day.year >= 2022 else "pcv13", day, visit=at, dose=1)
        if number >= len(VISITS) - 3 or number == 0:
            notes.add_note(chart, at, "progress", [
                ("Chief complaint", "New diagnosis of diabetes." if number == 0 else "Diabetes follow-up."),
                ("History of present illness", f"{notes.describe_patient(chart, day)} with hypertension. " + (
                    "Routine labs showed a high glucose; two months of thirst and getting up at night to urinate."
                    if number == 0 else "Reports good adherence to metformin; eats out often for work and walks "
                                        "little since a knee injury.")),
                ("Vital signs", summary(vitals)),
                ("Results", results),
                ("Assessment and plan", plan),
                ("Medications", notes.medication_list(chart)),
                ("Allergies", notes.allergy_line(chart)),
            ])
    for season in range(anchor.year - 6, anchor.year + 1):
        shot_day = flu_day(chart, season)
        if shot_day < anchor:
            add_immunization(chart, flu_vaccine_key(chart, shot_day), shot_day, hour=16)
    return complete_record(chart, family=("spouse", "Denise"))


def _treat(chart, at, number, a1c, diabetes, lipids, hypertension) -> list[str]:
    """Escalation as a clinician would do it: metformin, then a GLP-1 agonist, then insulin."""
    if number == 0:
        prescribe(chart, "metformin-er-500", at, diabetes)
        prescribe(chart, "atorvastatin-20", at, lipids)
        prescribe(chart, "lisinopril-10", at, hypertension)
        return [f"Type 2 diabetes, new: HbA1c {a1c}%. Start metformin ER 1000 mg daily; diabetes education.",
                "Hyperlipidemia: LDL 148 mg/dL. Start atorvastatin 20 mg.",
                "Hypertension: continue lisinopril 10 mg."]
    if number == 6:
        prescribe(chart, "amlodipine-5", at, hypertension)
        return [f"Hypertension above goal (148/92): add amlodipine 5 mg. HbA1c {a1c}%, reinforce diet."]
    if number == 9:
        prescribe(chart, "liraglutide", at, diabetes)
        return [f"Diabetes not at goal, HbA1c {a1c}% on metformin: start liraglutide 1.2 mg daily.",
                "Discussed weight loss and the GLP-1 side effects (nausea)."]
    if number == len(VISITS) - 1:
        prescribe(chart, "insulin-70-30", at, diabetes)
        return [f"Uncontrolled type 2 diabetes, HbA1c {a1c}% and rising despite metformin and liraglutide.",
                "Start premixed insulin 70/30, 14 units twice daily; glucose meter and hypoglycemia teaching.",
                "Recheck HbA1c in 3 months; refer back to endocrinology."]
    trend = "up" if a1c >= 7.5 else "near goal"
    return [f"Type 2 diabetes: HbA1c {a1c}% ({trend}); continue current regimen.",
            "Hypertension: continue lisinopril" + (" and amlodipine." if number > 6 else ".")]


STORY = Story(
    patient_id=PATIENT_ID,
    name="Marcus Johnson",
    summary="58-year-old man with type 2 diabetes and hypertension: HbA1c has climbed from 6.9% to 9.2% over six "
            "years despite metformin and liraglutide; microalbuminuria last year; insulin started at the last visit.",
    build=build,
)
