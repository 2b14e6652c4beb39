"""FHIR resources turned into the rows the chart shows: patient header, problems, medications, allergies and
encounters. Plain functions of one resource (or a list), no store access, so they are easy to test.

Every value here is text for Jinja to escape; nothing is marked safe.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .. import formatting as fmt

NOT_KNOWN = fmt.NOT_KNOWN
ACTIVE_CONDITION = {"active", "recurrence", "relapse"}
ACTIVE_MEDICATION = {"active", "on-hold", "draft"}
# SNOMED CT situations that record a reviewed, empty allergy list.
NO_KNOWN_ALLERGY = {"716186003", "409137002", "428607008", "429625007", "1003774007", "1003775008"}
ENCOUNTER_CLASS = {"AMB": "Ambulatory", "IMP": "Inpatient", "EMER": "Emergency", "ACUTE": "Inpatient",
                   "NONAC": "Inpatient", "OBSENC": "Observation", "PRENC": "Pre-admission", "SS": "Short stay",
                   "HH": "Home health", "VR": "Virtual", "FLD": "Field"}


def concept(value: dict | None, default: str = NOT_KNOWN) -> str:
    """The words of a CodeableConcept: its text, else the first coding's display, else its code."""
    if not value:
        return default
    if value.get("text"):
        return value["text"]
    for coding in value.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return coding.get("display") or coding["code"]
    return default


def first_coding(value: dict | None) -> dict:
    return next(iter((value or {}).get("coding") or []), {})


def status_word(value: dict | None) -> str:
    """A status CodeableConcept (clinicalStatus, verificationStatus) as a word."""
    if not value:
        return NOT_KNOWN
    code = first_coding(value).get("code")
    return fmt.title_case(code) if code else concept(value)


def status_code(value: dict | None) -> str:
    return first_coding(value).get("code") or ""


def code_line(value: dict | None) -> str:
    """``SNOMED CT 59621000``: the code system and code shown under a name in muted monospace."""
    coding = first_coding(value)
    if not coding.get("code"):
        return ""
    return f"{fmt.system_name(coding.get('system'))} {coding['code']}".strip()


# -- the patient -------------------------------------------------------------------------------------------


def _name(resource: dict) -> dict:
    names = resource.get("name") or []
    return next((n for n in names if n.get("use") == "official"), None) or next(iter(names), {})


def mrn_of(resource: dict) -> str | None:
    for identifier in resource.get("identifier") or []:
        if any(c.get("code") == "MR" for c in (identifier.get("type") or {}).get("coding") or []):
            return identifier.get("value")
    return None


def list_name(resource: dict) -> str:
    """FAMILY, Given — the form every patient list and banner uses (NHS CUI Patient Name Display)."""
    name = _name(resource)
    family = (name.get("family") or "").upper()
    given = " ".join(name.get("given") or [])
    text = f"{family}, {given}".strip(", ")
    return text or name.get("text") or f"Patient/{resource.get('id')}"


def patient_header(resource: dict, today: dt.date) -> dict[str, Any]:
    """What the banner and the patient list show about a patient."""
    name = _name(resource)
    prefix = next(iter(name.get("prefix") or []), "").rstrip(".")
    official_given = (name.get("given") or [""])[0]
    preferred = next((n.get("given", [""])[0] for n in resource.get("name") or []
                      if n.get("use") in ("nickname", "usual") and n is not name and n.get("given")), "")
    deceased_at = resource.get("deceasedDateTime")
    deceased = bool(resource.get("deceasedBoolean") or deceased_at)
    mrn = mrn_of(resource)
    address = next(iter(resource.get("address") or []), {})
    phone = next((t.get("value") for t in resource.get("telecom") or [] if t.get("system") == "phone"), None)
    language = next((concept(c.get("language"), "") for c in resource.get("communication") or []), "")
    return {
        "id": resource.get("id"),
        "name": list_name(resource),
        "title": prefix,
        "preferred": preferred if preferred and preferred != official_given else "",
        "born": fmt.born(resource.get("birthDate"), today, deceased_at),
        "gender": fmt.title_case(resource.get("gender")),
        "mrn": mrn or NOT_KNOWN,
        "mrn_display": fmt.grouped_digits(mrn),
        "deceased": deceased,
        "deceased_on": fmt.date(deceased_at) if deceased_at else "",
        "address": ", ".join([*address.get("line", []), *(address.get(k) for k in ("city", "state", "postalCode")
                                                          if address.get(k))]) or NOT_KNOWN,
        "phone": phone or NOT_KNOWN,
        "language": language or NOT_KNOWN,
        "gp": next((g.get("display") for g in resource.get("generalPractitioner") or [] if g.get("display")),
                   NOT_KNOWN),
    }


# -- problems, medications, allergies --------------------------------------------------------------------


def condition_row(resource: dict) -> dict[str, Any]:
    onset = resource.get("onsetDateTime") or (resource.get("onsetPeriod") or {}).get("start")
    abatement = resource.get("abatementDateTime") or (resource.get("abatementPeriod") or {}).get("start")
    clinical = status_code(resource.get("clinicalStatus"))
    return {
        "id": resource.get("id"),
        "name": concept(resource.get("code")),
        "code": code_line(resource.get("code")),
        "onset": fmt.date(onset) if onset else resource.get("onsetString") or NOT_KNOWN,
        "abated": fmt.date(abatement) if abatement else "",
        "recorded": fmt.date(resource.get("recordedDate")),
        "clinical": status_word(resource.get("clinicalStatus")),
        "verification": status_word(resource.get("verificationStatus")),
        "active": clinical in ACTIVE_CONDITION,
        "sort": onset or "",
    }


def conditions(resources: list[dict]) -> tuple[list[dict], list[dict]]:
    """(active, the rest), each newest onset first."""
    rows = sorted((condition_row(r) for r in resources), key=lambda r: r["sort"], reverse=True)
    return [r for r in rows if r["active"]], [r for r in rows if not r["active"]]


def _sig(dosage: dict) -> str:
    if dosage.get("text"):
        return dosage["text"]
    parts = []
    for dose in dosage.get("doseAndRate") or []:
        if dose.get("doseQuantity"):
            parts.append(fmt.quantity(dose["doseQuantity"]))
    if dosage.get("route"):
        parts.append(concept(dosage["route"], ""))
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    if repeat.get("frequency") and repeat.get("periodUnit"):
        parts.append(f"{repeat['frequency']} times per {repeat.get('period', 1)} {repeat['periodUnit']}")
    if dosage.get("asNeededBoolean"):
        parts.append("as needed")
    return ", ".join(p for p in parts if p)


def medication_row(resource: dict) -> dict[str, Any]:
    medication = resource.get("medicationCodeableConcept")
    name = concept(medication) if medication else (resource.get("medicationReference") or {}).get("display")
    dosages = resource.get("dosageInstruction") or []
    status = resource.get("status") or ""
    return {
        "id": resource.get("id"),
        "name": name or NOT_KNOWN,
        "code": code_line(medication),
        "sig": "; ".join(s for s in (_sig(d) for d in dosages) if s) or "No instructions recorded",
        "start": fmt.date(resource.get("authoredOn")),
        "prescriber": (resource.get("requester") or {}).get("display") or NOT_KNOWN,
        "status": fmt.title_case(status),
        "active": status in ACTIVE_MEDICATION,
        "sort": resource.get("authoredOn") or "",
    }


def medications(resources: list[dict]) -> tuple[list[dict], list[dict]]:
    """(active, stopped or completed), newest first."""
    rows = sorted((medication_row(r) for r in resources), key=lambda r: r["sort"], reverse=True)
    return [r for r in rows if r["active"]], [r for r in rows if not r["active"]]


SEVERITY_ORDER = {"mild": 1, "moderate": 2, "severe": 3}


def allergy_row(resource: dict) -> dict[str, Any]:
    reactions = resource.get("reaction") or []
    manifestations = [concept(m, "") for r in reactions for m in r.get("manifestation") or []]
    severities = [r.get("severity") for r in reactions if r.get("severity")]
    clinical = status_code(resource.get("clinicalStatus"))
    verification = status_code(resource.get("verificationStatus"))
    code = first_coding(resource.get("code")).get("code")
    criticality = resource.get("criticality") or ""
    return {
        "id": resource.get("id"),
        "substance": concept(resource.get("code")),
        "code": code_line(resource.get("code")),
        "reaction": ", ".join(m for m in manifestations if m) or "Not recorded",
        "severity": fmt.title_case(max(severities, key=SEVERITY_ORDER.get)) if severities else "Not recorded",
        "criticality": {"high": "High", "low": "Low", "unable-to-assess": "Unable to assess"}.get(criticality,
                                                                                                "Not recorded"),
        "critical": criticality == "high",
        "verification": status_word(resource.get("verificationStatus")),
        "recorded": fmt.date(resource.get("recordedDate")),
        "no_known": code in NO_KNOWN_ALLERGY,
        "active": clinical in ("", "active") and verification not in ("refuted", "entered-in-error"),
    }


def allergy_state(rows: list[dict]) -> dict[str, Any]:
    """The banner's allergy state, always exactly one of (UI-GUIDE §3): Known allergies: … · No known
    allergies · Allergies not recorded."""
    known = [r for r in rows if r["active"] and not r["no_known"]]
    if known:
        known.sort(key=lambda r: not r["critical"])
        names = ", ".join(r["substance"] for r in known[:2])
        more = f" (+{len(known) - 2})" if len(known) > 2 else ""
        return {"kind": "known", "label": "Known allergies", "text": names + more, "count": len(known)}
    if any(r["no_known"] and r["active"] for r in rows):
        return {"kind": "none", "label": "No known allergies", "text": "", "count": 0}
    return {"kind": "not-recorded", "label": "Allergies not recorded", "text": "", "count": 0}


# -- encounters ------------------------------------------------------------------------------------------------


def _clinician(resource: dict) -> str:
    participants = resource.get("participant") or []
    for participant in participants:
        codes = {c.get("code") for t in participant.get("type") or [] for c in t.get("coding") or []}
        if "PPRF" in codes or "ATND" in codes:
            display = (participant.get("individual") or {}).get("display")
            if display:
                return display
    return next(((p.get("individual") or {}).get("display") for p in participants
                 if (p.get("individual") or {}).get("display")), NOT_KNOWN)


def short_clinician(display: str) -> str:
    """``Dr. Lori McDonald, MD`` → ``Dr McDonald`` (the banner's short form); other names without credentials."""
    name = display.split(",")[0].strip()
    words = name.split()
    if len(words) > 1 and words[0].rstrip(".") == "Dr":
        return f"Dr {words[-1]}"
    return name


def encounter_row(resource: dict) -> dict[str, Any]:
    period = resource.get("period") or {}
    start, end = period.get("start"), period.get("end")
    status = resource.get("status") or ""
    klass = resource.get("class") or {}
    reason = next((concept(r, "") for r in resource.get("reasonCode") or []), "") or next(
        ((r.get("display") or "") for r in resource.get("reasonReference") or []), "")
    when = fmt.period(start, end)
    if status == "in-progress" and not end:
        when += " – ongoing"
    return {
        "id": resource.get("id"),
        "when": when,
        "date": fmt.date(start),
        "year": start[:4] if start else "Date not known",
        "class": ENCOUNTER_CLASS.get(klass.get("code"), fmt.title_case(klass.get("display") or klass.get("code"))),
        "type": next((concept(t, "") for t in resource.get("type") or []), "") or NOT_KNOWN,
        "reason": reason or "No reason recorded",
        "clinician": _clinician(resource),
        "clinician_short": short_clinician(_clinician(resource)),
        "location": next(((loc.get("location") or {}).get("display") for loc in resource.get("location") or []
                          if (loc.get("location") or {}).get("display")), NOT_KNOWN),
        "status": fmt.title_case(status),
        "inpatient": ENCOUNTER_CLASS.get(klass.get("code")) == "Inpatient",
        "sort": start or "",
    }


def by_year(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """Encounter rows (newest first) grouped by year, keeping the order."""
    groups: list[tuple[str, list[dict]]] = []
    for row in rows:
        if not groups or groups[-1][0] != row["year"]:
            groups.append((row["year"], []))
        groups[-1][1].append(row)
    return groups
