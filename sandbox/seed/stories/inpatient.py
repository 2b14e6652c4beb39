"""Walter Kowalski: COPD, admitted through the emergency department for pneumonia, home two days ago."""

from __future__ import annotations

import datetime as dt

from .. import clinical, notes
from ..acute import episode_condition
from ..codes import Tables
from ..completion import complete_record
from ..encounters import open_visit, reason_concept
from ..immunizations import add_immunization, flu_day, flu_vaccine_key
from ..patients import Person
from ..record import Staff
from ..visitlog import sub_visit
from ..vitals import init_body, summary
from .common import Story, birth_for, days_before, lab, measure, prescribe, problem, start_chart, visit

PATIENT_ID = "story-inpatient"
ADMITTED_DAYS_BEFORE = 6
LENGTH_OF_STAY = 4
# Hospital days after admission: (temperature, heart rate, respiratory rate, SpO2, blood pressure)
ROUNDS = [(38.3, 104, 24, 91, (136, 80)), (37.6, 96, 20, 93, (132, 78)), (37.1, 86, 18, 95, (128, 76)),
          (36.9, 80, 17, 96, (126, 76))]


def build(anchor: dt.date, staff: Staff, tables: Tables) -> list[dict]:
    person = Person(given=["Walter", "Joseph"], family="Kowalski", sex="male", birth_date=birth_for(anchor, 71, 30),
                    races=["white"], ethnicity="not-hispanic", language="en-US", marital="M",
                    line="37 Shirley Avenue", city="Revere", postal_code="02151", area_code="781",
                    phone="(781) 555-0171", email="walt.kowalski@example.com", prefix="Mr.")
    chart = start_chart(PATIENT_ID, anchor, staff, tables, person, mrn="1000005",
                        pcp=staff.clinicians["internal-medicine"][1])
    chart.vital_effects.update({"spo2": (93, 96), "systolic": (130, 138), "diastolic": (76, 82)})
    init_body(chart, height_z=0.3, weight_z=0.0, bmi=26.0, bmi_trend=-0.2)
    clinical.add_allergy(chart, "no-known-allergy", recorded=f"{days_before(chart, 1090).isoformat()}T09:00:00-05:00",
                         recorder=chart.pcp)
    copd = problem(chart, "copd", anchor - dt.timedelta(days=8 * 365))
    hypertension = problem(chart, "hypertension", anchor - dt.timedelta(days=12 * 365))
    lipids = problem(chart, "hyperlipidemia", anchor - dt.timedelta(days=10 * 365))
    pulmonologist = staff.first("pulmonology")
    for number, days in enumerate((1090, 900, 725, 540, 360, 180)):
        annual = number % 2 == 0
        at = visit(chart, "well-adult" if annual else "follow-up", days_before(chart, days),
                   reason=None if annual else "copd", clinician=pulmonologist if number == 3 else None,
                   hour=9 + number, minutes=40 if annual else 25)
        measure(chart, at)
        clinical.add_smoking_status(chart, at, "former")
        if number == 0:
            for key, reason in (("albuterol-inhaler", copd), ("fluticasone-salmeterol", copd),
                                ("lisinopril-10", hypertension), ("atorvastatin-20", lipids)):
                prescribe(chart, key, at, reason)
        if annual:
            lab(chart, at, "bmp")
            lab(chart, at, "lipid", ldl=96, hdl=44, triglycerides=150)
            clinical.add_procedure(chart, "depression-screening", at, minutes_after_start=10)
        if number == 3:
            clinical.add_procedure(chart, "spirometry", at, minutes_after_start=10, reason=copd)
        if number == 2 and at.day.year >= 2022:
            add_immunization(chart, "pcv20", at.day, visit=at, dose=1)
    for season in range(anchor.year - 4, anchor.year + 1):
        shot_day = flu_day(chart, season)
        if shot_day < anchor - dt.timedelta(days=240):  # missed this season's shot
            add_immunization(chart, flu_vaccine_key(chart, shot_day), shot_day, hour=15)
    _pneumonia_admission(chart, staff, copd)
    return complete_record(chart, family=("son", "Daniel"))


def _pneumonia_admission(chart, staff, copd) -> None:
    entry = chart.tables.conditions["acute"]["pneumonia"]
    arrival = chart.anchor - dt.timedelta(days=ADMITTED_DAYS_BEFORE)
    emergency = visit(chart, "emergency", arrival, reason="pneumonia", clinician=staff.first("emergency"), hour=10,
                      minute=40, minutes=210)
    triage = measure(chart, emergency, full=False, temperature=38.9, heart_rate=112, respiratory_rate=26, spo2=89,
                     blood_pressure=(142, 84))
    results = lab(chart, emergency, "cbc", wbc=16.8, hemoglobin=14.1, mcv=90)
    results += lab(chart, emergency, "bmp", glucose=148, bun=24, creatinine=1.08)
    clinical.add_procedure(chart, "chest-xray", emergency, minutes_after_start=40)
    clinical.add_procedure(chart, "nebulizer-therapy", emergency, minutes_after_start=55, reason=copd)
    hospitalist = staff.first("hospitalist")
    discharge_day = arrival + dt.timedelta(days=LENGTH_OF_STAY)
    stay = open_visit(chart, "inpatient", arrival, hour=14, minute=10, end_day=discharge_day, end_hour=11,
                      end_minute=30, clinician=hospitalist, reason=reason_concept(entry))
    pneumonia = episode_condition(chart, entry, stay, arrival - dt.timedelta(days=3))
    for key, sig in (("ceftriaxone-1g", None), ("azithromycin-250", "500 mg by mouth daily for 3 days"),
                     ("heparin-5000", None), ("prednisone-20", "40 mg by mouth daily for COPD exacerbation")):
        clinical.add_medication(chart, key, authored=stay.at(40), requester=hospitalist, visit=stay,
                                reason=pneumonia, status="completed", category="inpatient", sig=sig)
    clinical.add_procedure(chart, "oxygen-therapy", stay, minutes_after_start=20, reason=pneumonia)
    for day_number, (temperature, heart_rate, breaths, spo2, pressure) in enumerate(ROUNDS, start=1):
        morning = sub_visit(stay, arrival + dt.timedelta(days=day_number), 7)
        measure(chart, morning, full=False, temperature=temperature, heart_rate=heart_rate, respiratory_rate=breaths,
                spo2=spo2, blood_pressure=pressure)
        if day_number in (1, 3):
            draw = sub_visit(stay, morning.day, 5, 30)
            results += lab(chart, draw, "cbc", wbc=14.2 if day_number == 1 else 10.1, hemoglobin=13.6, mcv=90)
            if day_number == 1:
                results += lab(chart, draw, "bmp", glucose=162, bun=22, creatinine=1.02)
        if day_number == 2:
            notes.add_note(chart, sub_visit(stay, morning.day, 9), "progress", [
                ("Subjective", "Breathing easier, cough productive of less sputum, afebrile overnight."),
                ("Vital signs", f"Temp {temperature} C, HR {heart_rate}/min, RR {breaths}/min, SpO2 {spo2}% on "
                                "2 L nasal cannula"),
                ("Assessment and plan", ["Community-acquired pneumonia with COPD exacerbation, improving: "
                                         "continue ceftriaxone and azithromycin, prednisone 40 mg.",
                                         "Wean oxygen to room air; ambulate with physical therapy."]),
            ], written=sub_visit(stay, morning.day, 9).at(45))
    discharge = sub_visit(stay, discharge_day, 9, 30)
    clinical.add_procedure(chart, "medication-reconciliation", discharge, minutes_after_start=0, reason=pneumonia)
    clinical.add_procedure(chart, "patient-discharge", discharge, minutes_after_start=60, reason=pneumonia)
    for key, sig in (("cefuroxime-250", None),
                     ("prednisone-20", "Take 2 tablets (40 mg) by mouth daily for 2 more days, then stop")):
        clinical.add_medication(chart, key, authored=discharge.at(30), requester=hospitalist, visit=stay,
                                reason=pneumonia, status=clinical.course_status(chart, key, discharge_day),
                                category="discharge", sig=sig)
    ed_plan = ["Community-acquired pneumonia, right lower lobe, CURB-65 score 2, hypoxic: admit to medicine.",
               "Ceftriaxone and azithromycin started; nebulized albuterol given."]
    notes.add_note(chart, emergency, "emergency", [
        ("Chief complaint", "Fever, productive cough and shortness of breath for three days."),
        ("Vital signs", summary(triage)),
        ("Results", results[:2] + ["Chest X-ray: right lower lobe consolidation."]),
        ("Assessment and plan", ed_plan),
    ])
    notes.add_note(chart, stay, "history-and-physical", [
        ("Chief complaint", "Shortness of breath and fever."),
        ("History of present illness",
         f"{notes.describe_patient(chart, arrival)} with COPD (former smoker, 45 pack-years), hypertension and "
         "hyperlipidemia, three days of fever, rigors and yellow sputum; missed this season's flu vaccine."),
        ("Vital signs", summary(triage)),
        ("Results", results[:2]),
        ("Assessment and plan", ed_plan + ["DVT prophylaxis with heparin; home inhalers continued."]),
        ("Medications", notes.medication_list(chart)),
        ("Allergies", notes.allergy_line(chart)),
    ], written=stay.at(90))
    notes.add_note(chart, stay, "discharge-summary", [
        ("Admission date", arrival.isoformat()),
        ("Discharge date", discharge_day.isoformat()),
        ("Principal diagnosis", "Community-acquired pneumonia"),
        ("Secondary diagnoses", ["COPD with acute exacerbation", "Hypertension", "Hyperlipidemia"]),
        ("Hospital course", "Treated with IV ceftriaxone and oral azithromycin, prednisone and nebulizers. "
                            "Fever resolved on day 2; weaned to room air on day 3; WBC 16.8 to 10.1."),
        ("Results", results),
        ("Discharge medications", ["Cefuroxime 500 mg twice daily for 5 days",
                                   "Prednisone 40 mg daily for 2 more days"] + notes.medication_list(chart)),
        ("Disposition", "Home with his wife. PCP follow-up within 7 days; influenza vaccine at that visit."),
    ], written=stay.end)


STORY = Story(
    patient_id=PATIENT_ID,
    name="Walter Kowalski",
    summary="71-year-old man with COPD admitted through the emergency department six days ago for community-acquired "
            "pneumonia and discharged home two days ago: daily vitals and labs, IV antibiotics, H&P, progress note "
            "and discharge summary.",
    build=build,
)
