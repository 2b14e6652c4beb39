"""Clinical notes as DocumentReferences with a short plain-text body, written from the chart's own data."""

from __future__ import annotations

import base64

from . import codes
from .codes import concept
from .record import Chart, Clinician, Visit

NOTE_TYPES = {
    "progress": ("11506-3", "Progress note", "Progress note"),
    "history-and-physical": ("34117-2", "History and physical note", "History and physical"),
    "discharge-summary": ("18842-5", "Discharge summary", "Discharge summary"),
    "emergency": ("34111-5", "Emergency department Note", "Emergency department note"),
}
DOCUMENT_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
FORMAT_CODES = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"


def render(chart: Chart, visit: Visit, title: str, author: Clinician, sections: list[tuple[str, object]]) -> str:
    """Plain text the way a clinician would skim it: header, then titled sections."""
    lines = [
        title.upper(),
        f"{visit.location['display']} | {visit.day.isoformat()}",
        f"Patient: {chart.name} | DOB {chart.birth_date.isoformat()} | MRN {chart.mrn}",
        f"Author: {author.name} ({author.specialty})",
    ]
    for heading, body in sections:
        if not body:
            continue
        lines.append("")
        lines.append(f"{heading.upper()}:")
        if isinstance(body, str):
            lines.append(body)
        else:
            lines.extend(f"- {item}" for item in body)
    return "\n".join(lines) + "\n"


def add_note(chart: Chart, visit: Visit, note_type: str, sections: list[tuple[str, object]], *,
             author: Clinician | None = None, written: str | None = None) -> dict:
    code, display, title = NOTE_TYPES[note_type]
    author = author or visit.clinician
    text = render(chart, visit, title, author, sections)
    written = written or visit.end
    note_id = chart.new_id()
    return chart.add({
        "resourceType": "DocumentReference", "id": note_id, "meta": codes.profile("us-core-documentreference"),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{note_id}"}],
        "status": "current",
        "type": concept(codes.LOINC, code, display, title),
        "category": [concept(DOCUMENT_CATEGORY, "clinical-note", "Clinical Note")],
        "subject": chart.subject(),
        "date": written,
        "author": [dict(author.ref)],
        "custodian": chart.organization(),
        "content": [{
            "attachment": {
                "contentType": "text/plain",
                "language": "en-US",
                "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                "title": f"{title} - {visit.day.isoformat()}",
                "creation": written,
            },
            "format": codes.coding(FORMAT_CODES, "urn:ihe:iti:xds:2017:mimeTypeSufficient", "mimeType Sufficient"),
        }],
        "context": {"encounter": [visit.ref], "period": {"start": visit.start, "end": visit.end}},
    })


def describe_patient(chart: Chart, day) -> str:
    age = chart.age_years(day)
    if age >= 2:
        noun = ("woman" if chart.is_female else "man") if age >= 18 else ("girl" if chart.is_female else "boy")
        return f"{age}-year-old {noun}"
    months = int(chart.age_months(day))
    return f"{months}-month-old {'girl' if chart.is_female else 'boy'}" if months else "newborn"


def medication_list(chart: Chart) -> list[str]:
    return list(chart.active_medications) or ["No current medications"]


def allergy_line(chart: Chart) -> str:
    return ", ".join(chart.allergy_texts) if chart.allergy_texts else "No known allergies"
