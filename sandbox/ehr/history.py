"""Immunizations, procedures and clinical notes turned into chart rows (UI-GUIDE §2). Plain functions of one
resource, no store access.

Records imported from elsewhere (Synthea) leave out fields the seed always writes (lot, performer, dose number),
so every cell falls back to "Not known" rather than a blank. A note's text is returned as text for Jinja to
escape; whatever its content type, it is never marked safe.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .. import formatting as fmt
from .chart import NOT_KNOWN, code_line, concept

NOTE_TEXT_LIMIT = 200_000  # characters shown in the reading pane; longer notes say they were cut
TEXT_TYPES = ("text/plain", "text/markdown", "text/html", "application/xhtml+xml", "text/")


def _displays(references: list[dict]) -> list[str]:
    return [r["display"] for r in references if isinstance(r, dict) and r.get("display")]


def _reference_id(reference: dict | None) -> str:
    return ((reference or {}).get("reference") or "").rpartition("/")[2]


# -- immunizations ------------------------------------------------------------------------------------------------


def _dose(resource: dict) -> str:
    protocol = next(iter(resource.get("protocolApplied") or []), {})
    number = protocol.get("doseNumberPositiveInt") or protocol.get("doseNumberString")
    if not number:
        return NOT_KNOWN
    total = protocol.get("seriesDosesPositiveInt") or protocol.get("seriesDosesString")
    return f"{number} of {total}" if total else str(number)


def immunization_row(resource: dict) -> dict[str, Any]:
    status = resource.get("status") or ""
    when = resource.get("occurrenceDateTime")
    words = fmt.title_case(status)
    if status == "not-done" and resource.get("statusReason"):
        words += f" ({concept(resource['statusReason'])})"
    origin = "" if resource.get("primarySource", True) else concept(resource.get("reportOrigin"), "another record")
    return {
        "id": resource.get("id"),
        "vaccine": concept(resource.get("vaccineCode")),
        "code": code_line(resource.get("vaccineCode")),
        "date": fmt.date(when) if when else resource.get("occurrenceString") or NOT_KNOWN,
        "dose": _dose(resource),
        "status": words,
        "given": status == "completed",
        "lot": resource.get("lotNumber") or NOT_KNOWN,
        "origin": origin,
        "sort": when or "",
    }


# -- procedures --------------------------------------------------------------------------------------------------


def procedure_row(resource: dict) -> dict[str, Any]:
    period = resource.get("performedPeriod") or {}
    when = resource.get("performedDateTime") or period.get("start") or period.get("end")
    performers = _displays([p.get("actor") for p in resource.get("performer") or []])
    reasons = [concept(c, "") for c in resource.get("reasonCode") or []]
    reasons += _displays(resource.get("reasonReference") or [])
    return {
        "id": resource.get("id"),
        "date": fmt.date_time(when) if when else resource.get("performedString") or NOT_KNOWN,
        "name": concept(resource.get("code")),
        "code": code_line(resource.get("code")),
        "performer": ", ".join(performers) or NOT_KNOWN,
        "status": fmt.title_case(resource.get("status")),
        "reason": "; ".join(r for r in reasons if r) or NOT_KNOWN,
        "sort": when or "",
    }


# -- notes -----------------------------------------------------------------------------------------------------


def note_row(resource: dict, encounters: dict[str, dict]) -> dict[str, Any]:
    """A list entry; ``encounters`` are encounter rows (chart.encounter_row) by id."""
    context = resource.get("context") or {}
    attachment = next((c.get("attachment") or {} for c in resource.get("content") or []), {})
    when = resource.get("date") or attachment.get("creation") or (context.get("period") or {}).get("start")
    encounter_ref = next(iter(context.get("encounter") or []), None)
    encounter = encounters.get(_reference_id(encounter_ref))
    if encounter:
        encounter_words = f"{encounter['class']} · {encounter['type']}"
    else:
        encounter_words = (encounter_ref or {}).get("display") or NOT_KNOWN
    status = resource.get("status") or ""
    return {
        "id": resource.get("id"),
        "date": fmt.date_time(when) if when else NOT_KNOWN,
        "type": concept(resource.get("type"), "") or attachment.get("title") or "Clinical note",
        "author": ", ".join(_displays(resource.get("author") or [])) or NOT_KNOWN,
        "encounter": encounter_words,
        "status": "" if status in ("current", "") else fmt.title_case(status),
        "description": resource.get("description") or "",
        "sort": when or "",
    }


def _pick_attachment(resource: dict) -> dict | None:
    """The attachment to read: plain text first, then other text, then anything with data or a URL."""
    attachments = [c.get("attachment") for c in resource.get("content") or [] if c.get("attachment")]
    for wanted in TEXT_TYPES:
        for attachment in attachments:
            if attachment.get("data") and (attachment.get("contentType") or "").lower().startswith(wanted):
                return attachment
    return next((a for a in attachments if a.get("data")), None) or next(iter(attachments), None)


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def note_text(resource: dict) -> dict[str, str]:
    """``{"text": …}`` with the note's words decoded from its base64 attachment, or ``{"problem": …}`` saying in
    a sentence why there is nothing to show. HTML is returned as its source text, to be shown escaped."""
    attachment = _pick_attachment(resource)
    if attachment is None:
        return {"problem": "This note has no content attached."}
    content_type = (attachment.get("contentType") or "text/plain").lower()
    if not attachment.get("data"):
        where = attachment.get("url")
        return {"problem": f"This note's content is stored elsewhere ({where}) and is not in the sandbox."
                if where else "This note's attachment holds no data."}
    if not content_type.startswith(TEXT_TYPES):
        return {"problem": f"This note is a {content_type.split(';')[0]} file, which the chart can't show as text."}
    try:
        raw = base64.b64decode("".join(attachment["data"].split()), validate=True)  # line breaks are allowed
    except (binascii.Error, ValueError):
        return {"problem": "This note's attachment is not valid base64, so its text can't be shown."}
    try:
        text = raw.decode(_charset(content_type), errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    note = {"text": text[:NOTE_TEXT_LIMIT].strip("\n")}
    if len(text) > NOTE_TEXT_LIMIT:
        note["cut"] = f"The note is longer than {NOTE_TEXT_LIMIT:,} characters; the rest is not shown."
    if "html" in content_type:
        note["source"] = "This note was written as HTML; its source text is shown."
    return note
