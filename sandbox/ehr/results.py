"""Observations turned into chart rows: values with units, abnormal flags as text (UI-GUIDE §6), the vitals
table and the lab panels.

Flags follow HL7 v3 ObservationInterpretation: H/L are abnormal, HH/LL/AA critical, A abnormal without a
direction. With no interpretation the flag is worked out from the reference range and marked "(calculated)".
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import formatting as fmt
from .chart import concept

LABS_TABLE = Path(__file__).resolve().parents[2] / "seed_data" / "labs.json"


@dataclass(frozen=True)
class Flag:
    level: str  # "abnormal" | "critical"
    glyph: str  # shown, aria-hidden
    label: str  # shown after the glyph
    words: str  # for screen readers
    calculated: bool = False


FLAGS = {
    "H": Flag("abnormal", "▲", "H", "High"), "HU": Flag("abnormal", "▲", "H", "High"),
    "L": Flag("abnormal", "▼", "L", "Low"), "LU": Flag("abnormal", "▼", "L", "Low"),
    "A": Flag("abnormal", "●", "Abnormal", "Abnormal"),
    "HH": Flag("critical", "▲▲", "Critical high", "Critical high"),
    "LL": Flag("critical", "▼▼", "Critical low", "Critical low"),
    "AA": Flag("critical", "●●", "Critical", "Critical abnormal"),
}

# Vital signs in the order a flowsheet shows them: key, label, LOINC codes.
VITALS = (
    ("bp", "Blood pressure", ("85354-9", "55284-4")),
    ("hr", "Heart rate", ("8867-4",)),
    ("rr", "Respiratory rate", ("9279-1",)),
    ("temp", "Temperature", ("8310-5", "8331-1")),
    ("spo2", "SpO₂", ("59408-5", "2708-6")),
    ("weight", "Weight", ("29463-7", "3141-9")),
    ("height", "Height", ("8302-2", "8306-3")),
    ("bmi", "BMI", ("39156-5",)),
    ("head", "Head circumference", ("9843-4", "8287-5")),
)
_VITAL_OF_CODE = {code: key for key, _, codes in VITALS for code in codes}
_VITAL_LABEL = {key: label for key, label, _ in VITALS}
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"


def codes_of(resource: dict) -> list[str]:
    return [c.get("code") for c in (resource.get("code") or {}).get("coding") or [] if c.get("code")]


def effective(resource: dict) -> str:
    return (resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")
            or resource.get("effectiveInstant") or resource.get("issued") or "")


@functools.cache
def short_names() -> dict[str, str]:
    """LOINC code → the short name clinicians use (``Hemoglobin A1c``, ``LDL``), from seed_data/labs.json."""
    try:
        table = json.loads(LABS_TABLE.read_text())
    except (OSError, ValueError):
        return {}
    names = {}
    for group in ("analytes", "panels"):
        for item in table.get(group, {}).values():
            if isinstance(item, dict) and item.get("loinc"):
                names[item["loinc"]] = item.get("short") or item.get("text") or item.get("display")
    return names


def test_name(resource: dict) -> str:
    names = short_names()
    return next((names[c] for c in codes_of(resource) if c in names), None) or concept(resource.get("code"))


# -- values and flags -------------------------------------------------------------------------------------


def _component(resource: dict, code: str) -> dict | None:
    for component in resource.get("component") or []:
        if code in codes_of(component):
            return component.get("valueQuantity")
    return None


def value_of(resource: dict) -> tuple[str, str]:
    """(value, unit) as text: ``("142/88", "mmHg")``, ``("6.9", "%")``, ``("Former smoker", "")``."""
    systolic, diastolic = _component(resource, SYSTOLIC), _component(resource, DIASTOLIC)
    if systolic or diastolic:
        top = fmt.number((systolic or {}).get("value")) or "–"
        bottom = fmt.number((diastolic or {}).get("value")) or "–"
        return f"{top}/{bottom}", fmt.unit(systolic or diastolic)
    quantity = resource.get("valueQuantity")
    if quantity and quantity.get("value") is not None:
        return (quantity.get("comparator") or "") + fmt.number(quantity["value"]), fmt.unit(quantity)
    if resource.get("valueCodeableConcept"):
        return concept(resource["valueCodeableConcept"]), ""
    for key in ("valueString", "valueInteger", "valueBoolean"):
        if key in resource:
            return str(resource[key]), ""
    if resource.get("dataAbsentReason"):
        return f"No result ({concept(resource['dataAbsentReason'])})", ""
    return "No value", ""


def reference_range(resource: dict) -> str:
    ranges = resource.get("referenceRange") or []
    if not ranges:
        return "Not given"
    first = ranges[0]
    if first.get("text"):
        return first["text"]
    low, high = first.get("low"), first.get("high")
    unit = fmt.unit(low or high)
    if low and high:
        text = f"{fmt.number(low.get('value'))}–{fmt.number(high.get('value'))}"
    elif low:
        text = f"≥ {fmt.number(low.get('value'))}"
    elif high:
        text = f"≤ {fmt.number(high.get('value'))}"
    else:
        return "Not given"
    return f"{text} {unit}".strip()


def flag_of(resource: dict) -> Flag | None:
    """The abnormal flag of a result, or None when normal or unknown."""
    for interpretation in resource.get("interpretation") or []:
        for coding in interpretation.get("coding") or []:
            if coding.get("code") in FLAGS:
                return FLAGS[coding["code"]]
            if coding.get("code") in ("N", "NEG", "WR"):
                return None
    if resource.get("interpretation"):
        return None
    value = (resource.get("valueQuantity") or {}).get("value")
    ranges = resource.get("referenceRange") or []
    if not isinstance(value, (int, float)) or not ranges:
        return None
    low, high = (ranges[0].get("low") or {}).get("value"), (ranges[0].get("high") or {}).get("value")
    if high is not None and value > high:
        return Flag("abnormal", "▲", "H", "High", calculated=True)
    if low is not None and value < low:
        return Flag("abnormal", "▼", "L", "Low", calculated=True)
    return None


def result_row(resource: dict) -> dict[str, Any]:
    value, unit = value_of(resource)
    return {
        "id": resource.get("id"),
        "name": test_name(resource),
        "value": value,
        "unit": unit,
        "numeric": "valueQuantity" in resource,
        "flag": flag_of(resource),
        "range": reference_range(resource),
        "collected": fmt.date_time(effective(resource)),
        "date": fmt.date(effective(resource)),
        "code": next(iter(codes_of(resource)), resource.get("id")),
    }


def recent_results(resources: list[dict], limit: int = 6) -> list[dict]:
    """The latest result of each test (``resources`` newest first), abnormal ones first."""
    latest: dict[str, dict] = {}
    for resource in resources:
        code = next(iter(codes_of(resource)), resource.get("id"))
        if code not in latest:
            latest[code] = result_row(resource)
    rows = list(latest.values())
    rows.sort(key=lambda r: {"critical": 0, "abnormal": 1}.get(r["flag"].level if r["flag"] else "", 2))
    return rows[:limit]


# -- vital signs ----------------------------------------------------------------------------------------------


def vital_key(resource: dict) -> str:
    codes = codes_of(resource)
    known = next((_VITAL_OF_CODE[c] for c in codes if c in _VITAL_OF_CODE), None)
    if known:
        return known
    return codes[0] if codes else resource.get("id", "")


def vitals_table(resources: list[dict]) -> tuple[list[dict], list[dict]]:
    """(columns, rows): one row per time of measurement (newest first), one column per measure present.

    Each column is ``{"key", "label", "unit"}``; each row ``{"when", "cells": {key: value}}``.
    """
    columns: dict[str, dict] = {}
    rows: dict[str, dict] = {}
    for resource in resources:
        if "72166-2" in codes_of(resource):  # smoking status is not a vital sign
            continue
        key = vital_key(resource)
        value, unit = value_of(resource)
        column = columns.setdefault(key, {"key": key, "label": _VITAL_LABEL.get(key) or concept(resource.get("code")),
                                          "unit": unit})
        column["unit"] = column["unit"] or unit
        when = effective(resource)
        row = rows.setdefault(when, {"when": fmt.date_time(when), "sort": when, "cells": {}})
        row["cells"].setdefault(key, value)
    order = {key: n for n, (key, _, _) in enumerate(VITALS)}
    ordered = sorted(columns.values(), key=lambda c: (order.get(c["key"], len(order)), c["label"]))
    return ordered, sorted(rows.values(), key=lambda r: r["sort"], reverse=True)


def latest_vitals(resources: list[dict]) -> list[dict]:
    """The latest value of each vital sign (``resources`` newest first), in flowsheet order."""
    latest: dict[str, dict] = {}
    for resource in resources:
        key = vital_key(resource)
        if key in _VITAL_LABEL and key not in latest:
            value, unit = value_of(resource)
            latest[key] = {"key": key, "label": _VITAL_LABEL[key], "value": value, "unit": unit,
                           "date": fmt.date(effective(resource)), "flag": flag_of(resource)}
    return [latest[key] for key, _, _ in VITALS if key in latest]


# -- lab panels -------------------------------------------------------------------------------------------------


def lab_panels(reports: list[dict], observations: dict[str, dict]) -> list[dict]:
    """One block per DiagnosticReport (newest first) with its results; ``observations`` by id."""
    panels = []
    for report in reports:
        rows = []
        for reference in report.get("result") or []:
            _, _, rid = (reference.get("reference") or "").rpartition("/")
            if rid in observations:
                rows.append(result_row(observations[rid]))
        panels.append({
            "id": report.get("id"),
            "name": test_name(report),
            "date": fmt.date_time(effective(report)),
            "status": fmt.title_case(report.get("status")),
            "abnormal": sum(1 for r in rows if r["flag"]),
            "rows": rows,
            "missing": len(report.get("result") or []) - len(rows),
            "conclusion": report.get("conclusion") or "",
        })
    return panels
