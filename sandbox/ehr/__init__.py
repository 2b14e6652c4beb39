"""The clinician EHR (UI-GUIDE): patient list, chart, encounter in context and app launches, mounted at /ehr."""

from . import launching  # noqa: F401 - registers the launch and gallery routes on the blueprint
from .views import blueprint

__all__ = ["blueprint"]
