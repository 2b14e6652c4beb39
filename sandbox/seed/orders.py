"""What a result was ordered for and drawn from: the ServiceRequest of a lab panel and its Specimen.

US Core 6.1 reads a lab result through its order (``basedOn``) and its specimen; both are written before the
Observations and the DiagnosticReport that point at them.
"""

from __future__ import annotations

from . import codes
from .codes import concept
from .record import Chart, Visit

ACCESSION_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99999.3"
SPECIMEN_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0487"


def order_procedures(chart: Chart) -> None:
    """A ServiceRequest before each ordered procedure (a screening mammogram, a Pap smear, a diabetic eye exam),
    which then names it in ``basedOn``."""
    records = chart.tables.records
    wanted = {chart.tables.procedures[key]["snomed"]: category for key, category in
              records["ordered_procedures"].items()}
    visits = {visit.encounter["id"]: visit for visit in chart.visits}
    position = 0
    while position < len(chart.resources):
        procedure = chart.resources[position]
        position += 1
        if procedure["resourceType"] != "Procedure" or procedure["code"]["coding"][0]["code"] not in wanted:
            continue
        category = records["service_categories"][wanted[procedure["code"]["coding"][0]["code"]]]
        visit = visits[procedure["encounter"]["reference"].removeprefix("Encounter/")]
        request = {
            "resourceType": "ServiceRequest", "id": chart.us_core_id(),
            "meta": codes.profile("us-core-servicerequest"),
            "status": "completed",
            "intent": "order",
            "category": [concept(codes.SNOMED, category["snomed"], category["display"])],
            "code": procedure["code"],
            "subject": chart.subject(),
            "encounter": visit.ref,
            "occurrenceDateTime": procedure["performedPeriod"]["start"],
            "authoredOn": visit.at(2),
            "requester": dict(visit.clinician.ref),
        }
        chart.resources.insert(position - 1, request)  # written before the procedure that points at it
        position += 1
        procedure["basedOn"] = [{"reference": f"ServiceRequest/{request['id']}"}]


def order_lab(chart: Chart, visit: Visit, panel_key: str, collected_minute: int) -> tuple[dict, dict]:
    """The ServiceRequest for one panel (ordered a few minutes before the draw) and the Specimen drawn for it."""
    records = chart.tables.records
    panel = chart.tables.labs["panels"][panel_key]
    category = records["service_categories"]["laboratory"]
    request = chart.add({
        "resourceType": "ServiceRequest", "id": chart.us_core_id(), "meta": codes.profile("us-core-servicerequest"),
        "status": "completed",
        "intent": "order",
        "category": [concept(codes.SNOMED, category["snomed"], category["display"])],
        "code": codes.loinc(panel["loinc"], panel["display"], panel["text"]),
        "subject": chart.subject(),
        "encounter": visit.ref,
        "occurrenceDateTime": visit.at(collected_minute),
        "authoredOn": visit.at(max(0, collected_minute - 5)),
        "requester": dict(visit.clinician.ref),
    })
    kind = records["specimens"][records["panel_specimens"][panel_key]]
    specimen = chart.add({
        "resourceType": "Specimen", "id": chart.us_core_id(), "meta": codes.profile("us-core-specimen"),
        "accessionIdentifier": {"system": ACCESSION_SYSTEM,
                                "value": f"{visit.day:%Y%m%d}-{int(request['id'][:6], 16) % 100000:05d}"},
        "status": "available",
        "type": {"coding": [codes.coding(codes.SNOMED, kind["snomed"], kind["display"]),
                            codes.coding(SPECIMEN_TYPES, kind["v2"], kind["v2_display"])],
                 "text": kind["display"]},
        "subject": chart.subject(),
        "request": [{"reference": f"ServiceRequest/{request['id']}"}],
        "collection": {"collectedDateTime": visit.at(collected_minute)},
        "container": [{"type": {"text": kind["container"]}}],
    })
    return request, specimen
