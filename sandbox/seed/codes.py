"""Code tables from ``seed_data/`` and the small helpers that turn them into FHIR codings.

The tables are hand-written JSON with real codes (SNOMED CT, ICD-10-CM, LOINC, RxNorm, CVX, NUCC) so the
generator itself holds no clinical vocabulary, only the rules for using it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"
NUCC = "http://nucc.org/provider-taxonomy"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99999.1"
VISIT_NUMBER_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99999.2"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"

# SNOMED CT routes of administration named in medications.json.
ROUTES = {
    "oral": ("26643006", "Oral route (qualifier value)"),
    "sublingual": ("37839007", "Sublingual route (qualifier value)"),
    "inhaled": ("447694001", "Respiratory tract route (qualifier value)"),
    "subcutaneous": ("34206005", "Subcutaneous route (qualifier value)"),
    "intramuscular": ("78421000", "Intramuscular route (qualifier value)"),
    "intravenous": ("47625008", "Intravenous route (qualifier value)"),
    "topical": ("6064005", "Topical route (qualifier value)"),
}

INTERPRETATIONS = {"H": "High", "L": "Low", "N": "Normal"}

TABLE_NAMES = (
    "conditions", "medications", "labs", "vitals", "exams", "vaccines", "procedures",
    "encounter_types", "allergies", "growth", "places", "staff", "demographics", "records",
)


def default_data_dir() -> Path:
    """``seed_data/`` beside the ``sandbox`` package (the repository root is the parent of ``sandbox/``)."""
    return Path(__file__).resolve().parent.parent.parent / "seed_data"


@dataclass(frozen=True)
class Tables:
    """Every code table, loaded once per data directory."""

    conditions: dict
    medications: dict
    labs: dict
    vitals: dict
    exams: dict
    vaccines: dict
    procedures: dict
    encounter_types: dict
    allergies: dict
    growth: dict
    places: dict
    staff: dict
    demographics: dict
    records: dict
    questionnaires: dict

    def rxnorm_keys(self) -> dict[str, str]:
        """medications.json keys by RxNorm code."""
        return _rxnorm_keys(self)


@cache
def load_tables(data_dir: Path | None = None) -> Tables:
    """Read the JSON tables; a missing file is a packaging error, so let it raise."""
    folder = Path(data_dir) if data_dir else default_data_dir()
    loaded = {}
    for name in TABLE_NAMES:
        with open(folder / f"{name}.json", encoding="utf-8") as handle:
            table = json.load(handle)
        table.pop("_about", None)
        loaded[name] = table
    with open(folder / "us_core" / "questionnaires.json", encoding="utf-8") as handle:
        loaded["questionnaires"] = json.load(handle)["questionnaires"]
    return Tables(**loaded)


_RXNORM_KEYS: dict[int, dict[str, str]] = {}


def _rxnorm_keys(tables: Tables) -> dict[str, str]:
    found = _RXNORM_KEYS.get(id(tables))
    if found is None:
        found = _RXNORM_KEYS[id(tables)] = {med["rxnorm"]: key for key, med in tables.medications.items()}
    return found


def coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def concept(system: str, code: str, display: str, text: str | None = None) -> dict:
    return {"coding": [coding(system, code, display)], "text": text or display}


def snomed(code: str, display: str, text: str | None = None) -> dict:
    return concept(SNOMED, code, display, text)


def loinc(code: str, display: str, text: str | None = None) -> dict:
    return concept(LOINC, code, display, text)


def condition_code(entry: dict) -> dict:
    """SNOMED CT first (US Core's preferred binding), ICD-10-CM beside it for billing-minded apps."""
    return {
        "coding": [
            coding(SNOMED, entry["snomed"], entry["display"]),
            coding(ICD10CM, entry["icd10"], entry["icd10_display"]),
        ],
        "text": entry["text"],
    }


def quantity(value: float | int, unit: str, code: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def category(system: str, code: str, display: str) -> list[dict]:
    return [{"coding": [coding(system, code, display)], "text": display}]


def profile(name: str) -> dict:
    """``meta`` claiming one US Core profile; a fresh dict because the store adds its own meta fields."""
    return {"profile": [US_CORE + name]}


def interpretation(flag: str) -> list[dict]:
    return [{"coding": [coding(INTERPRETATION, flag, INTERPRETATIONS[flag])], "text": INTERPRETATIONS[flag]}]
