"""Groups for population-level work such as Bulk Data's Group export: a diabetes registry, each payer's member
list and the story patients. They come last, once every member has been written."""

from __future__ import annotations

from dataclasses import dataclass

from .codes import Tables, condition_code
from .coverage import payer_id


@dataclass(frozen=True)
class GroupFacts:
    """What one patient batch tells about group membership; small, so a generating process sends it along."""

    patient_id: str
    story: bool
    diabetes_onsets: tuple[str, ...]  # the onset date of each unresolved diabetes
    coverage: tuple[tuple[str, str], ...]  # (payer key, start) of each active coverage


def group_facts(batch: list[dict], story: bool, tables: Tables) -> GroupFacts:
    diabetes_code = tables.conditions["chronic"]["diabetes"]["snomed"]
    onsets, coverage = [], []
    for resource in batch:
        rtype = resource["resourceType"]
        if (rtype == "Condition" and "abatementDateTime" not in resource
                and resource["code"]["coding"][0]["code"] == diabetes_code):
            onsets.append(resource["onsetDateTime"][:10])
        elif rtype == "Coverage" and resource["status"] == "active":
            key = resource["payor"][0]["reference"].removeprefix("Organization/organization-payer-")
            coverage.append((key, resource["period"]["start"]))
    return GroupFacts(batch[0]["id"], story, tuple(onsets), tuple(coverage))


class GroupCollector:
    """Remembers who belongs to which group, from the facts of each patient batch in seeding order."""

    def __init__(self, tables: Tables):
        self.tables = tables
        self.diabetic: list[tuple[str, str]] = []  # (patient id, onset)
        self.by_payer: dict[str, list[tuple[str, str]]] = {key: [] for key in tables.records["coverage"]["payers"]}
        self.stories: list[str] = []

    def add(self, facts: GroupFacts) -> None:
        """Take in what ``group_facts`` found in one batch; batches come in seeding order."""
        if facts.story:
            self.stories.append(facts.patient_id)
        self.diabetic.extend((facts.patient_id, onset) for onset in facts.diabetes_onsets)
        for key, start in facts.coverage:
            self.by_payer[key].append((facts.patient_id, start))

    def groups(self, organization: dict) -> list[dict]:
        diabetes = self.tables.conditions["chronic"]["diabetes"]
        made = [_group("group-diabetes-registry", "Diabetes registry", self.diabetic, dict(organization),
                       code=condition_code(diabetes))]
        for key, members in self.by_payer.items():
            payer = self.tables.records["coverage"]["payers"][key]
            made.append(_group(f"group-payer-{key}", f"{payer['name']} members", members,
                               {"reference": f"Organization/{payer_id(key)}", "display": payer["name"]}))
        made.append(_group("group-story-patients", "Story patients", [(pid, None) for pid in self.stories],
                           dict(organization)))
        return made


def _group(group_id: str, name: str, members: list[tuple[str, str | None]], manager: dict,
           code: dict | None = None) -> dict:
    group = {"resourceType": "Group", "id": group_id, "active": True, "type": "person", "actual": True}
    if code:
        group["code"] = code
    group.update({
        "name": name,
        "quantity": len(members),
        "managingEntity": manager,
        "member": [{"entity": {"reference": f"Patient/{pid}"}, **({"period": {"start": start}} if start else {}),
                    "inactive": False} for pid, start in members],
    })
    return group
