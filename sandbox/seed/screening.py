"""Screening questionnaires answered at visits (US Core QuestionnaireResponse) and their scores as US Core
screening-assessment Observations: the PHQ-9 at every depression screening, the Hunger Vital Sign (food
insecurity, a social-determinants screen) at some adult check-ups. Items and answers are the LOINC codes of
the Questionnaires published with US Core (seed_data/us_core/questionnaires.json). Sexual orientation, asked at
some adult check-ups, is recorded here too."""

from __future__ import annotations

from . import codes
from .codes import Tables, concept
from .record import Chart, Visit

QUESTIONNAIRE_URI = codes.US_CORE + "us-core-extension-questionnaire-uri"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
QUESTIONNAIRE_IDS = {"phq-9": "questionnaire-phq-9", "hunger-vital-sign": "questionnaire-hunger-vital-sign"}
DEPRESSION_SCREEN = "454711000124102"  # procedures.json "depression-screening"
SDOH_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"


def questionnaire_resources(tables: Tables) -> list[dict]:
    """The published Questionnaires, stored under local ids so their canonical URL resolves here too."""
    return [{**tables.questionnaires[key], "id": local_id} for key, local_id in QUESTIONNAIRE_IDS.items()]


def add_screenings(chart: Chart) -> None:
    visits = {visit.encounter["id"]: visit for visit in chart.visits}
    screened = [r for r in chart.resources if r["resourceType"] == "Procedure"
                and r["code"]["coding"][0]["code"] == DEPRESSION_SCREEN]
    depressed = chart.tables.conditions["chronic"]["depression"]["snomed"] in chart.conditions_by_code
    for procedure in screened:
        visit = visits[procedure["encounter"]["reference"].removeprefix("Encounter/")]
        add_phq9(chart, visit, depressed)
    checkups = [v for v in chart.visits if v.kind == "well-adult"]
    if checkups and (chart.key.startswith("story-") or chart.us_core_rng.random() < 0.5):
        add_hunger_vital_sign(chart, checkups[-1])


def add_phq9(chart: Chart, visit: Visit, depressed: bool) -> tuple[dict, dict]:
    questionnaire = chart.tables.questionnaires["phq-9"]
    rng = chart.us_core_rng
    items, total = [], 0
    for item in questionnaire["item"]:
        if item["type"] != "choice" or item["linkId"] == "/69722-7":
            continue
        weights = (0.35, 0.35, 0.2, 0.1) if depressed else (0.8, 0.15, 0.04, 0.01)
        option = rng.choices(item["answerOption"], weights=weights)[0]
        total += int(_ordinal(option))
        items.append(_answered(item, option["valueCoding"]))
    total_item = _item(questionnaire, "/44261-6")
    items.append({"linkId": total_item["linkId"], "text": total_item["text"], "answer": [{"valueDecimal": total}]})
    if total:
        difficulty = _item(questionnaire, "/69722-7")
        option = difficulty["answerOption"][min(3, total // 7)]
        items.append(_answered(difficulty, option["valueCoding"]))
    response = _response(chart, visit, "phq-9", items, minutes=6)
    score = _score(chart, visit, response, total_item["code"][0], {"valueQuantity": {
        "value": total, "unit": "{score}", "system": codes.UCUM, "code": "{score}"}}, sdoh=None)
    return response, score


def add_hunger_vital_sign(chart: Chart, visit: Visit) -> tuple[dict, dict]:
    questionnaire = chart.tables.questionnaires["hunger-vital-sign"]
    rng = chart.us_core_rng
    at_risk_household = rng.random() < 0.12
    items, at_risk = [], False
    for item in questionnaire["item"][:2]:
        options = item["answerOption"]  # often, sometimes, never, don't know
        option = rng.choices(options, weights=(0.3, 0.6, 0.1, 0) if at_risk_household else (0, 0.05, 0.93, 0.02))[0]
        at_risk = at_risk or option["valueCoding"]["code"] in (options[0]["valueCoding"]["code"],
                                                             options[1]["valueCoding"]["code"])
        items.append(_answered(item, option["valueCoding"]))
    risk_item = questionnaire["item"][2]
    risk = risk_item["answerOption"][0 if at_risk else 1]["valueCoding"]
    items.append(_answered(risk_item, risk))
    response = _response(chart, visit, "hunger-vital-sign", items, minutes=4)
    score = _score(chart, visit, response, risk_item["code"][0], {"valueCodeableConcept": {
        "coding": [dict(risk)], "text": risk["display"]}}, sdoh=("sdoh", "SDOH"))
    return response, score


def _ordinal(option: dict) -> float:
    return next(e["valueDecimal"] for e in option.get("extension", []) if e["url"] == ORDINAL)


def _item(questionnaire: dict, link_id: str) -> dict:
    return next(item for item in questionnaire["item"] if item["linkId"] == link_id)


def _answered(item: dict, value: dict) -> dict:
    return {"linkId": item["linkId"], "text": item["text"], "answer": [{"valueCoding": dict(value)}]}


def _response(chart: Chart, visit: Visit, key: str, items: list[dict], minutes: int) -> dict:
    return chart.add({
        "resourceType": "QuestionnaireResponse", "id": chart.us_core_id(),
        "meta": codes.profile("us-core-questionnaireresponse"),
        "questionnaire": chart.tables.questionnaires[key]["url"],
        "_questionnaire": {"extension": [{"url": QUESTIONNAIRE_URI,
                                          "valueUri": chart.tables.questionnaires[key]["url"]}]},
        "status": "completed",
        "subject": chart.subject_with_name(),
        "encounter": visit.ref,
        "authored": visit.at(minutes),
        "author": chart.subject_with_name(),
        "source": chart.subject(),
        "item": items,
    })


def _score(chart: Chart, visit: Visit, response: dict, code: dict, value: dict, sdoh) -> dict:
    category = codes.category(codes.OBSERVATION_CATEGORY, "survey", "Survey")
    if sdoh:
        category.append(concept(SDOH_CATEGORY, *sdoh))
    return chart.add({
        "resourceType": "Observation", "id": chart.us_core_id(),
        "meta": codes.profile("us-core-observation-screening-assessment"),
        "status": "final",
        "category": category,
        "code": {"coding": [dict(code)], "text": code["display"]},
        "subject": chart.subject(),
        "encounter": visit.ref,
        "effectiveDateTime": response["authored"],
        "performer": [chart.subject_with_name()],
        **value,
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{response['id']}"}],
    })


def add_sexual_orientation(chart: Chart) -> dict | None:
    """Sexual orientation as the patient stated it at their latest adult check-up, when they were asked."""
    spec = chart.tables.records["sexual_orientation"]
    checkups = [v for v in chart.visits if v.kind == "well-adult"]
    rng = chart.us_core_rng
    if not checkups or not (chart.key.startswith("story-") or rng.random() < spec["asked_rate"]):
        return None
    answer = rng.choices(spec["answers"], weights=[a["weight"] for a in spec["answers"]])[0]
    visit = checkups[-1]
    return chart.add({
        "resourceType": "Observation", "id": chart.us_core_id(),
        "meta": codes.profile("us-core-observation-sexual-orientation"),
        "status": "final",
        "category": codes.category(codes.OBSERVATION_CATEGORY, "social-history", "Social History"),
        "code": codes.loinc(spec["loinc"], spec["display"]),
        "subject": chart.subject(),
        "encounter": visit.ref,
        "effectiveDateTime": visit.at(4),
        "valueCodeableConcept": concept(answer["system"], answer["code"], answer["display"]),
    })
