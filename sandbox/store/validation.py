"""Validation on write: R4B models from fhir.resources where one exists, plus the checks they skip."""

from __future__ import annotations

import re
from functools import cache

from pydantic import ValidationError

from .errors import InvalidRequest, Unprocessable
from .resource_types import STORABLE_TYPES

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@cache
def _model(resource_type: str):
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


def check_type(resource_type: str) -> None:
    if resource_type not in STORABLE_TYPES:
        raise InvalidRequest(f"'{resource_type}' is not a FHIR R4 resource type that can be stored",
                             code="not-supported")


def check_id(resource_id: str) -> None:
    if not isinstance(resource_id, str) or not ID_PATTERN.match(resource_id):
        raise InvalidRequest(f"'{resource_id}' is not a valid resource id (1-64 of A-Z a-z 0-9 - .)")


def validate(resource: object) -> dict:
    """Check a resource body and return it. Raises Unprocessable with the first problems found."""
    if not isinstance(resource, dict):
        raise InvalidRequest("The body must be a JSON object holding a FHIR resource")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        raise InvalidRequest("The resource has no resourceType")
    check_type(rtype)
    if "id" in resource:
        check_id(resource["id"])
    model = _model(rtype)
    if model is not None:
        try:
            model.model_validate(resource)
        except ValidationError as exc:
            raise Unprocessable(f"{rtype} is not valid: {_summarize(exc)}") from None
        except (ValueError, TypeError, LookupError) as exc:  # fhir.resources raises KeyError for unknown types
            raise Unprocessable(f"{rtype} is not valid: {exc}") from None
    return resource


def _summarize(exc: ValidationError, limit: int = 5) -> str:
    problems = []
    for error in exc.errors()[:limit]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
        message = error.get("msg", "invalid")
        problems.append(f"{location}: {message}" if location else message)
    more = exc.error_count() - limit
    if more > 0:
        problems.append(f"and {more} more")
    return "; ".join(problems)
