"""Category sub-scopes on the consent page (SMART App Launch 2.2 §Finer-grained resource constraints).

When an app asks for Condition or Observation, the person may share only some categories; the grant then
holds one granular scope per kept category (`patient/Observation.rs?category=<system>|<code>`), which the
token response echoes verbatim and the FHIR API enforces inside its queries.
"""

from __future__ import annotations

from .scopes import ResourceScope

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
US_CORE_OBSERVATION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
US_CORE_CONDITION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"

# (code, system, words) per resource type, in the order the consent page shows them.
CATEGORIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Observation": (
        ("laboratory", OBSERVATION_CATEGORY, "Lab results"),
        ("vital-signs", OBSERVATION_CATEGORY, "Vital signs"),
        ("social-history", OBSERVATION_CATEGORY, "Social history, such as smoking status"),
        ("survey", OBSERVATION_CATEGORY, "Questionnaire and survey answers"),
        ("sdoh", US_CORE_CATEGORY, "Social needs (SDOH)"),
        ("clinical-test", US_CORE_OBSERVATION_CATEGORY, "Clinical test results"),
    ),
    "Condition": (
        ("problem-list-item", CONDITION_CATEGORY, "Problem list"),
        ("encounter-diagnosis", CONDITION_CATEGORY, "Visit diagnoses"),
        ("health-concern", US_CORE_CONDITION_CATEGORY, "Health concerns"),
    ),
}


def offers_categories(scope: ResourceScope) -> bool:
    """A scope on Condition or Observation that is not already narrowed, with read or search in it."""
    return scope.resource_type in CATEGORIES and not scope.query and bool(set(scope.permissions) & set("rs"))


def narrow(scope: ResourceScope, kept_codes: list[str]) -> list[str]:
    """The scope as granted when only ``kept_codes`` categories are shared: verbatim when all are, one
    granular v2 scope per kept category otherwise, nothing when none is."""
    choices = CATEGORIES[scope.resource_type]
    kept = [(code, system) for code, system, _ in choices if code in kept_codes]
    if len(kept) == len(choices):
        return [str(scope)]
    return [f"{scope.context}/{scope.resource_type}.{scope.permissions}?category={system}|{code}"
            for code, system in kept]
