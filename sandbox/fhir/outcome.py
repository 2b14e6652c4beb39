"""OperationOutcome: the one error shape of the FHIR API (FHIR R4 §3.1.0.4 and operationoutcome.html).

Every FhirError, every werkzeug HTTPException under /fhir and any unexpected exception becomes an
OperationOutcome with severity ``error``, an issue code from the IssueType value set and diagnostics
that say what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, current_app
from werkzeug.exceptions import HTTPException

from ..store.errors import FhirError, Issue
from .formats import fhir_response

# IssueType codes (http://hl7.org/fhir/issue-type) for plain HTTP errors.
HTTP_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
}


def operation_outcome(diagnostics: str, code: str = "processing", severity: str = "error") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def issue_outcome(issues: Iterable[Issue], severity: str = "error") -> dict:
    """An OperationOutcome with one issue per element; ``expression`` (R4) and ``location`` (the older
    XPath-style element, here the same simple path) both name the element."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": issue.code, "diagnostics": issue.diagnostics,
                   "location": [issue.expression], "expression": [issue.expression]} for issue in issues],
    }


def information(diagnostics: str) -> dict:
    return operation_outcome(diagnostics, code="informational", severity="information")


def outcome_of(exc: BaseException) -> tuple[int, dict, dict[str, str]]:
    """(status, OperationOutcome, headers) for any exception."""
    if isinstance(exc, FhirError) and exc.issues:
        return exc.status, issue_outcome(exc.issues), dict(exc.headers)
    if isinstance(exc, FhirError):
        return exc.status, operation_outcome(exc.message, exc.code), dict(exc.headers)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        headers = {}
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        message = f"{exc.name}: {exc.description}" if exc.description else str(exc.name)
        return status, operation_outcome(message, HTTP_ISSUE_CODES.get(status, "exception")), headers
    current_app.logger.exception("Unexpected error in the FHIR API")
    return 500, operation_outcome(f"Internal server error ({type(exc).__name__}); the server log has details",
                                  "exception"), {}


def error_response(exc: BaseException) -> Response:
    status, body, headers = outcome_of(exc)
    return fhir_response(body, status, headers)
