"""The clinician EHR (UI-GUIDE): patient list, chart, encounter in context and app launches, mounted at /ehr."""

# Importing these registers their routes (launches and the app gallery; lab trends) on the blueprint.
from . import launching, trend_views  # noqa: F401
from .views import blueprint

__all__ = ["blueprint"]
