"""The CapabilityStatement at ``/fhir/metadata`` (FHIR R4 capabilitystatement.html, http.html §3.1.0.11).

It lists every storable resource type with the interactions, search parameters and includes this
server supports. Clients discover the server from it: Python's fhirclient parses it with strict R4
models, so it holds only R4 elements. Marked REQUIRED where R4 sets min = 1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache

from flask import current_app

from .. import __version__
from ..store.query import RESULT_PARAMS, composite_unsupported
from ..store.resource_types import STORABLE_TYPES
from ..store.searchparams import COMPOSITE, REFERENCE, SPECIAL, SPECIAL_DOCS, SPECIAL_URLS, SearchParam, params_for
from ..store.validation import can_validate

SOFTWARE_NAME = "SMART Sandbox EHR"
TYPE_INTERACTIONS = ("read", "vread", "update", "patch", "delete", "create", "search-type", "history-instance",
                     "history-type")
SYSTEM_INTERACTIONS = ("transaction", "batch", "history-system")
EVERYTHING = {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
              "documentation": "The patient, their compartment and the resources it references. "
                               "Supports _since, _type, _count and _offset."}
WRITES = ("update", "patch", "create")
VALIDATE = {"name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
            "documentation": "The checks of a create (R4 model, required bindings, invariants, local references), "
                             "answered as an OperationOutcome; nothing is stored."}
# Bulk Data Access IG 2.0.0 (http://hl7.org/fhir/uv/bulkdata/): the server statement this one instantiates, and
# the canonical OperationDefinitions of its three kick-off endpoints (bulk/views.py).
BULK_DATA_SERVER = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
BULK_EXPORT_DOCS = ("Bulk Data export (asynchronous, Prefer: respond-async): _outputFormat (NDJSON), _since, _type, "
                    "_typeFilter, _elements, includeAssociatedData=RelevantProvenanceResources{}. Runs under the "
                    "token's scopes, as search does.")
SYSTEM_EXPORT = {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                 "documentation": BULK_EXPORT_DOCS.format("")}
PATIENT_EXPORT = {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
                  "documentation": BULK_EXPORT_DOCS.format(", patient (POST). Holds the patients' compartments, the "
                                                           "Provenance of their records and the Practitioners, "
                                                           "Organizations, Locations, Medications … they refer to")}
GROUP_EXPORT = {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
                "documentation": PATIENT_EXPORT["documentation"].replace("patients'", "active Patient members'")}

SECURITY_HOOK = "fhir.capability_security"
"""Key in ``app.extensions`` of a callable ``(base_url) -> dict`` giving ``rest[0].security``."""


def rest_security(base_url: str) -> dict | None:
    """``rest[0].security``: the SMART authorization server plugs in here (the ``SECURITY_HOOK`` extension:
    the SMART-on-FHIR service coding and the ``oauth-uris`` extension). None leaves it out."""
    hook: Callable[[str], dict | None] | None = current_app.extensions.get(SECURITY_HOOK)
    return hook(base_url) if hook else None


def capability_statement(base_url: str) -> dict:
    fhir_base = f"{base_url}/fhir"
    rest: dict = {
        "mode": "server",  # REQUIRED
        # R4 has no conditionalPatch element (R5 adds one), so conditional patch is told here.
        "documentation": "FHIR R4 API of the SMART Sandbox EHR: JSON only. Search is strict: a parameter or "
                         "modifier not listed for a type answers 400 naming it, unless the request sends "
                         "'Prefer: handling=lenient'. Result parameters: " + ", ".join(sorted(RESULT_PARAMS)) + ". "
                         "PATCH takes JSON Patch (application/json-patch+json), FHIRPath Patch (a Parameters "
                         "resource) or JSON Merge Patch (application/merge-patch+json), on [type]/[id] and "
                         "conditionally on [type]?[search].",
        "resource": resource_capabilities(),
        "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
        "operation": [SYSTEM_EXPORT],
    }
    security = rest_security(base_url)
    if security:
        rest["security"] = security
    return {
        "resourceType": "CapabilityStatement",
        "id": "smart-sandbox-ehr",
        "url": f"{fhir_base}/metadata",
        "instantiates": [BULK_DATA_SERVER],
        "version": __version__,
        "name": "SmartSandboxEhr",
        "title": f"{SOFTWARE_NAME} FHIR R4 server",
        "status": "active",  # REQUIRED
        "experimental": True,
        "date": dt.datetime.now(dt.UTC).date().isoformat(),  # REQUIRED
        "publisher": SOFTWARE_NAME,
        "description": "A sandbox EHR for testing SMART on FHIR apps against synthetic patients.",
        "kind": "instance",  # REQUIRED
        "software": {"name": SOFTWARE_NAME, "version": __version__},
        "implementation": {"description": f"{SOFTWARE_NAME} at {base_url}", "url": fhir_base},
        "fhirVersion": "4.0.1",  # REQUIRED
        "format": ["json", "application/fhir+json"],  # REQUIRED
        "rest": [rest],
    }


@cache
def resource_capabilities() -> list[dict]:
    """``rest[0].resource``, built once per process (shared: never modify it)."""
    return [resource_capability(rtype) for rtype in sorted(STORABLE_TYPES)]


def resource_capability(rtype: str) -> dict:
    params = params_for(rtype)
    writable = can_validate(rtype)  # a type whose writes cannot be checked is not written at all
    entry: dict = {
        "type": rtype,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
        "interaction": [{"code": code} for code in TYPE_INTERACTIONS if writable or code not in WRITES],
        "versioning": "versioned",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": True,
        "conditionalDelete": "multiple",
        "referencePolicy": ["literal", "local"],
        "searchInclude": [f"{rtype}:{p.name}" for p in params.values() if p.kind == REFERENCE],
        "searchRevInclude": revincludes_of(rtype),
        "searchParam": [search_param_capability(rtype, name, kind) for name, kind in SPECIAL.items()]
        + [search_param_capability(rtype, p.name, p.kind, p) for p in params.values() if supported(p)],
    }
    if not entry["searchInclude"]:
        del entry["searchInclude"]
    if not entry["searchRevInclude"]:
        del entry["searchRevInclude"]
    entry["operation"] = {"Patient": [EVERYTHING, PATIENT_EXPORT], "Group": [GROUP_EXPORT]}.get(rtype, [])
    if writable:
        entry["operation"].append(VALIDATE)
    else:
        entry["documentation"] = f"Not writable: this server has no model to validate a {rtype} with."
    if not entry["operation"]:
        del entry["operation"]
    return entry


def supported(param: SearchParam) -> bool:
    """Whether search answers this parameter (a composite of an unsupported shape is refused)."""
    return param.kind != COMPOSITE or composite_unsupported(param) is None


def search_param_capability(rtype: str, name: str, kind: str, param: SearchParam | None = None) -> dict:
    """One ``searchParam`` entry, with the official canonical url of the R4 SearchParameter it implements."""
    definition = param.url if param else SPECIAL_URLS[name]
    documentation = param.description if param else SPECIAL_DOCS[name]
    result = {"name": name, "definition": definition, "type": kind}
    if documentation:
        result["documentation"] = documentation
    return result


def revincludes_of(target: str) -> list[str]:
    """``Source:param`` for every reference parameter whose R4 definition names ``target`` among its targets."""
    by_target = _revincludes()
    return sorted(by_target.get(target, []) + by_target.get("", []), key=_source_order)


@cache
def _revincludes() -> dict[str, list[str]]:
    """Target type ("" for parameters without declared targets) → ``Source:param`` of the references to it."""
    found: dict[str, list[str]] = {}
    for source in sorted(STORABLE_TYPES):
        for param in params_for(source).values():
            if param.kind == REFERENCE:
                for target in param.targets or ("",):
                    found.setdefault(target, []).append(f"{source}:{param.name}")
    return found


def _source_order(item: str) -> tuple[str, int]:
    source, _, name = item.partition(":")
    return source, list(params_for(source)).index(name)
