"""Laboratory results grouped in DiagnosticReports, with reference ranges and H/L/N flags.

Values come from the analyte's healthy spread unless a condition moves them (``chart.lab_effects``) or a story
dictates them. Derived values are computed, not drawn, so panels add up: eGFR from creatinine (CKD-EPI
2021), total cholesterol from LDL + HDL + TG/5, hematocrit and red cell count from hemoglobin and MCV.
"""

from __future__ import annotations

from . import codes
from .orders import order_lab
from .record import Chart, Visit, add_minutes, stamp
from .vitals import rounded


def reference_range(chart: Chart, analyte: dict) -> tuple[float | None, float | None]:
    sexed = analyte.get(chart.sex)
    if sexed:
        return sexed["low"], sexed["high"]
    return analyte.get("low"), analyte.get("high")


def flag(value: float, low: float | None, high: float | None) -> str:
    if high is not None and value > high:
        return "H"
    if low is not None and value < low:
        return "L"
    return "N"


def draw(chart: Chart, key: str) -> float:
    """A value for one analyte: the condition's range if one applies, else the healthy spread."""
    effect = chart.lab_effects.get(key)
    if effect:
        return chart.rng.uniform(*effect)
    analyte = chart.tables.labs["analytes"][key]
    if "typical" in analyte:
        return chart.rng.uniform(*analyte["typical"])
    low, high = reference_range(chart, analyte)
    return chart.rng.gauss((low + high) / 2, (high - low) / 4.2)


def egfr_ckd_epi_2021(creatinine: float, age: int, female: bool) -> float:
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine / kappa
    value = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.2 * 0.9938 ** age
    return value * 1.012 if female else value


def panel_values(chart: Chart, panel_key: str, day, given: dict | None = None) -> dict[str, float]:
    """Values for every analyte of a panel, honoring ``given`` and computing derived analytes."""
    given = given or {}
    wanted = chart.tables.labs["panels"][panel_key]["analytes"]
    values: dict[str, float] = {}
    for key in wanted:
        if key in given:
            values[key] = given[key]
        elif key in ("egfr", "cholesterol", "hematocrit", "rbc"):
            continue
        else:
            values[key] = draw(chart, key)
    if "egfr" in wanted and "egfr" not in values:
        values["egfr"] = min(120.0, egfr_ckd_epi_2021(values["creatinine"], chart.age_years(day), chart.is_female))
    if "cholesterol" in wanted and "cholesterol" not in values:
        values["cholesterol"] = values["ldl"] + values["hdl"] + values["triglycerides"] / 5
    if "hematocrit" in wanted and "hematocrit" not in values:
        values["hematocrit"] = values["hemoglobin"] * 3 + chart.rng.gauss(0, 0.8)
    if "rbc" in wanted and "rbc" not in values:
        values["rbc"] = values["hematocrit"] * 10 / values["mcv"]
    return {key: values[key] for key in wanted}


def add_panel(chart: Chart, visit: Visit, panel_key: str, given: dict | None = None, *,
              minutes_after_start: int = 20, performer: dict | None = None) -> tuple[dict, dict[str, float]]:
    """Observations for each analyte and the DiagnosticReport that lists them; returns (report, values)."""
    labs = chart.tables.labs
    panel = labs["panels"][panel_key]
    values = panel_values(chart, panel_key, visit.day, given)
    collected = visit.at(minutes_after_start)
    issued_day, hour, minute = add_minutes(visit.day, visit.hour, visit.minute, minutes_after_start + 150)
    if (issued_day, hour) > (visit.day, 18):
        issued_day, hour, minute = visit.day, 18, 45
    issued = stamp(issued_day, hour, minute)
    request, specimen = order_lab(chart, visit, panel_key, minutes_after_start)
    based_on = [{"reference": f"ServiceRequest/{request['id']}"}]
    drawn = {"reference": f"Specimen/{specimen['id']}", "display": specimen["type"]["text"]}
    results = []
    for key, raw in values.items():
        analyte = labs["analytes"][key]
        value = rounded(raw, analyte["decimals"])
        low, high = reference_range(chart, analyte)
        reference: dict = {}
        if low is not None:
            reference["low"] = codes.quantity(low, analyte["unit"], analyte["code"])
        if high is not None:
            reference["high"] = codes.quantity(high, analyte["unit"], analyte["code"])
        obs = chart.add({
            "resourceType": "Observation", "id": chart.new_id(), "meta": codes.profile("us-core-observation-lab"),
            "basedOn": list(based_on),
            "status": "final",
            "category": codes.category(codes.OBSERVATION_CATEGORY, "laboratory", "Laboratory"),
            "code": {"coding": [codes.coding(codes.LOINC, analyte["loinc"], analyte["display"])],
                     "text": analyte["display"]},
            "subject": chart.subject(),
            "encounter": visit.ref,
            "effectiveDateTime": collected,
            "issued": issued,
            "valueQuantity": codes.quantity(value, analyte["unit"], analyte["code"]),
            "interpretation": codes.interpretation(flag(value, low, high)),
            "specimen": dict(drawn),
            "referenceRange": [reference],
        })
        results.append({"reference": f"Observation/{obs['id']}"})
    report = chart.add({
        "resourceType": "DiagnosticReport", "id": chart.new_id(),
        "meta": codes.profile("us-core-diagnosticreport-lab"),
        "basedOn": list(based_on),
        "status": "final",
        "category": codes.category(codes.DIAGNOSTIC_SERVICE, "LAB", "Laboratory"),
        "code": codes.loinc(panel["loinc"], panel["display"], panel["text"]),
        "subject": chart.subject(),
        "encounter": visit.ref,
        "effectiveDateTime": collected,
        "issued": issued,
        "performer": [performer or chart.organization()],
        "specimen": [dict(drawn)],
        "result": results,
    })
    return report, {key: rounded(v, labs["analytes"][key]["decimals"]) for key, v in values.items()}


def summary(chart: Chart, values: dict[str, float]) -> str:
    """Results as a note line, e.g. ``Hemoglobin A1c 8.1 % (H)``."""
    analytes = chart.tables.labs["analytes"]
    parts = []
    for key, value in values.items():
        analyte = analytes[key]
        low, high = reference_range(chart, analyte)
        mark = flag(value, low, high)
        parts.append(f"{analyte['short']} {value} {analyte['unit']}" + ("" if mark == "N" else f" ({mark})"))
    return "; ".join(parts)
