"""A few FHIR R4 invariants that matter to apps, implemented by hand and keyed by their invariant key.

R4 states invariants as FHIRPath (conformance-rules.html §2.17.0); this server has no FHIRPath engine, so each
rule here reads the elements its expression names. The human text of each key comes from the R4
StructureDefinitions (``seed_data/fhir/required_bindings.json``, key ``invariants``, made by
``seed_data/fhir/make_required_bindings.py``); the generator's INVARIANT_KEYS and RULES name the same keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache

from .bindings import DATA_FILE
from .errors import Issue

# A rule yields the path of each element that breaks the invariant.
Rule = Callable[[dict], Iterator[str]]


@cache
def invariant_texts() -> dict[str, dict]:
    """key → {path, severity, human, expression} from the R4 definitions."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))["invariants"]


def _has_value(item: dict) -> bool:
    """Whether an Observation or component has value[x] (valueQuantity, valueString …)."""
    return any(key.startswith("value") for key in item)


def _codings(concept: object) -> set[tuple[object, object]]:
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    return {(c.get("system"), c.get("code")) for c in codings if isinstance(c, dict)} if isinstance(
        codings, list) else set()


def _items(resource: dict, name: str) -> Iterator[tuple[int, dict]]:
    items = resource.get(name, [])
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            yield index, item


ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def obs_3(resource: dict) -> Iterator[str]:
    """Observation.referenceRange: must have at least a low or a high or text."""
    for index, reference_range in _items(resource, "referenceRange"):
        if not ({"low", "high", "text"} & reference_range.keys()):
            yield f"Observation.referenceRange[{index}]"


def obs_6(resource: dict) -> Iterator[str]:
    """dataAbsentReason SHALL only be present if Observation.value[x] is not present."""
    if "dataAbsentReason" in resource and _has_value(resource):
        yield "Observation.dataAbsentReason"


def obs_7(resource: dict) -> Iterator[str]:
    """If Observation.code is the same as an Observation.component.code then the value element associated with
    the code SHALL NOT be present. Codings are compared by system and code."""
    if not _has_value(resource):
        return
    code = _codings(resource.get("code"))
    for index, component in _items(resource, "component"):
        if code & _codings(component.get("code")):
            yield f"Observation.component[{index}].code"


def pat_1(resource: dict) -> Iterator[str]:
    """Patient.contact SHALL at least contain a contact's details or a reference to an organization."""
    for index, contact in _items(resource, "contact"):
        if not ({"name", "telecom", "address", "organization"} & contact.keys()):
            yield f"Patient.contact[{index}]"


def ait_1(resource: dict) -> Iterator[str]:
    """AllergyIntolerance.clinicalStatus SHALL be present if verificationStatus is not entered-in-error."""
    if "clinicalStatus" not in resource and (ALLERGY_VERIFICATION, "entered-in-error") not in _codings(
            resource.get("verificationStatus")):
        yield "AllergyIntolerance.clinicalStatus"


def ait_2(resource: dict) -> Iterator[str]:
    """AllergyIntolerance.clinicalStatus SHALL NOT be present if verification Status is entered-in-error."""
    if "clinicalStatus" in resource and (ALLERGY_VERIFICATION, "entered-in-error") in _codings(
            resource.get("verificationStatus")):
        yield "AllergyIntolerance.clinicalStatus"


def con_4(resource: dict) -> Iterator[str]:
    """If condition is abated, then clinicalStatus must be either inactive, resolved, or remission."""
    ended = {(CONDITION_CLINICAL, code) for code in ("inactive", "resolved", "remission")}
    if any(key.startswith("abatement") for key in resource) and not (
            ended & _codings(resource.get("clinicalStatus"))):
        yield "Condition.clinicalStatus"


def con_5(resource: dict) -> Iterator[str]:
    """Condition.clinicalStatus SHALL NOT be present if verification Status is entered-in-error."""
    if "clinicalStatus" in resource and (CONDITION_VERIFICATION, "entered-in-error") in _codings(
            resource.get("verificationStatus")):
        yield "Condition.clinicalStatus"


RULES: dict[str, dict[str, Rule]] = {
    "Observation": {"obs-3": obs_3, "obs-6": obs_6, "obs-7": obs_7},
    "Patient": {"pat-1": pat_1},
    "AllergyIntolerance": {"ait-1": ait_1, "ait-2": ait_2},
    "Condition": {"con-4": con_4, "con-5": con_5},
}


def invariant_issues(resource: dict) -> list[Issue]:
    """Every invariant of RULES that ``resource`` breaks, one issue per element."""
    issues = []
    for key, rule in RULES.get(resource.get("resourceType", ""), {}).items():
        for path in rule(resource):
            issues.append(Issue(path, f"{path} breaks invariant {key}: {invariant_texts()[key]['human']}", "invariant"))
    return issues
