"""Validation on write (FHIR R4 http.html §3.1.0.4.1, validation.html): the R4B model of fhir.resources, the
required value-set bindings of R4 (bindings.py) and a few R4 invariants (invariants.py). A type without a
model is refused rather than stored unchecked."""

from __future__ import annotations

import re
from functools import cache

from pydantic import ValidationError

from .bindings import binding_issues
from .errors import InvalidRequest, InvalidResource, Issue, NotSupported
from .invariants import invariant_issues
from .resource_types import STORABLE_TYPES

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@cache
def _model(resource_type: str):
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


def can_validate(resource_type: str) -> bool:
    """Whether writes of this type can be checked (fhir.resources has an R4B model of it); others are refused."""
    return _model(resource_type) is not None


def check_type(resource_type: str) -> None:
    if resource_type not in STORABLE_TYPES:
        raise InvalidRequest(f"'{resource_type}' is not a FHIR R4 resource type that can be stored",
                             code="not-supported")


def check_id(resource_id: str) -> None:
    if not isinstance(resource_id, str) or not ID_PATTERN.match(resource_id):
        raise InvalidRequest(f"'{resource_id}' is not a valid resource id (1-64 of A-Z a-z 0-9 - .)")


def validate(resource: object) -> dict:
    """Check a resource body and return it: 400 when it cannot be checked, 422 naming every element that breaks
    the R4 model, a required binding or an invariant."""
    problems = resource_problems(resource)
    if problems:
        raise InvalidResource.of(problems)
    return resource  # type: ignore[return-value]


def resource_problems(resource: object) -> list[Issue]:
    """The problems of a resource body, one per element (empty when it is valid). Raises InvalidRequest (400)
    when the body is not a resource of a type this server can check."""
    if not isinstance(resource, dict):
        raise InvalidRequest("The body must be a JSON object holding a FHIR resource")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        raise InvalidRequest("The resource has no resourceType")
    check_type(rtype)
    if "id" in resource:
        check_id(resource["id"])
    model = _model(rtype)
    if model is None:  # see can_validate
        raise NotSupported(f"{rtype} cannot be validated by this server (it has no model for it), so it is not "
                           "stored")
    problems = model_problems(model, resource)
    return problems + binding_issues(resource) + invariant_issues(resource)


def model_problems(model, resource: dict, limit: int = 10) -> list[Issue]:
    """What the R4B model refuses: unknown or missing elements, wrong types, bad dates."""
    rtype = resource["resourceType"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        issues = []
        for error in exc.errors()[:limit]:
            path = _path(rtype, error.get("loc", ()))
            issues.append(Issue(path, f"{path} is not valid: {error.get('msg', 'invalid')}", "structure"))
        if exc.error_count() > limit:
            issues.append(Issue(rtype, f"{rtype} has {exc.error_count() - limit} more problems", "structure"))
        return issues
    except (ValueError, TypeError, LookupError) as exc:  # fhir.resources raises KeyError for unknown types
        return [Issue(rtype, f"{rtype} is not valid: {exc}", "structure")]
    return []


def _path(rtype: str, location: tuple) -> str:
    path = rtype
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "__root__":
            path += f".{part}"
    return path
