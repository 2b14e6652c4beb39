"""Imaging reports (US Core DiagnosticReport for report and note exchange): the radiologist's report of each chest
X-ray, its text in ``presentedForm``, based on the X-ray's order."""

from __future__ import annotations

import base64

from . import codes
from .record import Chart

PNEUMONIA = "pneumonia"


def add_imaging_reports(chart: Chart) -> None:
    reports = chart.tables.records["imaging_reports"]
    by_code = {chart.tables.procedures[key]["snomed"]: key for key in reports if not key.startswith("_")}
    visits = {visit.encounter["id"]: visit for visit in chart.visits}
    pneumonia = chart.tables.conditions["acute"][PNEUMONIA]["snomed"]
    for procedure in [r for r in chart.resources if r["resourceType"] == "Procedure"]:
        key = by_code.get(procedure["code"]["coding"][0]["code"])
        if key is None:
            continue
        spec = reports[key]
        visit = visits[procedure["encounter"]["reference"].removeprefix("Encounter/")]
        reasons = {c["code"] for concept in visit.encounter.get("reasonCode", []) for c in concept["coding"]}
        kind = PNEUMONIA if pneumonia in reasons else "other"
        text = f"{spec['display']}\n\nFindings: {spec['findings'][kind]}\n\nImpression: {spec['impressions'][kind]}\n"
        chart.add({
            "resourceType": "DiagnosticReport", "id": chart.us_core_id(),
            "meta": codes.profile("us-core-diagnosticreport-note"),
            **({"basedOn": list(procedure["basedOn"])} if "basedOn" in procedure else {}),
            "status": "final",
            "category": [codes.loinc(spec["category"], spec["category_display"])],
            "code": codes.loinc(spec["loinc"], spec["display"]),
            "subject": chart.subject(),
            "encounter": visit.ref,
            "effectiveDateTime": procedure["performedPeriod"]["start"],
            "issued": procedure["performedPeriod"]["end"],
            "performer": [chart.organization()],
            "conclusion": spec["impressions"][kind],
            "presentedForm": [{"contentType": "text/plain; charset=utf-8", "language": "en-US",
                               "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                               "title": f"{spec['display']} report"}],
        })
