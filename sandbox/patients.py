"""Finding patients and their encounters: rules shared by the EHR's patient list and the authorize step's
patient and encounter pickers."""

from __future__ import annotations

import re

from .store import Store

MONTHS = {m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                      "dec"), 1)}


def search_criteria(text: str) -> list[tuple[str, str]]:
    """What a person typed as patient search criteria: a birth date (``1968``, ``1968-01``, ``1968-01-11``, or
    ``11-Jan-1968`` as the pages show dates), a number of five digits or more is an MRN, words are parts of the
    name, every one of which must match ("johnson marcus", "johnson, m")."""
    text = text.strip()
    if not text:
        return []
    if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        return [("birthdate", text)]
    shown = re.fullmatch(r"(\d{1,2})[- ]([A-Za-z]{3})[- ](\d{4})", text)
    if shown and shown.group(2).lower() in MONTHS:
        day, month, year = int(shown.group(1)), MONTHS[shown.group(2).lower()], shown.group(3)
        return [("birthdate", f"{year}-{month:02d}-{day:02d}")]
    if re.fullmatch(r"[\d ]{5,}", text):
        return [("identifier", text.replace(" ", ""))]
    words = [w for w in re.split(r"[\s,]+", text) if w][:4]
    return [("name", w.replace("\\", "\\\\")) for w in words]


def record_of(store: Store, rtype: str, patient_id: str | None, resource_id: str) -> dict | None:
    """The resource, if it exists and is about the patient (its ``subject`` or ``patient``)."""
    stored = store.current(rtype, resource_id)
    if stored is None or stored.deleted:
        return None
    owner = stored.resource.get("subject") or stored.resource.get("patient") or {}
    return stored.resource if owner.get("reference") == f"Patient/{patient_id}" else None


def encounter_of(store: Store, patient_id: str | None, encounter_id: str) -> dict | None:
    """The encounter, if it exists and belongs to the patient."""
    return record_of(store, "Encounter", patient_id, encounter_id)
