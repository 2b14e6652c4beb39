"""Generated narrative: a short human summary in ``Resource.text`` (FHIR R4 narrative.html).

R4 narrative.html §3.1.1.1 — ``text.div`` SHALL be an XHTML ``div`` in the XHTML namespace holding only basic
HTML (no scripts, forms, frames or event attributes) and SHALL contain some non-whitespace text; ``status``
``generated`` says the content was produced from the structured data alone. The summaries below use just
``div``, ``p`` and ``b``; every value is escaped, so whatever a resource holds renders as text.

The renderer reads plain dicts and never consults the clock: the same resource always gives the same narrative,
which keeps seeding deterministic (one seed, the same database byte for byte).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html import escape

XHTML_NS = "http://www.w3.org/1999/xhtml"
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Elements that come before ``text`` in R4 JSON order (DomainResource: id, meta, implicitRules, language, text).
_BEFORE_TEXT = ("resourceType", "id", "meta", "implicitRules", "language")
MAX_VALUE_CHARS = 300

Line = tuple[str, str | None]


def with_narrative(resource: dict) -> dict:
    """``resource`` with a generated ``text`` when it has none; the resource itself otherwise.

    R4 narrative.html: an existing narrative is the author's statement and is never replaced."""
    if "text" in resource or not isinstance(resource.get("resourceType"), str):
        return resource
    text = generated_text(resource)
    result = {k: resource[k] for k in _BEFORE_TEXT if k in resource}
    result["text"] = text
    result.update({k: v for k, v in resource.items() if k not in result})
    return result


def generated_text(resource: dict) -> dict:
    """The ``Narrative`` (status ``generated``) that summarizes ``resource``."""
    rtype = resource["resourceType"]
    lines = RENDERERS.get(rtype, _generic)(resource)
    return {"status": "generated", "div": render_div(rtype, lines)}


def render_div(title: str, lines: Iterable[Line]) -> str:
    """An XHTML div: the title in bold, then one ``<p><b>Label</b>: value</p>`` per line that has a value."""
    parts = [f'<div xmlns="{XHTML_NS}"><p><b>{_escape(title)}</b></p>']
    for label, value in lines:
        if value:
            parts.append(f"<p><b>{_escape(label)}</b>: {_escape(value)}</p>")
    parts.append("</div>")
    return "".join(parts)


def _escape(value: str) -> str:
    value = _XML_FORBIDDEN.sub("", value)
    if len(value) > MAX_VALUE_CHARS:
        value = value[:MAX_VALUE_CHARS - 1] + "…"
    return escape(value, quote=False)


# -- reading common data types -------------------------------------------------------------------------

def concept(value: object) -> str | None:
    """A CodeableConcept's text, else its first coding's display, else its first code."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("text"), str) and value["text"]:
        return value["text"]
    return coding(next(iter(value.get("coding") or []), None))


def coding(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    return _str(value.get("display")) or _str(value.get("code"))


def first_concept(values: object) -> str | None:
    return concept(values[0]) if isinstance(values, list) and values else None


def concepts(values: object) -> str | None:
    if not isinstance(values, list):
        return None
    return ", ".join(filter(None, (concept(v) for v in values))) or None


def reference(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    return _str(value.get("display")) or _str(value.get("reference"))


def quantity(value: object) -> str | None:
    if not isinstance(value, dict) or "value" not in value:
        return None
    unit = _str(value.get("unit")) or _str(value.get("code"))
    comparator = _str(value.get("comparator")) or ""
    return f"{comparator}{value['value']}{' ' + unit if unit else ''}"


def period(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    start, end = _str(value.get("start")), _str(value.get("end"))
    if start and end:
        return f"{start} to {end}"
    return f"from {start}" if start else f"until {end}" if end else None


def human_name(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    if _str(value.get("text")):
        return value["text"]
    words = [*(value.get("prefix") or []), *(value.get("given") or []), value.get("family"),
             *(value.get("suffix") or [])]
    return " ".join(w for w in words if isinstance(w, str) and w) or None


def choice(resource: dict, prefix: str) -> str | None:
    """The value of a choice element ``prefix[x]`` (R4 formats.html#choice), whatever its type."""
    for key, value in resource.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return _any_value(key[len(prefix):], value)
    return None


def _any_value(kind: str, value: object) -> str | None:
    readers: dict[str, Callable[[object], str | None]] = {
        "Quantity": quantity, "Age": quantity, "Duration": quantity, "Money": _money,
        "CodeableConcept": concept, "Coding": coding, "Period": period, "Reference": reference,
        "Range": _range, "Ratio": _ratio}
    if kind in readers:
        return readers[kind](value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    return _str(value)


def _range(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    low, high = quantity(value.get("low")), quantity(value.get("high"))
    return f"{low or '…'} to {high or '…'}" if low or high else None


def _ratio(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    numerator, denominator = quantity(value.get("numerator")), quantity(value.get("denominator"))
    return f"{numerator} / {denominator}" if numerator and denominator else numerator


def _money(value: object) -> str | None:
    if not isinstance(value, dict) or "value" not in value:
        return None
    return f"{value['value']} {_str(value.get('currency')) or ''}".strip()


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def status(resource: dict, key: str = "status") -> str | None:
    value = resource.get(key)
    return concept(value) if isinstance(value, dict) else _str(value)


# -- one summary per type ------------------------------------------------------------------------------

def _patient(r: dict) -> list[Line]:
    names = [n for n in r.get("name") or [] if isinstance(n, dict)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    return [("Name", human_name(name)), ("Gender", _str(r.get("gender"))), ("Birth date", _str(r.get("birthDate"))),
            ("MRN", medical_recordstr(r)), ("Deceased", choice(r, "deceased"))]


def medical_recordstr(patient: dict) -> str | None:
    """The identifier typed MR (HL7 v2 table 0203), else the first identifier with a value."""
    identifiers = [i for i in patient.get("identifier") or [] if isinstance(i, dict) and _str(i.get("value"))]
    for identifier in identifiers:
        kinds = (identifier.get("type") or {}).get("coding") or []
        if any(isinstance(c, dict) and c.get("code") == "MR" for c in kinds):
            return identifier["value"]
    return identifiers[0]["value"] if identifiers else None


def _observation(r: dict) -> list[Line]:
    lines: list[Line] = [("Code", concept(r.get("code"))), ("Value", choice(r, "value"))]
    for component in r.get("component") or []:
        if isinstance(component, dict):
            lines.append((concept(component.get("code")) or "Component",
                          choice(component, "value") or concept(component.get("dataAbsentReason"))))
    lines += [("Data absent", concept(r.get("dataAbsentReason"))),
              ("Interpretation", first_concept(r.get("interpretation"))),
              ("Effective", choice(r, "effective")), ("Status", status(r))]
    return lines


def _condition(r: dict) -> list[Line]:
    return [("Code", concept(r.get("code"))), ("Clinical status", status(r, "clinicalStatus")),
            ("Verification", status(r, "verificationStatus")), ("Onset", choice(r, "onset")),
            ("Abatement", choice(r, "abatement")), ("Recorded", _str(r.get("recordedDate")))]


def _medication_request(r: dict) -> list[Line]:
    dosage = "; ".join(_str(d.get("text")) or "" for d in r.get("dosageInstruction") or [] if isinstance(d, dict))
    return [("Medication", choice(r, "medication")), ("Dosage", dosage.strip("; ") or None),
            ("Status", status(r)), ("Intent", _str(r.get("intent"))), ("Authored", _str(r.get("authoredOn"))),
            ("Requester", reference(r.get("requester")))]


def _encounter(r: dict) -> list[Line]:
    return [("Type", concepts(r.get("type"))), ("Class", coding(r.get("class"))), ("Period", period(r.get("period"))),
            ("Status", status(r)), ("Reason", concepts(r.get("reasonCode")))]


def _allergy(r: dict) -> list[Line]:
    manifestations = [concepts(reaction.get("manifestation")) for reaction in r.get("reaction") or []
                      if isinstance(reaction, dict)]
    return [("Substance", concept(r.get("code"))), ("Clinical status", status(r, "clinicalStatus")),
            ("Verification", status(r, "verificationStatus")), ("Criticality", _str(r.get("criticality"))),
            ("Reaction", ", ".join(filter(None, manifestations)) or None), ("Onset", choice(r, "onset")),
            ("Recorded", _str(r.get("recordedDate")))]


def _immunization(r: dict) -> list[Line]:
    return [("Vaccine", concept(r.get("vaccineCode"))), ("Date", choice(r, "occurrence")), ("Status", status(r)),
            ("Lot", _str(r.get("lotNumber")))]


def _procedure(r: dict) -> list[Line]:
    return [("Procedure", concept(r.get("code"))), ("Performed", choice(r, "performed")), ("Status", status(r)),
            ("Reason", concepts(r.get("reasonCode")))]


def _diagnostic_report(r: dict) -> list[Line]:
    results = r.get("result") if isinstance(r.get("result"), list) else []
    return [("Report", concept(r.get("code"))), ("Category", concepts(r.get("category"))),
            ("Effective", choice(r, "effective")), ("Issued", _str(r.get("issued"))), ("Status", status(r)),
            ("Results", str(len(results)) if results else None), ("Conclusion", _str(r.get("conclusion")))]


def _document_reference(r: dict) -> list[Line]:
    return [("Type", concept(r.get("type"))), ("Category", concepts(r.get("category"))),
            ("Date", _str(r.get("date"))), ("Description", _str(r.get("description"))), ("Status", status(r)),
            ("Author", ", ".join(filter(None, (reference(a) for a in r.get("author") or []))) or None)]


def _care_plan(r: dict) -> list[Line]:
    return [("Title", _str(r.get("title"))), ("Category", concepts(r.get("category"))),
            ("Description", _str(r.get("description"))), ("Period", period(r.get("period"))),
            ("Status", status(r)), ("Intent", _str(r.get("intent")))]


def _goal(r: dict) -> list[Line]:
    return [("Goal", concept(r.get("description"))), ("Status", status(r, "lifecycleStatus")),
            ("Achievement", status(r, "achievementStatus")), ("Start", choice(r, "start"))]


def _care_team(r: dict) -> list[Line]:
    members = [reference(p.get("member")) for p in r.get("participant") or [] if isinstance(p, dict)]
    return [("Name", _str(r.get("name"))), ("Status", status(r)), ("Period", period(r.get("period"))),
            ("Members", ", ".join(filter(None, members)) or None)]


def _service_request(r: dict) -> list[Line]:
    return [("Service", concept(r.get("code"))), ("Status", status(r)), ("Intent", _str(r.get("intent"))),
            ("Occurrence", choice(r, "occurrence")), ("Authored", _str(r.get("authoredOn")))]


def _named(r: dict) -> list[Line]:
    """Organization, Location, HealthcareService and the like: name, type, address, status."""
    addresses = r.get("address")
    address = addresses[0] if isinstance(addresses, list) and addresses else addresses
    return [("Name", _str(r.get("name"))), ("Type", concepts(r.get("type"))), ("Address", _address(address)),
            ("Status", status(r)), ("Active", _any_value("boolean", r.get("active")) if "active" in r else None)]


def _address(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    if _str(value.get("text")):
        return value["text"]
    parts = [*(value.get("line") or []), value.get("city"), value.get("state"), value.get("postalCode")]
    return ", ".join(p for p in parts if isinstance(p, str) and p) or None


def _practitioner(r: dict) -> list[Line]:
    names = r.get("name") if isinstance(r.get("name"), list) else []
    return [("Name", human_name(names[0]) if names else None),
            ("Qualification", ", ".join(filter(None, (concept(q.get("code")) for q in r.get("qualification") or []
                                                      if isinstance(q, dict)))) or None),
            ("Gender", _str(r.get("gender")))]


def _practitioner_role(r: dict) -> list[Line]:
    return [("Practitioner", reference(r.get("practitioner"))), ("Organization", reference(r.get("organization"))),
            ("Role", concepts(r.get("code"))), ("Specialty", concepts(r.get("specialty")))]


def _medication(r: dict) -> list[Line]:
    return [("Medication", concept(r.get("code"))), ("Form", concept(r.get("form"))), ("Status", status(r))]


def _device(r: dict) -> list[Line]:
    names = [_str(n.get("name")) for n in r.get("deviceName") or [] if isinstance(n, dict)]
    carriers = [_str(c.get("deviceIdentifier")) for c in r.get("udiCarrier") or [] if isinstance(c, dict)]
    return [("Device", concept(r.get("type")) or next(filter(None, names), None)),
            ("UDI", next(filter(None, carriers), None)), ("Status", status(r))]


GENERIC_FIELDS = ("name", "title", "code", "type", "category", "description", "status", "intent", "date")


def _generic(r: dict) -> list[Line]:
    """Any other type: a few top-level fields that usually name what the resource is about."""
    lines: list[Line] = []
    for key in GENERIC_FIELDS:
        value = r.get(key)
        if isinstance(value, list):
            value = concepts(value) if value and isinstance(value[0], dict) else ", ".join(
                v for v in value if isinstance(v, str)) or None
        elif isinstance(value, dict):
            value = concept(value) or coding(value) or reference(value)
        else:
            value = _str(value)
        lines.append((key[0].upper() + key[1:], value))
    if not any(value for _, value in lines):
        lines.append(("Id", _str(r.get("id"))))
    return lines


RENDERERS: dict[str, Callable[[dict], list[Line]]] = {
    "Patient": _patient, "Observation": _observation, "Condition": _condition,
    "MedicationRequest": _medication_request, "Encounter": _encounter, "AllergyIntolerance": _allergy,
    "Immunization": _immunization, "Procedure": _procedure, "DiagnosticReport": _diagnostic_report,
    "DocumentReference": _document_reference, "CarePlan": _care_plan, "Goal": _goal, "CareTeam": _care_team,
    "ServiceRequest": _service_request, "Organization": _named, "Location": _named, "HealthcareService": _named,
    "Practitioner": _practitioner, "PractitionerRole": _practitioner_role, "Medication": _medication,
    "Device": _device,
}
"""The summary of each type with its own; every other type gets ``_generic``."""
