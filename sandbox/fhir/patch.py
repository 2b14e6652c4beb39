"""The patch interaction (FHIR R4 http.html §3.1.0.6): ``PATCH [type]/[id]`` and conditional
``PATCH [type]?[search]``.

The patched resource is written by ``interactions.update``, so a patch is validated, versioned, access
checked and recorded in history exactly as a PUT of the same result would be. Before the patch is applied,
the access policy is asked whether this resource may be updated at all, so a refused token learns nothing
from a ``test`` operation's answer; a stale ``If-Match`` fails with 412 (R4 §3.1.0.6: version-aware patch).

Three kinds of patch document, chosen by media type:

- JSON Patch (RFC 6902), ``application/json-patch+json``: the format R4 names for JSON;
- FHIRPath Patch (R4 fhirpatch.html), a ``Parameters`` resource sent as ``application/fhir+json``;
- JSON Merge Patch (RFC 7396), ``application/merge-patch+json``, or any other JSON object sent as
  ``application/json`` or ``application/fhir+json``: what clients such as fhirpy send for
  ``patch(active=False)``: the elements to set, ``null`` for the ones to remove.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..store.errors import InvalidRequest, NotFound, PreconditionFailed, UnsupportedMediaType
from ..store.validation import check_id
from .access import UPDATE
from .fhirpath_patch import apply_fhirpath_patch
from .formats import JSON_BODY_TYPES, parse_json
from .interactions import Answer, Context, known_type, parse_version, update
from .json_patch import apply_json_patch, apply_merge_patch
from .references import AmbiguousReference, find_matches

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
FHIRPATH_PATCH = "fhirpath-patch"  # not a media type: a Parameters resource in FHIR JSON
PATCH_MEDIA_TYPES = (JSON_PATCH, MERGE_PATCH, *sorted(JSON_BODY_TYPES))


def patch_document(mimetype: str, body: bytes | str) -> tuple[str, Any]:
    """(kind, document) of a PATCH request body: 415 for a media type that is not a patch format."""
    if mimetype not in PATCH_MEDIA_TYPES:
        raise UnsupportedMediaType(f"A PATCH body must be {JSON_PATCH} (RFC 6902), a FHIRPath Patch Parameters "
                                   f"resource as application/fhir+json, or {MERGE_PATCH} (RFC 7396); "
                                   f"not {mimetype or 'no Content-Type'}")
    document = parse_json(body)
    if mimetype == JSON_PATCH or isinstance(document, list):
        return JSON_PATCH, document
    if mimetype != MERGE_PATCH and isinstance(document, dict) and document.get("resourceType") == "Parameters":
        return FHIRPATH_PATCH, document
    return MERGE_PATCH, document


def bundle_patch_document(resource: Any, label: str) -> tuple[str, Any]:
    """The patch of a Bundle entry (R4 http.html §3.1.0.11.1): a Binary holding the JSON Patch in ``data``
    (base64) with its ``contentType``, or a FHIRPath Patch Parameters resource."""
    if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
        return FHIRPATH_PATCH, resource
    if not isinstance(resource, dict) or resource.get("resourceType") != "Binary":
        raise InvalidRequest(f"{label}: a PATCH entry's resource must be a Binary holding a JSON Patch "
                             "(contentType application/json-patch+json) or a FHIRPath Patch Parameters resource")
    content_type = str(resource.get("contentType", "")).split(";")[0].strip().lower()
    try:
        data = base64.b64decode(str(resource.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{label}: Binary.data is not base64") from None
    return patch_document(content_type, data)


def apply_patch(kind: str, document: Any, resource: dict) -> dict:
    if kind == JSON_PATCH:
        return apply_json_patch(document, resource)
    if kind == FHIRPATH_PATCH:
        return apply_fhirpath_patch(document, resource)
    return apply_merge_patch(document, resource)


def patch(ctx: Context, rtype: str, rid: str, kind: str, document: Any, if_match: str | None = None,
          prefer_return: str | None = None) -> Answer:
    """patch (R4 §3.1.0.6): 404 for an unknown resource, 410 for a deleted one, 412 for a stale If-Match;
    the result must be a valid resource of the same type and id."""
    known_type(rtype)
    check_id(rid)
    version = parse_version(if_match)
    with ctx.store.transaction():
        existing = ctx.store.read(rtype, rid)
        ctx.policy.check_write(UPDATE, rtype, None, existing)
        if version is not None and version != existing.version:
            raise PreconditionFailed(f"If-Match asked for version {version} but the current version is "
                                     f"{existing.version}")
        patched = apply_patch(kind, document, existing.resource)
        if not isinstance(patched, dict) or patched.get("resourceType") != rtype or patched.get("id") != rid:
            raise InvalidRequest(f"The patch changes the resource's type or id; the result must still be "
                                 f"{rtype}/{rid}")
        return update(ctx, rtype, rid, patched, if_match, prefer_return)


def conditional_patch(ctx: Context, rtype: str, query_text: str, kind: str, document: Any,
                      if_match: str | None = None, prefer_return: str | None = None) -> Answer:
    """``PATCH [type]?[search]`` (R4 §3.1.0.6): one match is patched; none is 404, several are 412."""
    known_type(rtype)
    with ctx.store.transaction():
        matches = find_matches(ctx.store, rtype, query_text, ctx.policy.search_filters)
        if not matches:
            raise NotFound(f"The conditional patch '{rtype}?{query_text}' matches no {rtype}")
        if len(matches) > 1:
            raise AmbiguousReference(f"The conditional patch '{rtype}?{query_text}' matches more than one {rtype}")
        return patch(ctx, rtype, matches[0].id, kind, document, if_match, prefer_return)
