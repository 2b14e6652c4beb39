"""Eleanor Whitfield: 84, many chronic conditions and nine daily medicines, warfarin monitoring, a fall."""

from __future__ import annotations

import datetime as dt

from .. import clinical, notes
from ..acute import episode_condition
from ..codes import Tables
from ..completion import complete_record
from ..immunizations import add_immunization, flu_day, flu_vaccine_key
from ..patients import Person
from ..record import Staff
from ..vitals import init_body, summary
from .common import Story, birth_for, days_before, lab, measure, prescribe, problem, start_chart, visit

PATIENT_ID = "story-elderly"
# Problems, years since onset, and what she takes for each.
PROBLEMS = [
    ("hypertension", 30, ["lisinopril-10"]),
    ("hyperlipidemia", 22, ["atorvastatin-20"]),
    ("hypothyroidism", 18, ["levothyroxine-25"]),
    ("gerd", 15, ["omeprazole-20"]),
    ("osteoporosis", 9, ["alendronate-10"]),
    ("atrial-fibrillation", 7, ["warfarin-5", "metoprolol-er-100"]),
    ("heart-failure", 4, ["furosemide-40"]),
    ("ckd3", 4, []),
    ("knee-osteoarthritis", 12, ["acetaminophen-500"]),
]
# Quarterly visits: days before the anchor, INR, creatinine, potassium.
VISITS = [(1000, 2.4, 1.32, 4.3), (910, 2.8, 1.35, 4.5), (820, 3.6, 1.38, 4.6), (800, 2.6, 1.36, 4.4),
          (730, 2.2, 1.41, 4.7), (640, 2.5, 1.40, 4.4), (550, 1.7, 1.44, 4.8), (460, 2.3, 1.45, 4.6),
          (365, 2.6, 1.48, 4.9), (275, 2.9, 1.46, 4.5), (185, 2.4, 1.52, 4.7), (95, 2.7, 1.55, 5.0),
          (30, 2.5, 1.53, 4.8)]
FALL_DAYS_BEFORE = 410


def build(anchor: dt.date, staff: Staff, tables: Tables) -> list[dict]:
    person = Person(given=["Eleanor", "Ruth"], family="Whitfield", sex="female", birth_date=birth_for(anchor, 84, 75),
                    races=["white"], ethnicity="not-hispanic", language="en-US", marital="W",
                    line="9 Maple Terrace", city="Milton", postal_code="02186", area_code="617",
                    phone="(617) 555-0184", email="eleanor.whitfield@example.com", prefix="Mrs.")
    chart = start_chart(PATIENT_ID, anchor, staff, tables, person, mrn="1000004",
                        pcp=staff.first("internal-medicine"))
    chart.vital_effects.update({"systolic": (128, 136), "diastolic": (68, 76), "heart_rate": (64, 82),
                                "spo2": (93, 97)})
    init_body(chart, height_z=-0.6, weight_z=0.0, bmi=24.5, bmi_trend=-0.3)
    first = days_before(chart, VISITS[0][0])
    clinical.add_allergy(chart, "sulfamethoxazole-trimethoprim", recorded=f"{first.isoformat()}T08:45:00-05:00",
                         recorder=chart.pcp)
    conditions = {key: problem(chart, key, anchor - dt.timedelta(days=365 * years)) for key, years, _ in PROBLEMS}
    cardiologist = staff.first("cardiology")
    for number, (days, inr, creatinine, potassium) in enumerate(VISITS):
        day = days_before(chart, days)
        yearly = number % 4 == 0
        cardiology = number % 4 == 2
        at = visit(chart, "well-adult" if yearly else "follow-up", day,
                   reason=None if yearly else ("atrial-fibrillation" if cardiology else "heart-failure"),
                   clinician=cardiologist if cardiology else None, hour=10 + number % 4, minutes=40)
        values = measure(chart, at)
        results = lab(chart, at, "inr", inr=inr)
        results += lab(chart, at, "bmp", creatinine=creatinine, potassium=potassium, glucose=chart.rng.uniform(88, 112))
        plan = []
        if number == 0:
            for key, _, medicines in PROBLEMS:
                for medicine in medicines:
                    prescribe(chart, medicine, at, conditions[key])
            plan.append("Medication list reconciled: nine scheduled medicines; pill organizer filled weekly by "
                        "her daughter.")
        if yearly:
            results += lab(chart, at, "tsh", tsh=chart.rng.uniform(1.8, 3.6))
            results += lab(chart, at, "lipid", ldl=84, hdl=58, triglycerides=128)
            results += lab(chart, at, "cbc", hemoglobin=12.3, mcv=91)
            clinical.add_procedure(chart, "depression-screening", at, minutes_after_start=10)
        if cardiology:
            clinical.add_procedure(chart, "electrocardiogram", at, minutes_after_start=8,
                                   reason=conditions["atrial-fibrillation"])
            if number == 2:
                clinical.add_procedure(chart, "echocardiography", at, minutes_after_start=30,
                                       reason=conditions["heart-failure"])
        clinical.add_procedure(chart, "medication-reconciliation", at, minutes_after_start=20)
        if inr > 3.0:
            plan.append(f"INR {inr} above range after a course of antibiotics: hold one dose of warfarin, "
                        "recheck in two to three weeks.")
        elif inr < 2.0:
            plan.append(f"INR {inr} below range (missed doses): resume warfarin 5 mg daily, recheck in one week.")
        else:
            plan.append(f"Atrial fibrillation, rate controlled; INR {inr} in range on warfarin.")
        plan.append(f"CKD stage 3, creatinine {creatinine} mg/dL, potassium {potassium}: stable; avoid NSAIDs.")
        if number >= len(VISITS) - 2:
            notes.add_note(chart, at, "progress", [
                ("Chief complaint", "Chronic disease follow-up."),
                ("History of present illness",
                 f"{notes.describe_patient(chart, day)} with atrial fibrillation, heart failure, CKD stage 3, "
                 "hypothyroidism and osteoporosis. Lives alone, uses a cane since her wrist fracture; mild ankle "
                 "swelling in the evenings, no orthopnea."),
                ("Vital signs", summary(values)),
                ("Results", results),
                ("Assessment and plan", plan),
                ("Medications", notes.medication_list(chart)),
                ("Allergies", notes.allergy_line(chart)),
            ])
    _fall(chart, staff)
    for season in range(anchor.year - 3, anchor.year + 1):
        shot_day = flu_day(chart, season)
        if shot_day < anchor and shot_day > first:
            add_immunization(chart, flu_vaccine_key(chart, shot_day), shot_day, hour=11)
    return complete_record(chart, family=("daughter", "Margaret"), implant_years_ago=6)


def _fall(chart, staff) -> None:
    """A fall at home with a wrist fracture, seen in the emergency department."""
    entry = chart.tables.conditions["acute"]["forearm-fracture"]
    day = chart.anchor - dt.timedelta(days=FALL_DAYS_BEFORE)
    at = visit(chart, "emergency", day, reason="forearm-fracture", clinician=staff.first("emergency"), hour=8,
               minutes=210)
    condition = episode_condition(chart, entry, at, day)
    values = measure(chart, at, full=False)
    results = lab(chart, at, "inr", inr=2.7)
    clinical.add_procedure(chart, "bone-immobilization", at, minutes_after_start=90, reason=condition)
    notes.add_note(chart, at, "emergency", [
        ("Chief complaint", "Fall at home, right wrist pain."),
        ("History of present illness", "Tripped on a rug getting up at night; no head strike, no loss of "
                                       "consciousness. On warfarin."),
        ("Vital signs", summary(values)),
        ("Results", results),
        ("Assessment and plan", ["Closed distal forearm fracture: splinted, orthopedics follow-up in one week.",
                                 "Fall risk with polypharmacy and nocturia: home safety evaluation ordered.",
                                 "Acetaminophen for pain; no NSAIDs (warfarin, CKD)."]),
    ])
    add_immunization(chart, "td", day, visit=at, clinician=at.clinician)


STORY = Story(
    patient_id=PATIENT_ID,
    name="Eleanor Whitfield",
    summary="84-year-old widow with atrial fibrillation on warfarin, heart failure, CKD stage 3, hypothyroidism and "
            "osteoporosis: nine daily medicines, INR checks every visit, sulfa allergy and a fall with a wrist "
            "fracture last year.",
    build=build,
)
