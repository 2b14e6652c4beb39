"""Health insurance: the payers (Organizations of the shared batch) and each patient's Coverage.

A child is covered as a dependant on a parent's plan (subscriber: the parent's RelatedPerson); an adult is
their own subscriber."""

from __future__ import annotations

import datetime as dt

from . import codes
from .codes import Tables, concept
from .record import Chart

MEMBER_ID_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99999.4"


def payer_id(key: str) -> str:
    return f"organization-payer-{key}"


def payer_organizations(tables: Tables, address: dict) -> list[dict]:
    resources = []
    for number, (key, payer) in enumerate(tables.records["coverage"]["payers"].items()):
        resources.append({
            "resourceType": "Organization", "id": payer_id(key), "meta": codes.profile("us-core-organization"),
            "active": True,
            "type": [concept("http://terminology.hl7.org/CodeSystem/organization-type", "pay", "Payer")],
            "name": payer["name"],
            "telecom": [{"system": "phone", "value": f"(800) 555-01{50 + number:02d}", "use": "work"}],
            "address": [{**address, "line": [payer["line"]]}],
        })
    return resources


def add_coverage(chart: Chart, subscriber: dict | None) -> dict:
    """One active Coverage; ``subscriber`` is the parent (RelatedPerson) whose plan covers a child."""
    table = chart.tables.records["coverage"]
    rng = chart.us_core_rng
    keys = list(table["payers"])
    key = rng.choices(keys, weights=[table["payers"][k]["weight"] for k in keys])[0]
    payer = table["payers"][key]
    plan, group = rng.choice(payer["plans"]), rng.choice(payer["groups"])
    member = f"{payer['member_prefix']}{rng.randint(10_000_000, 99_999_999)}"
    start = max(chart.birth_date, dt.date(chart.anchor.year - rng.randint(1, 6), 1, 1))
    relationship = (concept("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "child", "Child")
                    if subscriber else _concept(table["relationship"]))
    resource = {
        "resourceType": "Coverage", "id": chart.us_core_id(), "meta": codes.profile("us-core-coverage"),
        "identifier": [{"type": _concept(table["member_id_type"]),
                        "system": f"{MEMBER_ID_SYSTEM}.{keys.index(key) + 1}", "value": member}],
        "status": "active",
        "type": {"coding": [dict(c) for c in table["type"]], "text": table["type_text"]},
        "subscriber": {"reference": f"RelatedPerson/{subscriber['id']}"} if subscriber else chart.subject(),
        "subscriberId": member[:-2] + "00" if subscriber else member,
        "beneficiary": chart.subject_with_name(),
        "dependent": "01" if subscriber else "00",
        "relationship": relationship,
        "period": {"start": start.isoformat()},
        "payor": [{"reference": f"Organization/{payer_id(key)}", "display": payer["name"]}],
        "class": [
            {"type": concept(table["class_system"], "group", "Group"), "value": group["value"], "name": group["name"]},
            {"type": concept(table["class_system"], "plan", "Plan"), "value": plan["value"], "name": plan["name"]},
        ],
    }
    return chart.add(resource)


def _concept(entry: dict) -> dict:
    return concept(entry["system"], entry["code"], entry["display"])
