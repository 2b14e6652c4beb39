"""Scopes in plain words, for the consent page (and the connected-apps page)."""

from __future__ import annotations

import re

from .scopes import ResourceScope, ScopeSet

PERMISSION_WORDS = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
IDENTITY = {
    "openid": "Confirm who you are (OpenID Connect)",
    "fhirUser": "Know which person you are in this EHR (your FHIR user)",
    "profile": "See your name",
    "offline_access": "Keep access after you close the app, until you revoke it",
    "online_access": "Keep access while you stay signed in",
    "launch": "Open inside the EHR with the current context",
    "launch/patient": "Know which patient is selected",
    "launch/encounter": "Know which encounter is selected",
}


# Words a patient would use for the resource types apps ask for most; others are split from the type name.
FRIENDLY_TYPES = {
    "Observation": "lab results, vital signs and other observations",
    "Condition": "conditions and health problems",
    "MedicationRequest": "prescriptions (medication requests)",
    "MedicationStatement": "medicines taken (medication statements)",
    "AllergyIntolerance": "allergies and intolerances",
    "Immunization": "immunizations",
    "DiagnosticReport": "test reports",
    "DocumentReference": "clinical documents and notes",
    "Encounter": "visits and hospital stays (encounters)",
    "Procedure": "procedures",
    "CarePlan": "care plans",
    "Patient": "demographics (name, birth date, contact details)",
}


def type_words(resource_type: str) -> str:
    """`MedicationRequest` → `medication requests`; `*` → `all kinds of data`."""
    if resource_type == "*":
        return "all kinds of data"
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", resource_type).lower()
    return words if words.endswith("s") else words + "s"


def describe_resource_scope(scope: ResourceScope, patient_name: str | None = None, yours: bool = False) -> str:
    """SMART App Launch 2.2 §Scopes in plain words: ``patient/Observation.rs`` → "Read and search lab results,
    vital signs and other observations of ALLEN, Mary" (or "… your lab results …" when ``yours``)."""
    verbs = [PERMISSION_WORDS[p] for p in scope.permissions]
    verb_text = ", ".join(verbs[:-1]) + (" and " if len(verbs) > 1 else "") + verbs[-1]
    what = FRIENDLY_TYPES.get(scope.resource_type) or type_words(scope.resource_type)
    if scope.context == "patient" and yours:
        mine = "all of your data" if scope.resource_type == "*" else f"your {what}"  # not "your all kinds of data"
        text = f"{verb_text.capitalize()} {mine}"
    else:
        whose = {"patient": f"of {patient_name}" if patient_name else "of the selected patient",
                 "user": "that you can see", "system": "on the whole server"}[scope.context]
        text = f"{verb_text.capitalize()} {what} {whose}"
    if scope.query:
        text += " — only where " + ", ".join(f"{k} is {v.split('|')[-1]}" for k, v in scope.query)
    return text


def describe(scope_text: str, patient_name: str | None = None) -> str:
    """One scope in words; unknown shapes are shown as they are."""
    if scope_text in IDENTITY:
        return IDENTITY[scope_text]
    if scope_text.startswith("launch/"):
        return f"Know which {type_words(scope_text.split('/', 1)[1])[:-1]} is in context"
    parsed = ScopeSet((scope_text,)).resource_scopes
    return describe_resource_scope(parsed[0], patient_name) if parsed else scope_text
