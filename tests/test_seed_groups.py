"""The seeded Groups: a diabetes registry of exactly the patients with active type 2 diabetes, each payer's member
list of exactly the patients its Coverage covers, and the story patients; found by member over the API."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.seeded

DIABETES = "http://snomed.info/sct|44054006"


def members(client, group_id: str) -> set[str]:
    group = client.get(f"/fhir/Group/{group_id}").get_json()
    assert group["actual"] is True and group["type"] == "person" and group["quantity"] == len(group["member"])
    return {m["entity"]["reference"] for m in group["member"]}


def patients_of(client, url: str, element: str) -> set[str]:
    found = set()
    while url:
        bundle = client.get(url).get_json()
        found |= {e["resource"][element]["reference"] for e in bundle.get("entry", [])}
        after = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
        url = urlsplit(after[0])._replace(scheme="", netloc="").geturl() if after else None
    return found


def test_the_diabetes_registry_lists_the_patients_with_active_diabetes(client):
    diabetic = patients_of(client, f"/fhir/Condition?code={DIABETES}&clinical-status=active&_count=100", "subject")
    assert "Patient/story-diabetes" in diabetic
    assert members(client, "group-diabetes-registry") == diabetic


@pytest.mark.parametrize("payer", ["harbor", "pioneer"])
def test_a_payers_member_list_is_who_its_coverage_covers(client, payer):
    covered = patients_of(client, f"/fhir/Coverage?payor=Organization/organization-payer-{payer}&_count=100",
                          "beneficiary")
    assert covered and members(client, f"group-payer-{payer}") == covered


def test_the_story_patients_group_and_search_by_member(client):
    assert members(client, "group-story-patients") == {
        f"Patient/{pid}" for pid in ("story-diabetes", "story-child", "story-pregnancy", "story-elderly",
                                     "story-inpatient")}
    bundle = client.get("/fhir/Group?member=Patient/story-diabetes").get_json()
    found = {e["resource"]["id"] for e in bundle["entry"]}
    assert {"group-diabetes-registry", "group-story-patients"} <= found
    assert len(found & {"group-payer-harbor", "group-payer-pioneer"}) == 1
