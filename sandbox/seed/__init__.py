"""Deterministic synthetic data: FHIR R4 resources for a sandbox EHR full of believable patients.

``generate_batches(seed, patients, anchor_date)`` yields the shared practice first (organization, locations,
clinicians), then one batch per patient: the hand-crafted story patients, then ``patients`` random ones, then
the Groups of those patients (a diabetes registry, each payer's members, the story patients). The
same arguments always give byte-identical resources; every date is on or before ``anchor_date``, except
what lies ahead by nature (a goal's due date, an implant's expiry date). Each resource
carries a generated narrative (``text``) built from its own data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from ..narrative import with_narrative
from .codes import load_tables
from .groups import GroupCollector, group_facts
from .population import build_random_patient
from .shared import build_shared
from .stories import STORIES, STORY_PATIENTS

__all__ = ["STORY_PATIENTS", "SeedPlan", "count_batches", "generate", "generate_batches"]


def count_batches(patients: int) -> int:
    """How many batches ``generate_batches`` yields: the shared batch, the stories, the random patients, the
    groups."""
    return 1 + len(STORIES) + patients + 1


def generate_batches(seed: int, patients: int, anchor_date: dt.date,
                     data_dir: Path | str | None = None) -> Iterator[list[dict]]:
    """Lists of resource dicts in dependency order; each patient batch holds the patient and its record."""
    plan = SeedPlan(seed, patients, anchor_date, data_dir)
    collector = GroupCollector(plan.tables)
    for position in range(plan.size):
        batch = plan.build(position)
        if position:  # the shared practice is no one's record
            collector.add(group_facts(batch, plan.is_story(position), plan.tables))
        yield batch
    yield plan.groups(collector)


class SeedPlan:
    """The batches before the Groups, each buildable on its own from its position: the shared practice, the
    story patients, then the random ones. Another process holding an equal plan builds the same batch."""

    def __init__(self, seed: int, patients: int, anchor_date: dt.date, data_dir: Path | str | None = None):
        self.seed, self.patients, self.anchor_date = seed, patients, anchor_date
        self.tables = load_tables(Path(data_dir) if data_dir else None)
        self.shared, self.staff = build_shared(self.tables)
        self.size = 1 + len(STORIES) + patients

    def is_story(self, position: int) -> bool:
        return 1 <= position <= len(STORIES)

    def build(self, position: int) -> list[dict]:
        if position == 0:
            return _narrated(self.shared)
        if self.is_story(position):
            return _narrated(STORIES[position - 1].build(self.anchor_date, self.staff, self.tables))
        index = position - 1 - len(STORIES)
        return _narrated(build_random_patient(self.seed, index, self.anchor_date, self.staff, self.tables))

    def groups(self, collector: GroupCollector) -> list[dict]:
        """The last batch: the Groups of the patients the collector was told about."""
        return _narrated(collector.groups(self.staff.organization))


def _narrated(batch: list[dict]) -> list[dict]:
    return [with_narrative(resource) for resource in batch]


def generate(seed: int, patients: int, anchor_date: dt.date, data_dir: Path | str | None = None) -> Iterator[dict]:
    """The same resources as ``generate_batches``, one at a time."""
    for batch in generate_batches(seed, patients, anchor_date, data_dir):
        yield from batch
