"""Make ``must_support.json`` from the published US Core 6.1.0 StructureDefinitions.

Source: HL7 FHIR US Core Implementation Guide 6.1.0 (https://hl7.org/fhir/us/core/STU6.1/), licensed CC0 1.0
(https://hl7.org/fhir/us/core/STU6.1/license.html). Its StructureDefinitions are read from either the package
``hl7.fhir.us.core#6.1.0`` (its ``package/`` folder) or the ``input/resources/`` folder of the IG's source
repository (https://github.com/HL7/US-Core) at tag ``6.1.0``.

For every resource profile the output lists:

* ``mustSupport``: the element ids flagged ``mustSupport: true`` in its differential and in the differentials
  of the US Core profiles it derives from;
* ``required``: the element ids the profile (or a US Core parent) makes mandatory (``min`` of 1 or more);
* ``types``: for choice elements (``[x]``) that the profile constrains, the types it allows.

Nothing is typed by hand: run it again on the same definitions and the output is the same, byte for byte.

    python seed_data/us_core/make_must_support.py DEFINITIONS [OUTPUT]

DEFINITIONS is a folder holding the StructureDefinition JSON files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

US_CORE_VERSION = "6.1.0"
SOURCE = {
    "implementationGuide": "http://hl7.org/fhir/us/core/ImplementationGuide/hl7.fhir.us.core",
    "version": US_CORE_VERSION,
    "published": "https://hl7.org/fhir/us/core/STU6.1/",
    "package": "hl7.fhir.us.core#6.1.0",
    "repository": "https://github.com/HL7/US-Core (tag 6.1.0, input/resources/)",
    "licence": "CC0 1.0 (https://hl7.org/fhir/us/core/STU6.1/license.html)",
    "madeBy": "seed_data/us_core/make_must_support.py",
}


def read_profiles(folder: Path) -> dict[str, dict]:
    """Resource profiles (not extensions or data types) by canonical URL."""
    profiles = {}
    for path in sorted(folder.glob("*.json")):
        if not path.name.lower().startswith("structuredefinition-"):
            continue
        definition = json.loads(path.read_text(encoding="utf-8"))
        if definition.get("resourceType") != "StructureDefinition" or definition.get("kind") != "resource":
            continue
        if definition.get("derivation") != "constraint":
            continue
        profiles[definition["url"]] = definition
    return profiles


def own_rules(definition: dict) -> tuple[list[str], list[str], dict[str, list[str]]]:
    must, required, types = [], [], {}
    root = definition["type"]
    for element in definition.get("differential", {}).get("element", []):
        element_id = element["id"]
        if element_id == root:
            continue
        if element.get("mustSupport") is True:
            must.append(element_id)
        if (element.get("min") or 0) >= 1:
            required.append(element_id)
        if element_id.endswith("[x]") and element.get("type"):
            types[element_id] = [kind["code"] for kind in element["type"]]
    return must, required, types


def merged_rules(url: str, profiles: dict[str, dict]) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """A profile's rules with those of its US Core ancestors first (a child only adds to them)."""
    definition = profiles[url]
    parent = definition.get("baseDefinition")
    must, required, types = ([], [], {}) if parent not in profiles else merged_rules(parent, profiles)
    own_must, own_required, own_types = own_rules(definition)
    return (list(dict.fromkeys(must + own_must)), list(dict.fromkeys(required + own_required)),
            {**types, **own_types})


def table(profiles: dict[str, dict]) -> dict:
    out = {}
    for url in sorted(profiles):
        definition = profiles[url]
        must, required, types = merged_rules(url, profiles)
        out[definition["id"]] = {"url": url, "type": definition["type"], "title": definition.get("title", ""),
                                 "baseDefinition": definition["baseDefinition"], "mustSupport": must,
                                 "required": required, "types": types}
    return {"source": SOURCE, "profiles": out}


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    output = Path(argv[2]) if len(argv) == 3 else Path(__file__).with_name("must_support.json")
    profiles = read_profiles(Path(argv[1]))
    if not profiles:
        raise SystemExit(f"no StructureDefinitions of resource profiles in {argv[1]}")
    output.write_text(json.dumps(table(profiles), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
