"""Make ``patient_compartment.json`` from the published FHIR R4 (4.0.1) definitions.

Source: the FHIR R4 definitions, https://hl7.org/fhir/R4/definitions.json.zip, licensed CC0 1.0
(https://hl7.org/fhir/R4/license.html). Two of its files are read:

* ``profiles-resources.json`` for CompartmentDefinition/patient
  (http://hl7.org/fhir/CompartmentDefinition/patient): every resource type it lists and the search
  parameters that put a resource of that type in a patient's compartment;
* ``search-parameters.json`` for those parameters' SearchParameter definitions, of which the output keeps
  only the parts of ``expression`` and ``xpath`` that apply to the type at hand.

Nothing is typed by hand: run it again on the same definitions and the output is the same, byte for byte.

    python seed_data/fhir/make_patient_compartment.py DEFINITIONS [OUTPUT]

DEFINITIONS is the zip, or a folder holding the two files.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

FHIR_VERSION = "4.0.1"
COMPARTMENT_URL = "http://hl7.org/fhir/CompartmentDefinition/patient"
SOURCE = {
    "definitions": "https://hl7.org/fhir/R4/definitions.json.zip",
    "files": ["profiles-resources.json", "search-parameters.json"],
    "compartmentDefinition": COMPARTMENT_URL,
    "fhirVersion": FHIR_VERSION,
    "licence": "CC0 1.0 (https://hl7.org/fhir/R4/license.html)",
    "madeBy": "seed_data/fhir/make_patient_compartment.py",
}


def read_definition_file(definitions: Path, name: str) -> dict:
    if definitions.is_dir():
        return json.loads((definitions / name).read_text(encoding="utf-8"))
    with zipfile.ZipFile(definitions) as archive:
        return json.loads(archive.read(name))


def patient_compartment(profiles: dict) -> dict:
    found = [entry["resource"] for entry in profiles["entry"]
             if entry["resource"].get("resourceType") == "CompartmentDefinition"
             and entry["resource"].get("url") == COMPARTMENT_URL]
    if len(found) != 1 or found[0].get("version") != FHIR_VERSION:
        raise SystemExit(f"expected one {COMPARTMENT_URL} of version {FHIR_VERSION} in profiles-resources.json")
    return found[0]


def search_parameters(bundle: dict) -> dict[tuple[str, str], dict]:
    """The FHIR core SearchParameters of this version by (base type, code)."""
    by_base: dict[tuple[str, str], dict] = {}
    for entry in bundle["entry"]:
        parameter = entry["resource"]
        if parameter.get("version") != FHIR_VERSION or not parameter.get("url", "").startswith(
                "http://hl7.org/fhir/SearchParameter/"):
            continue
        for base in parameter.get("base", []):
            by_base[(base, parameter["code"])] = parameter
    return by_base


def parts_for(text: str, start: str) -> str:
    """The members of a ``|`` union that begin with ``start`` (one parameter may span several types)."""
    parts = [part.strip() for part in text.split("|")]
    return " | ".join(part for part in parts if part.lstrip("(").startswith(start))


def trimmed(compartment: dict, parameters: dict[tuple[str, str], dict]) -> dict:
    resources = []
    for listed in compartment["resource"]:
        rtype = listed["code"]
        params = []
        for code in listed.get("param", []):
            parameter = parameters[(rtype, code)]
            params.append({
                "code": code,
                "definition": parameter["url"],
                "type": parameter["type"],
                "expression": parts_for(parameter["expression"], f"{rtype}."),
                "xpath": parts_for(parameter["xpath"], f"f:{rtype}/"),
            })
        resources.append({"code": rtype, "param": params})
    return {"source": SOURCE, "code": compartment["code"], "date": compartment["date"], "resource": resources}


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    definitions = Path(argv[1])
    output = Path(argv[2]) if len(argv) == 3 else Path(__file__).with_name("patient_compartment.json")
    table = trimmed(patient_compartment(read_definition_file(definitions, "profiles-resources.json")),
                    search_parameters(read_definition_file(definitions, "search-parameters.json")))
    output.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
