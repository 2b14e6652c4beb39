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
from .groups import GroupCollector
from .population import build_random_patient
from .shared import build_shared
from .stories import STORIES, STORY_PATIENTS

__all__ = ["STORY_PATIENTS", "count_batches", "generate", "generate_batches"]


def count_batches(patients: int) -> int:
    """How many batches ``generate_batches`` yields: the shared batch, the stories, the random patients, the
    groups."""
    return 1 + len(STORIES) + patients + 1


def generate_batches(seed: int, patients: int, anchor_date: dt.date,
                     data_dir: Path | str | None = None) -> Iterator[list[dict]]:
    """Lists of resource dicts in dependency order; each patient batch holds the patient and its record."""
    tables = load_tables(Path(data_dir) if data_dir else None)
    shared, staff = build_shared(tables)
    yield _narrated(shared)
    collector = GroupCollector(tables)
    for story in STORIES:
        batch = story.build(anchor_date, staff, tables)
        collector.see(batch, story=True)
        yield _narrated(batch)
    for index in range(patients):
        batch = build_random_patient(seed, index, anchor_date, staff, tables)
        collector.see(batch, story=False)
        yield _narrated(batch)
    yield _narrated(collector.groups(staff.organization))


def _narrated(batch: list[dict]) -> list[dict]:
    return [with_narrative(resource) for resource in batch]


def generate(seed: int, patients: int, anchor_date: dt.date, data_dir: Path | str | None = None) -> Iterator[dict]:
    """The same resources as ``generate_batches``, one at a time."""
    for batch in generate_batches(seed, patients, anchor_date, data_dir):
        yield from batch
