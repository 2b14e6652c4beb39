"""Hand-crafted patients with a story to demo. Their ids never change; their dates follow the anchor date."""

from __future__ import annotations

from .child import STORY as CHILD
from .common import Story
from .diabetes import STORY as DIABETES
from .elderly import STORY as ELDERLY
from .inpatient import STORY as INPATIENT
from .pregnancy import STORY as PREGNANCY

STORIES: list[Story] = [DIABETES, CHILD, PREGNANCY, ELDERLY, INPATIENT]
STORY_PATIENTS: list[dict] = [{"id": s.patient_id, "name": s.name, "summary": s.summary} for s in STORIES]
