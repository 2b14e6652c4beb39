"""The patient portal (UI-GUIDE §2 Patient portal), mounted at /portal: sign-in for patients and family members,
their own record in everyday words, and patient-facing apps launched with their record in context."""

from . import launches, login  # noqa: F401 - register their routes on the blueprint
from .views import blueprint

__all__ = ["blueprint"]
