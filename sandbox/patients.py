"""Finding patients and their encounters: rules shared by the EHR's patient list and the authorize step's
patient and encounter pickers."""

from __future__ import annotations

import re

from .store import Store


def search_criteria(text: str) -> list[tuple[str, str]]:
    """What a person typed as patient search criteria: a 4-digit number is a birth year, a longer one an MRN,
    words are parts of the name, every one of which must match ("johnson marcus", "johnson, m")."""
    text = text.strip()
    if not text:
        return []
    if re.fullmatch(r"\d{4}", text):
        return [("birthdate", text)]
    if re.fullmatch(r"[\d ]{5,}", text):
        return [("identifier", text.replace(" ", ""))]
    words = [w for w in re.split(r"[\s,]+", text) if w][:4]
    return [("name", w.replace("\\", "\\\\")) for w in words]


def encounter_of(store: Store, patient_id: str | None, encounter_id: str) -> dict | None:
    """The encounter, if it exists and belongs to the patient."""
    stored = store.current("Encounter", encounter_id)
    if stored is None or stored.deleted:
        return None
    resource = stored.resource
    if (resource.get("subject") or {}).get("reference") != f"Patient/{patient_id}":
        return None
    return resource
