"""The pharmacy side of prescribing: the practice's Medication resources (one per product of medications.json),
the community pharmacy, MedicationDispenses for filled prescriptions and medicines the patient reports taking."""

from __future__ import annotations

import datetime as dt

from . import codes
from .clinical import doses_for, medication_element, medication_id
from .codes import Tables, concept
from .record import Chart, stamp

PHARMACY_ID = "organization-riverside-pharmacy"
DISPENSE_TYPES = codes.ACT_CODE
REPORTED_PRODUCTS = ("loratadine-10", "acetaminophen-500", "omeprazole-20")


def medication_resources(tables: Tables) -> list[dict]:
    """A US Core Medication for every product, the target of orders that use ``medicationReference``."""
    resources = []
    for key, med in tables.medications.items():
        resources.append({
            "resourceType": "Medication", "id": medication_id(key), "meta": codes.profile("us-core-medication"),
            "code": {"coding": [codes.coding(codes.RXNORM, med["rxnorm"], med["display"])], "text": med["text"]},
            "status": "active",
        })
    return resources


def pharmacy_organization(tables: Tables, address: dict) -> dict:
    info = tables.records["pharmacy"]
    return {
        "resourceType": "Organization", "id": PHARMACY_ID, "meta": codes.profile("us-core-organization"),
        "active": True,
        "type": [concept("http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider")],
        "name": info["name"],
        "telecom": [{"system": "phone", "value": f"({tables.places['organization']['area_code']}) 555-0190",
                     "use": "work"}],
        "address": [{**address, "line": [info["line"]]}],
    }


def pharmacy_ref(chart: Chart) -> dict:
    return {"reference": f"Organization/{PHARMACY_ID}", "display": chart.tables.records["pharmacy"]["name"]}


def add_dispenses(chart: Chart) -> None:
    """Each community prescription is filled the same or the next weekday; a long-term one that is still active
    has been refilled since, once per supply."""
    types = chart.tables.records["dispense_types"]
    orders = [r for r in chart.resources if r["resourceType"] == "MedicationRequest" and "dispenseRequest" in r
              and "reportedReference" not in r and r["status"] in ("active", "completed")]
    for order in orders:
        key = _product_key(chart, order)
        med = chart.tables.medications[key]
        supply = order["dispenseRequest"]["expectedSupplyDuration"]["value"]
        authored = dt.date.fromisoformat(order["authoredOn"][:10])
        fill = authored + dt.timedelta(days=chart.us_core_rng.choice((0, 0, 1)))
        fills = 1 + (order["dispenseRequest"]["numberOfRepeatsAllowed"] if order["status"] == "active" else 0)
        for number in range(fills):
            day = fill + dt.timedelta(days=number * supply)
            if day >= chart.anchor:
                break
            kind = types["first" if number == 0 else "refill"]
            dispense = {
                "resourceType": "MedicationDispense", "id": chart.us_core_id(),
                "meta": codes.profile("us-core-medicationdispense"),
                "status": "completed",
                **medication_element(key, med, by_reference="medicationReference" in order),
                "subject": chart.subject_with_name(),
                "context": dict(order["encounter"]) if number == 0 and "encounter" in order else None,
                "performer": [{"actor": pharmacy_ref(chart)}],
                "authorizingPrescription": [{"reference": f"MedicationRequest/{order['id']}"}],
                "type": concept(DISPENSE_TYPES, kind["code"], kind["display"]),
                "quantity": None,
                "daysSupply": codes.quantity(supply, "days", "d"),
                "whenPrepared": stamp(day, 15, 30),
                "whenHandedOver": stamp(day, 17, chart.us_core_rng.randint(0, 59)),
                "dosageInstruction": [dict(order["dosageInstruction"][0])],
            }
            doses = doses_for(med, supply)
            dispense["quantity"] = {"value": doses, "unit": "dose"} if doses else None
            chart.add({k: v for k, v in dispense.items() if v is not None})


def _product_key(chart: Chart, order: dict) -> str:
    if "medicationReference" in order:
        return order["medicationReference"]["reference"].removeprefix("Medication/medication-")
    code = order["medicationCodeableConcept"]["coding"][0]["code"]
    return chart.tables.rxnorm_keys()[code]


def add_reported_medication(chart: Chart) -> dict | None:
    """Some adults take an over-the-counter medicine they told the clinic about at their last visit: an order
    reported by the patient (``reportedReference``), not written here."""
    adult_visits = [v for v in chart.visits if chart.age_years(v.day) >= 18 and v.kind not in ("inpatient",)]
    if not adult_visits or chart.us_core_rng.random() >= 0.25:
        return None
    table = chart.tables.medications
    options = [k for k in REPORTED_PRODUCTS if table[k].get("class") not in chart.excluded_classes
               and table[k]["text"] not in chart.active_medications]
    if not options:
        return None
    key = chart.us_core_rng.choice(options)
    med = table[key]
    visit = adult_visits[-1]
    frequency, period, unit = med["timing"]
    chart.active_medications.append(med["text"])
    return chart.add({
        "resourceType": "MedicationRequest", "id": chart.us_core_id(),
        "meta": codes.profile("us-core-medicationrequest"),
        "status": "active",
        "intent": "order",
        "category": codes.category("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community",
                                   "Community"),
        "reportedReference": chart.subject_with_name(),
        **medication_element(key, med, by_reference=False),
        "subject": chart.subject_with_name(),
        "encounter": visit.ref,
        "authoredOn": visit.at(5),
        "note": [{"text": "Bought over the counter; reported by the patient at this visit."}],
        "dosageInstruction": [{"sequence": 1, "text": med["sig"],
                               "timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}},
                               "route": concept(codes.SNOMED, *codes.ROUTES[med["route"]])}],
    })
