"""The Patient compartment of FHIR R4 (CompartmentDefinition/patient, 4.0.1), loaded as data.

FHIR R4 compartmentdefinition.html: "A resource is in this compartment if the nominated search parameter
(or chain) refers to the patient resource that defines the compartment"; a Patient is also in its own
compartment. ``seed_data/fhir/patient_compartment.json`` is made from the published definitions by
``seed_data/fhir/make_patient_compartment.py`` (source and licence are named in the file): each type the
CompartmentDefinition lists, with the R4 SearchParameter expressions of its compartment parameters. Here
those FHIRPath expressions become the dotted element paths the index reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parents[2] / "seed_data" / "fhir" / "patient_compartment.json"

# ``Observation.subject`` or ``Procedure.performer.actor``, optionally narrowed to references that resolve to a
# Patient: the only forms the R4 compartment parameters use. Anything else is refused at load.
_MEMBER = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)\.(?P<path>[a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*)*)"
                     r"(?:\.where\(resolve\(\) is Patient\))?$")


@dataclass(frozen=True)
class CompartmentParam:
    """One search parameter that puts a resource in a patient's compartment."""

    code: str
    paths: tuple[str, ...]
    expression: str


def element_paths(resource_type: str, expression: str) -> tuple[str, ...]:
    """The dotted paths (below the resource) a SearchParameter expression reads, for one resource type."""
    paths = []
    for member in (part.strip() for part in expression.split("|")):
        match = _MEMBER.match(member)
        if not match or match["type"] != resource_type:
            raise ValueError(f"{resource_type}: cannot read the compartment expression '{member}'")
        paths.append(match["path"])
    return tuple(dict.fromkeys(paths))


def load(path: Path = DATA_FILE) -> dict[str, tuple[CompartmentParam, ...]]:
    """Every resource type the definition lists, with its compartment parameters (none: never in one)."""
    definition = json.loads(path.read_text(encoding="utf-8"))
    if definition["code"] != "Patient" or definition["source"]["fhirVersion"] != "4.0.1":
        raise ValueError(f"{path} is not the FHIR R4 Patient CompartmentDefinition")
    return {
        listed["code"]: tuple(
            CompartmentParam(param["code"], element_paths(listed["code"], param["expression"]), param["expression"])
            for param in listed["param"])
        for listed in definition["resource"]
    }


LISTED_TYPES: dict[str, tuple[CompartmentParam, ...]] = load()
"""Each resource type of the definition → its compartment parameters (empty: never in a patient compartment)."""

COMPARTMENT_PARAMS: dict[str, tuple[CompartmentParam, ...]] = {
    rtype: params for rtype, params in LISTED_TYPES.items() if params}
"""The types that may be in a patient compartment → the parameters that put them there."""

COMPARTMENT_TYPES = frozenset(COMPARTMENT_PARAMS) | {"Patient"}
"""Types whose resources belong to patient compartments (a Patient always to its own)."""
