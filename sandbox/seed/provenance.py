"""Who wrote what (US Core Provenance): one Provenance per visit for the records made at it, authored by the
visit's clinician on behalf of the practice, and one for the records kept outside visits. The practice is also
the transmitter, the organization that hands the copy to whoever reads it from this server."""

from __future__ import annotations

import datetime as dt

from . import codes
from .codes import concept
from .record import Chart, stamp

NOT_TARGETED = {"Provenance"}


def encounter_of(resource: dict) -> str | None:
    """The Encounter reference a record was made at, whatever element names it."""
    for element in ("encounter", "context"):
        value = resource.get(element)
        if isinstance(value, dict) and value.get("reference", "").startswith("Encounter/"):
            return value["reference"]
        if isinstance(value, dict) and isinstance(value.get("encounter"), list) and value["encounter"]:
            return value["encounter"][0]["reference"]
    return None


def add_provenance(chart: Chart) -> list[dict]:
    records = chart.tables.records["provenance"]
    by_visit: dict[str, list[dict]] = {}
    outside: list[dict] = []
    for resource in chart.resources:
        if resource["resourceType"] in NOT_TARGETED:
            continue
        if resource["resourceType"] == "Encounter":
            by_visit.setdefault(f"Encounter/{resource['id']}", []).append(resource)
            continue
        reference = encounter_of(resource)
        (by_visit.setdefault(reference, []) if reference else outside).append(resource)
    made = []
    for visit in chart.visits:
        targets = by_visit.get(visit.ref["reference"], [])
        made.append(_provenance(chart, targets, visit.end, visit.clinician.ref, records))
    if outside:
        last = max([v.end for v in chart.visits], default=stamp(chart.anchor - dt.timedelta(days=1), 17))
        made.append(_provenance(chart, outside, last, chart.pcp.ref, records))
    for provenance in made:
        chart.add(provenance)
    return made


def _provenance(chart: Chart, targets: list[dict], recorded: str, author: dict, records: dict) -> dict:
    organization = chart.organization()
    return {
        "resourceType": "Provenance", "id": chart.us_core_id(), "meta": codes.profile("us-core-provenance"),
        "target": [{"reference": f"{r['resourceType']}/{r['id']}"} for r in targets],
        "recorded": recorded,
        "agent": [
            {"type": _concept(records["author"]), "who": dict(author), "onBehalfOf": dict(organization)},
            {"type": _concept(records["transmitter"]), "who": dict(organization)},
        ],
    }


def _concept(entry: dict) -> dict:
    return concept(entry["system"], entry["code"], entry["display"])
