"""Implanted devices with their UDI (US Core Implantable Device): a knee prosthesis for some patients with knee
osteoarthritis. The device identifier is a GS1 GTIN-14 with its check digit; the human-readable form carries
the GS1 application identifiers (01) device, (11) made, (17) expires, (10) lot, (21) serial."""

from __future__ import annotations

import datetime as dt

from . import codes
from .codes import concept
from .record import Chart


def gtin_check_digit(first13: str) -> str:
    """GS1 check digit: weights 3 and 1 alternating from the right, the complement to the next multiple of 10."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(first13)))
    return str((10 - total % 10) % 10)


def wants_implant(chart: Chart, key: str) -> bool:
    spec = chart.tables.records["implants"][key]
    has_problem = chart.tables.conditions["chronic"][spec["condition"]]["snomed"] in chart.conditions_by_code
    old_enough = chart.age_years(chart.anchor) >= spec["min_age"]
    return has_problem and old_enough and chart.us_core_rng.random() < spec["rate"]


def add_implant(chart: Chart, key: str, years_ago: int | None = None) -> dict:
    spec = chart.tables.records["implants"][key]
    rng = chart.us_core_rng
    years = years_ago if years_ago is not None else rng.randint(*spec["years_ago"])
    implanted = chart.anchor - dt.timedelta(days=365 * years + rng.randint(0, 300))
    made = implanted - dt.timedelta(days=rng.randint(60, 400))
    expires = made + dt.timedelta(days=365 * 5)
    first13 = "0" + spec["gtin_prefix"] + f"{rng.randint(0, 99999):05d}"
    device_identifier = first13 + gtin_check_digit(first13)
    lot = f"L{rng.randint(1000, 9999)}"
    serial = f"{rng.randint(10_000_000, 99_999_999)}"
    hrf = f"(01){device_identifier}(11){made:%y%m%d}(17){expires:%y%m%d}(10){lot}(21){serial}"
    return chart.add({
        "resourceType": "Device", "id": chart.us_core_id(), "meta": codes.profile("us-core-implantable-device"),
        "udiCarrier": [{"deviceIdentifier": device_identifier, "issuer": "http://hl7.org/fhir/NamingSystem/gs1-di",
                        "jurisdiction": "http://hl7.org/fhir/NamingSystem/fda-udi", "carrierHRF": hrf,
                        "entryType": "barcode"}],
        "status": "active",
        "manufacturer": spec["manufacturer"],
        "manufactureDate": made.isoformat(),
        "expirationDate": expires.isoformat(),
        "lotNumber": lot,
        "serialNumber": serial,
        "deviceName": [{"name": spec["name"], "type": "udi-label-name"}],
        "modelNumber": spec["model"],
        "type": concept(codes.SNOMED, spec["snomed"], spec["display"]),
        "patient": chart.subject_with_name(),
        "note": [{"text": f"Implanted {implanted.isoformat()}."}],
    })
