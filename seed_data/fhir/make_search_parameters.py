"""Make ``search_parameters.json`` from the published FHIR R4 (4.0.1) definitions.

Source: the FHIR R4 definitions, https://hl7.org/fhir/R4/definitions.json.zip, licensed CC0 1.0
(https://hl7.org/fhir/R4/license.html). Two of its files are read:

* ``search-parameters.json``: every core SearchParameter (http://hl7.org/fhir/SearchParameter/...), its code,
  type, canonical url, description, targets and FHIRPath ``expression``;
* ``profiles-resources.json``: the resource StructureDefinitions, to know which elements are choice types
  (``Observation.effective[x]``) and which of their types a parameter can read.

Each expression is translated, for each base type, into the element paths the store's indexer reads: dotted
paths below the resource, choice types spelled out (``(Observation.value as Quantity)`` →
``valueQuantity``; a bare choice element → each variant of a type the parameter can search), ``.where(k='v')``
filters as ``step[k=v]``, ``|`` unions as several paths, and ``.where(resolve() is Type)`` as the parameter's
target types. A composite keeps its element paths (``""``: the resource itself) and the paths of each component
below them. A parameter whose expression has another form (an index ``[0]``, ``exists()``, ``%resource``, no
expression at all …) is left out and listed under ``omitted`` with the reason, so a search with it is refused.

Nothing is typed by hand: run it again on the same definitions and the output is the same, byte for byte.

    python seed_data/fhir/make_search_parameters.py DEFINITIONS [OUTPUT]

DEFINITIONS is the zip, or a folder holding the two files.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from make_patient_compartment import FHIR_VERSION, read_definition_file

SOURCE = {
    "definitions": "https://hl7.org/fhir/R4/definitions.json.zip",
    "files": ["search-parameters.json", "profiles-resources.json"],
    "fhirVersion": FHIR_VERSION,
    "licence": "CC0 1.0 (https://hl7.org/fhir/R4/license.html)",
    "madeBy": "seed_data/fhir/make_search_parameters.py",
}
CORE = "http://hl7.org/fhir/SearchParameter/"
COMMON_BASES = ("Resource", "DomainResource")

# FHIR R4 search.html §3.1.1.5 (per search parameter type): the data types each type of parameter can search.
SEARCHABLE_TYPES = {
    "number": {"decimal", "integer", "positiveInt", "unsignedInt"},
    "date": {"date", "dateTime", "instant", "Period"},
    "string": {"string", "markdown", "HumanName", "Address"},
    "token": {"code", "Coding", "CodeableConcept", "Identifier", "ContactPoint", "boolean", "string", "uri", "id"},
    "reference": {"Reference", "canonical", "uri"},
    "quantity": {"Quantity", "Age", "Duration", "Count", "Distance", "Money", "SimpleQuantity", "Range"},
    "uri": {"uri", "url", "canonical", "oid", "uuid"},
}
_WHERE_VALUE = re.compile(r"^where\((\w+)\s*=\s*'([^'\]]+)'\)$")
_WHERE_RESOLVE = re.compile(r"^where\(resolve\(\) is (\w+)\)$")
_AS_FUNCTION = re.compile(r"^(?:as|ofType)\((\w+)\)$")
_AS_OPERATOR = re.compile(r"^(.*\S)\s+as\s+(\w+)$")
_NAME = re.compile(r"^[A-Za-z]\w*$")


class Untranslatable(Exception):
    """An expression this translation cannot turn into element paths; the message says why."""


def elements(profiles: dict) -> dict[str, dict]:
    """Every element of every resource StructureDefinition, by path."""
    found = {}
    for entry in profiles["entry"]:
        definition = entry["resource"]
        if definition.get("resourceType") == "StructureDefinition" and definition.get("kind") == "resource":
            for element in definition["snapshot"]["element"]:
                found[element["path"]] = element
    return found


def split_top(text: str, separator: str) -> list[str]:
    """``text`` split on ``separator`` outside parentheses and quotes."""
    parts, depth, quoted, current = [], 0, False, []
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == separator and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [part.strip() for part in parts]


def unwrap(text: str) -> str:
    """``text`` without parentheses around the whole of it."""
    while text.startswith("(") and text.endswith(")") and _closes_at_end(text):
        text = text[1:-1].strip()
    return text


def _closes_at_end(text: str) -> bool:
    depth = 0
    for index, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and index < len(text) - 1:
            return False
    return True


def steps_of(expression: str) -> list[str]:
    """``(A.b as T).c.where(x='y')`` → ``['A', 'b', 'as(T)', 'c', "where(x='y')"]``."""
    expression = unwrap(expression)
    head = split_top(expression, ".")
    if len(head) == 1 and (match := _AS_OPERATOR.match(expression)) and "(" not in match[1]:
        return [*steps_of(match[1]), f"as({match[2]})"]
    steps: list[str] = []
    for step in head:
        if step.startswith("("):
            steps.extend(steps_of(step))
        elif (match := _AS_OPERATOR.match(step)) and _NAME.match(match[1]):
            steps.extend([match[1], f"as({match[2]})"])
        else:
            steps.append(step)
    return steps


class Translator:
    """Turns one union member of an expression into element paths below ``rtype``."""

    def __init__(self, known: dict[str, dict]):
        self.known = known

    def element(self, path: str) -> dict | None:
        """The definition of an element path, following ``contentReference`` (``Questionnaire.item.item``)."""
        if path in self.known:
            return self.known[path]
        head, _, last = path.rpartition(".")
        if not head:
            return None
        parent = self.element(head)
        if parent and parent.get("contentReference"):
            return self.element(parent["contentReference"].lstrip("#") + "." + last)
        if parent:
            return self.known.get(f"{parent['path']}.{last}") or self.known.get(f"{parent['path']}.{last}[x]")
        return None

    def member(self, rtype: str, member: str, kind: str) -> tuple[list[str], str | None]:
        """The paths of one union member and the type its references must resolve to (or None)."""
        steps = steps_of(member)
        if not steps or steps[0] != rtype:
            if steps and _NAME.match(steps[0]) and steps[0][0].islower():
                steps = [rtype, *steps]  # ``name | alias``: members relative to the base type
            else:
                raise Untranslatable(f"'{member}' does not start at {rtype}")
        resolved = None
        if (match := _WHERE_RESOLVE.match(steps[-1])):
            resolved = match[1]
            steps = steps[:-1]
        paths = [""]
        element_path = rtype
        index = 1
        while index < len(steps):
            step = steps[index]
            following = steps[index + 1] if index + 1 < len(steps) else ""
            if _WHERE_VALUE.match(step):
                key, value = _WHERE_VALUE.match(step).groups()
                paths = [f"{path}[{key}={value}]" for path in paths]
                index += 1
                continue
            if not _NAME.match(step):
                raise Untranslatable(f"'{step}' in '{member}' is not an element, a type cast or a where(k='v') filter")
            element_path = f"{element_path}.{step}"
            definition = self.element(element_path)
            choice = definition is not None and definition["path"].endswith("[x]")
            cast = _AS_FUNCTION.match(following)
            # R4 extensibility.html: Extension.value[x] may be of any type; the indexer reads each variant.
            extension_value = definition is None and step == "value" and element_path.split(".")[-2] == "extension"
            if extension_value and not cast:
                names = ["value[x]"]
            elif cast:
                last = index + 2 == len(steps)
                if last and kind in SEARCHABLE_TYPES and cast[1] not in SEARCHABLE_TYPES[kind] | {"DateTime"}:
                    raise Untranslatable(f"{element_path} as {cast[1]}: a {cast[1]} cannot be searched as a {kind}")
                names = [step + cast[1][0].upper() + cast[1][1:]]
                index += 1
            elif choice:
                types = [t["code"] for t in definition.get("type", []) if t["code"] in SEARCHABLE_TYPES.get(kind, ())]
                if not types:
                    raise Untranslatable(f"no type of the choice {definition['path']} can be searched as a {kind}")
                names = [step + t[0].upper() + t[1:] for t in types]
            else:
                names = [step]
            paths = [f"{path}.{name}" if path else name for path in paths for name in names]
            index += 1
        return paths, resolved


def description_for(parameter: dict, rtype: str) -> str:
    """The parameter's description for one base type (shared definitions list one line per type)."""
    text = parameter.get("description", "").strip()
    if not text.startswith("Multiple Resources"):
        return text
    for line in text.splitlines():
        match = re.match(r"^\* \[(\w+)\]\([^)]*\): (.*)$", line.strip())
        if match and match[1] == rtype:
            return match[2].strip()
    return ""


def translate(parameter: dict, rtype: str, translator: Translator) -> dict:
    """The entry of one parameter on one base type; raises Untranslatable."""
    kind = parameter["type"]
    expression = parameter.get("expression")
    if not expression:
        raise Untranslatable("the definition has no expression")
    if kind == "special":
        raise Untranslatable("special parameters have no element paths")
    members = [m for m in split_top(expression, "|") if rtype == COMMON_BASES[0] or _applies(m, rtype)]
    if not members:
        raise Untranslatable(f"no part of '{expression}' applies to {rtype}")
    entry: dict = {"code": parameter["code"], "type": kind, "url": parameter["url"],
                   "description": description_for(parameter, rtype)}
    paths: list[str] = []
    resolved: set[str | None] = set()
    unread: list[str] = []
    for member in members:
        try:
            if kind == "composite" and member == rtype:
                found, resolves = [""], None
            else:
                found, resolves = translator.member(rtype, member, kind)
        except Untranslatable as refused:
            unread.append(str(refused))
            continue
        paths.extend(found)
        resolved.add(resolves)
    if not paths:
        raise Untranslatable("; ".join(unread))
    if len(resolved) > 1 and None in resolved:
        raise Untranslatable("some parts of the expression restrict the referenced type and some do not")
    targets = sorted(parameter.get("target", []))
    if resolved != {None}:
        targets = sorted(t for t in resolved if t)
    if targets:
        entry["target"] = targets
    entry["paths"] = list(dict.fromkeys(paths))
    if unread:
        entry["unread"] = unread  # parts of the expression left out of the index
    if kind == "composite":
        entry["components"] = []
    return entry


def _applies(member: str, rtype: str) -> bool:
    steps = steps_of(member)
    return bool(steps) and (steps[0] == rtype or steps[0][0].islower())


def composite_components(entry: dict, parameter: dict, rtype: str, by_url: dict[str, dict],
                         translator: Translator) -> list[dict]:
    """Each component's definition url, type and paths, relative to the composite's element paths."""
    components = []
    for component in parameter["component"]:
        definition = by_url.get(component["definition"])
        if definition is None:
            raise Untranslatable(f"component {component['definition']} is not defined")
        if "%resource" in component["expression"]:
            raise Untranslatable("a component reads %resource, outside the composite's element")
        kind = definition["type"]
        paths: list[str] = []
        for element_path in entry["paths"]:
            if "[" in element_path:
                raise Untranslatable(f"the composite's element '{element_path}' is filtered")
            prefix = f"{element_path}." if element_path else ""
            for member in split_top(component["expression"], "|"):
                found, _ = translator.member(rtype, f"{rtype}.{prefix}{unwrap(member)}", kind)
                paths.extend(path[len(prefix):] for path in found)
        components.append({"definition": component["definition"], "type": kind,
                           "paths": list(dict.fromkeys(paths))})
    return components


def tables(bundle: dict, profiles: dict) -> dict:
    translator = Translator(elements(profiles))
    parameters = [entry["resource"] for entry in bundle["entry"]
                  if entry["resource"].get("version") == FHIR_VERSION
                  and entry["resource"].get("url", "").startswith(CORE)]
    by_url = {parameter["url"]: parameter for parameter in parameters}
    resource: dict[str, list[dict]] = {}
    common: list[dict] = []
    omitted: list[dict] = []
    for parameter in sorted(parameters, key=lambda p: p["url"]):
        for base in sorted(parameter.get("base", [])):
            rtype = "Resource" if base in COMMON_BASES else base
            try:
                entry = translate(parameter, rtype, translator)
                if parameter["type"] == "composite":
                    entry["components"] = composite_components(entry, parameter, rtype, by_url, translator)
            except Untranslatable as refused:
                omitted.append({"base": base, "code": parameter["code"], "url": parameter["url"],
                                "type": parameter["type"], "expression": parameter.get("expression", ""),
                                "reason": str(refused)})
                continue
            (common if base in COMMON_BASES else resource.setdefault(base, [])).append(entry)
    for entries in resource.values():
        entries.sort(key=lambda e: e["code"])
    common.sort(key=lambda e: e["code"])
    omitted.sort(key=lambda o: (o["base"], o["code"]))
    return {"source": SOURCE, "common": common, "resource": dict(sorted(resource.items())), "omitted": omitted}


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    definitions = Path(argv[1])
    output = Path(argv[2]) if len(argv) == 3 else Path(__file__).with_name("search_parameters.json")
    table = tables(read_definition_file(definitions, "search-parameters.json"),
                   read_definition_file(definitions, "profiles-resources.json"))
    output.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
