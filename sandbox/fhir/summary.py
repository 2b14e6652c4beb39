"""``_summary`` and ``_elements`` (FHIR R4 search.html §3.1.1.5.8-9): return part of each resource.

Summary elements are those the R4B model marks ``summary_element_property``. A resource that lost
elements carries the SUBSETTED tag, so no client mistakes it for the whole record.
"""

from __future__ import annotations

from functools import cache

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
ALWAYS_KEPT = ("resourceType", "id", "meta")


@cache
def _element_sets(resource_type: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """(summary elements, mandatory elements) of a type, by JSON name; None without an R4B model."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None
    summary, mandatory = set(), set()
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        key = field.alias or name
        if extra.get("summary_element_property"):
            summary.add(key)
        if extra.get("element_required") or field.is_required():
            mandatory.add(key)
    return frozenset(summary), frozenset(mandatory)


def subset(resource: dict, summary: str | None = None, elements: tuple[str, ...] = ()) -> dict:
    """The part of ``resource`` asked for; the resource itself when nothing is left out."""
    if summary in (None, "false") and not elements:
        return resource
    rtype = resource.get("resourceType", "")
    if summary == "data":
        kept = {k: v for k, v in resource.items() if k not in ("text", "_text")}
    elif summary == "text":
        sets = _element_sets(rtype)
        mandatory = sets[1] if sets else frozenset()
        kept = _keep(resource, {"text", *mandatory})
    elif summary == "true":
        sets = _element_sets(rtype)
        if sets is None:
            return resource
        kept = _keep(resource, sets[0])
    else:
        wanted = {e.split(".", 1)[1] if e.startswith(rtype + ".") else e for e in elements}
        kept = _keep(resource, wanted)
    if len(kept) == len(resource):
        return resource
    return _tag_subsetted(kept)


def _keep(resource: dict, names: set[str] | frozenset[str]) -> dict:
    return {k: v for k, v in resource.items()
            if k in ALWAYS_KEPT or k in names or (k.startswith("_") and k[1:] in names)}


def _tag_subsetted(resource: dict) -> dict:
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag") or [] if not (isinstance(t, dict) and t.get("code") == "SUBSETTED")]
    meta["tag"] = [*tags, SUBSETTED]
    result = {"resourceType": resource["resourceType"]}
    if "id" in resource:
        result["id"] = resource["id"]
    result["meta"] = meta
    result.update({k: v for k, v in resource.items() if k not in ALWAYS_KEPT})
    return result
