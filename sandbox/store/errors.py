"""Errors of the FHIR store and API. Each class carries its HTTP status and OperationOutcome issue code,
so one handler renders them all (see fhir/outcome.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem with one element of a resource: an OperationOutcome.issue with its ``expression``."""

    expression: str  # the element, as a FHIRPath simple path such as ``Patient.gender``
    diagnostics: str  # a sentence that begins with the element: "Patient.gender 'xx' is not a code of …"
    code: str = "invalid"  # IssueType: code-invalid, invariant, not-found, structure …

    def __str__(self) -> str:
        return self.diagnostics


class FhirError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None, issues: tuple[Issue, ...] = ()):
        super().__init__(message)
        self.message = message
        self.issues = tuple(issues)  # when set, the OperationOutcome has one issue per element
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = headers or {}


class InvalidRequest(FhirError):
    status, code = 400, "invalid"


class NotSupported(FhirError):
    status, code = 400, "not-supported"


class Unauthorized(FhirError):
    status, code = 401, "login"


class Forbidden(FhirError):
    status, code = 403, "forbidden"


class NotFound(FhirError):
    status, code = 404, "not-found"


class MethodNotAllowed(FhirError):
    status, code = 405, "not-supported"


class NotAcceptable(FhirError):
    status, code = 406, "not-supported"


class Conflict(FhirError):
    status, code = 409, "conflict"


class Gone(FhirError):
    status, code = 410, "deleted"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class Unprocessable(FhirError):
    status, code = 422, "processing"


class InvalidResource(Unprocessable):
    """A resource that breaks rules of its definition (FHIR R4 http.html §3.1.0.4.1: 422 Unprocessable Entity,
    "the proposed resource violated applicable FHIR profiles or server business rules")."""

    @classmethod
    def of(cls, issues: list[Issue] | tuple[Issue, ...], limit: int = 5) -> InvalidResource:
        """The error for these issues, its message naming the first few."""
        issues = tuple(issues)
        summary = "; ".join(str(issue) for issue in issues[:limit])
        more = f"; and {len(issues) - limit} more" if len(issues) > limit else ""
        return cls(summary + more, issues=issues)
