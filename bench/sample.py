"""Real ids and names to request, found through FHIR search on the running server (not by reading the file).

The client must be allowed to search every patient (a ``system/*.rs`` token, or the open path).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from .load import Client
from .server import BenchError

MAX_PAGES = 50


@dataclass
class Sample:
    patient_ids: list[str]
    observation_ids: list[str]
    family_names: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    observation_patients: list[str] = field(default_factory=list)  # the patient of each of observation_ids


def collect(client: Client, max_patients: int, observation_patients: int, rng: random.Random) -> Sample:
    """Patient ids and family names from paging through ``Patient``; Observation ids of some of them."""
    patients = search_all(client, "/fhir/Patient?_count=500")
    if not patients:
        raise BenchError("GET /fhir/Patient returned no patients: is the database seeded?")
    rng.shuffle(patients)
    patient_ids = [p["id"] for p in patients][:max_patients]
    families = sorted({name["family"] for p in patients for name in p.get("name", []) if name.get("family")})
    observations: list[tuple[str, str]] = []  # (observation id, patient id)
    for pid in patient_ids[:observation_patients]:
        bundle = get_json(client, f"/fhir/Observation?patient={quote(pid)}&_count=20")
        observations += [(e["resource"]["id"], pid) for e in bundle.get("entry", [])]
    if not observations:
        raise BenchError("GET /fhir/Observation?patient=… found no observations for any sampled patient")
    rng.shuffle(observations)
    rng.shuffle(families)
    return Sample(patient_ids, [o for o, _ in observations], families,
                  {"patients_found": len(patients), "observation_ids": len(observations)},
                  [p for _, p in observations])


def search_all(client: Client, path: str) -> list[dict]:
    """Every resource of a search, following ``next`` links (at most MAX_PAGES pages)."""
    resources: list[dict] = []
    for _ in range(MAX_PAGES):
        bundle = get_json(client, path)
        resources += [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "include"]
        path = next_path(bundle)
        if path is None:
            break
    return resources


def next_path(bundle: dict) -> str | None:
    for link in bundle.get("link", []):
        if link.get("relation") == "next":
            parts = urlsplit(link["url"])
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return None


def get_json(client: Client, path: str) -> dict:
    body = client.get(path)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise BenchError(f"GET {path} did not return JSON: {body[:200]!r}") from exc
