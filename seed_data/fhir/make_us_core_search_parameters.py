"""Make ``us_core_search_parameters.json``: the SearchParameters US Core 6.1.0 defines beyond FHIR R4's own.

Source: US Core Implementation Guide 6.1.0 (http://hl7.org/fhir/us/core/STU6.1), its SearchParameter resources
as published in https://github.com/HL7/US-Core at tag ``6.1.0`` (``input/resources/searchparameter-*.json``),
licensed CC0 1.0 like the FHIR specification. Most US Core SearchParameters restate an R4 parameter (same base and
code): those are searched through the R4 definition (``search_parameters.json``) and left out here. The others —
``race``, ``ethnicity``, ``gender-identity``, ``asserted-date``, ``discharge-disposition``, ``description``
(Goal), ``role`` (CareTeam) — are translated into element paths exactly as make_search_parameters.py translates
R4 expressions (the R4 definitions are read for the choice elements), and listed per resource type.

Nothing is typed by hand: run it again on the same files and the output is the same, byte for byte.

    python seed_data/fhir/make_us_core_search_parameters.py R4_DEFINITIONS US_CORE_RESOURCES [OUTPUT]

R4_DEFINITIONS is as for make_search_parameters.py; US_CORE_RESOURCES is the folder of US Core's
``searchparameter-*.json`` files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from make_patient_compartment import FHIR_VERSION, read_definition_file
from make_search_parameters import COMMON_BASES, Translator, Untranslatable, elements, translate

US_CORE_VERSION = "6.1.0"
SOURCE = {
    "implementationGuide": "http://hl7.org/fhir/us/core/STU6.1",
    "repository": "https://github.com/HL7/US-Core",
    "tag": US_CORE_VERSION,
    "files": "input/resources/searchparameter-*.json",
    "fhirVersion": FHIR_VERSION,
    "licence": "CC0 1.0 (http://hl7.org/fhir/us/core/STU6.1/license.html)",
    "madeBy": "seed_data/fhir/make_us_core_search_parameters.py",
}


def core_codes(bundle: dict) -> set[tuple[str, str]]:
    """(base, code) of every R4 core SearchParameter; common ones under each base they name."""
    return {(base, entry["resource"]["code"]) for entry in bundle["entry"]
            for base in entry["resource"].get("base", [])}


def tables(us_core: list[dict], r4_bundle: dict, profiles: dict) -> dict:
    translator = Translator(elements(profiles))
    core = core_codes(r4_bundle)
    resource: dict[str, list[dict]] = {}
    omitted: list[dict] = []
    for parameter in sorted(us_core, key=lambda p: p["url"]):
        for base in sorted(parameter.get("base", [])):
            if (base, parameter["code"]) in core or any((b, parameter["code"]) in core for b in COMMON_BASES):
                continue  # the R4 parameter of that code is searched
            try:
                entry = translate(parameter, base, translator)
            except Untranslatable as refused:
                omitted.append({"base": base, "code": parameter["code"], "url": parameter["url"],
                                "type": parameter["type"], "expression": parameter.get("expression", ""),
                                "reason": str(refused)})
                continue
            resource.setdefault(base, []).append(entry)
    for entries in resource.values():
        entries.sort(key=lambda e: e["code"])
    return {"source": SOURCE, "resource": dict(sorted(resource.items())), "omitted": omitted}


def main(argv: list[str]) -> None:
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    definitions, folder = Path(argv[1]), Path(argv[2])
    output = Path(argv[3]) if len(argv) == 4 else Path(__file__).with_name("us_core_search_parameters.json")
    us_core = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]
    us_core = [p for p in us_core if p.get("resourceType") == "SearchParameter"]
    table = tables(us_core, read_definition_file(definitions, "search-parameters.json"),
                   read_definition_file(definitions, "profiles-resources.json"))
    output.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
