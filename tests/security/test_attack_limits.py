"""Attacks on the limits of what one request may ask, over real HTTP against the running sandbox: searches larger
than SQLite can run, a reference built to make a regular expression backtrack, scope lists without end, and JSON
nested without end. Each asserts the refusal (never a 500, never a stalled worker) and that nothing changed.
"""

from __future__ import annotations

import sqlite3
import time

import requests

from sandbox.store.query import MAX_PARAMETERS, MAX_VALUE_CHARS, MAX_VALUES

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
STORY_PATIENT = "story-diabetes"


def count(live, table: str) -> int:
    with sqlite3.connect(live.db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def search_form(live, token: str, rtype: str, pairs: list[tuple[str, str]]) -> requests.Response:
    """POST [type]/_search: a search too long for a URL fits in a form body."""
    return requests.post(f"{live}/fhir/{rtype}/_search", data=pairs, timeout=30,
                         headers={**FORM, "Authorization": f"Bearer {token}"})


def refused_as_too_large(response: requests.Response, limit: str) -> None:
    assert response.status_code == 400, response.text[:300]
    issue = response.json()["issue"][0]
    assert (issue["code"], limit in issue["diagnostics"]) == ("too-costly", True), issue


# -- searches ------------------------------------------------------------------------------------------------------


def test_searches_beyond_sqlites_limits_get_400_naming_the_limit(live_server):
    token = live_server.token("system/*.cruds")
    before = count(live_server, "resources")
    many_codes = ",".join(f"c{i}" for i in range(2000))
    refused_as_too_large(search_form(live_server, token, "Observation", [("code", many_codes)]),
                         f"at most {MAX_VALUE_CHARS}")
    refused_as_too_large(search_form(live_server, token, "Observation", [("code", f"c{i}") for i in range(2000)]),
                         f"at most {MAX_PARAMETERS} parameters")
    refused_as_too_large(search_form(live_server, token, "Observation", [("_sort", ",".join(["date"] * 3000))]),
                         f"at most {MAX_VALUE_CHARS}")
    spread = [("code", ",".join(f"c{i}" for i in range(5)))] * ((MAX_VALUES // 5) + 1)
    refused_as_too_large(search_form(live_server, token, "Observation", spread), f"at most {MAX_VALUES} values")
    long_name = search_form(live_server, token, "Observation", [("x" * (MAX_VALUE_CHARS + 1), "1")])
    refused_as_too_large(long_name, f"at most {MAX_VALUE_CHARS}")
    by_get = requests.get(f"{live_server}/fhir/Observation", params={"code": "c" * (MAX_VALUE_CHARS + 1)}, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    refused_as_too_large(by_get, f"at most {MAX_VALUE_CHARS}")
    assert count(live_server, "resources") == before


def at_the_limits() -> list[tuple[str, str]]:
    """MAX_PARAMETERS parameters holding MAX_VALUES values, most of them in one parameter (the deepest SQL)."""
    singles = [("code", f"http://loinc.org|x{i}") for i in range(MAX_PARAMETERS - 2)]
    crowded = ",".join(f"{i:03x}" for i in range(MAX_VALUES - len(singles) - 1))
    return [("code", crowded), *singles, ("_count", "5")]


def test_a_search_at_the_limits_is_answered_under_granular_scopes_too(live_server):
    pairs = at_the_limits()
    assert len(pairs) == MAX_PARAMETERS and max(len(value) for _, value in pairs) <= MAX_VALUE_CHARS
    full = search_form(live_server, live_server.token("system/*.cruds"), "Observation", pairs)
    assert full.status_code == 200 and full.json()["total"] == 0
    granular = " ".join(f"patient/Observation.rs?code=http://loinc.org|g{i}&category=laboratory" for i in range(99))
    narrowed = search_form(live_server, live_server.token(granular, patient=STORY_PATIENT), "Observation", pairs)
    assert narrowed.status_code == 200 and narrowed.json()["total"] == 0


def test_granular_scopes_still_filter_hundreds_of_included_resources(live_server):
    """The access policy looks up the visibility of included resources 200 ids at a time, beside the caps."""
    token = live_server.token("system/Patient.rs system/Observation.rs?category=laboratory")
    headers = {"Authorization": f"Bearer {token}"}
    labs = requests.get(f"{live_server}/fhir/Observation", timeout=30, headers=headers, params={
        "patient": STORY_PATIENT, "category": "laboratory", "_count": "1000"}).json()
    everything = requests.get(f"{live_server}/fhir/Observation", timeout=30, params={
        "patient": STORY_PATIENT, "_summary": "count"}, headers={
        "Authorization": f"Bearer {live_server.token('system/*.rs')}"}).json()
    assert everything["total"] > 200 > 0 < labs["total"] < everything["total"]
    found = requests.get(f"{live_server}/fhir/Patient", timeout=30, headers=headers, params={
        "_id": STORY_PATIENT, "_revinclude": "Observation:patient"}).json()
    included = {entry["resource"]["id"] for entry in found["entry"] if entry["search"]["mode"] == "include"}
    assert included == {entry["resource"]["id"] for entry in labs["entry"]}


# -- regular expressions on request input ------------------------------------------------------------------------


def test_a_reference_built_to_backtrack_is_refused_at_once(live_server):
    token = live_server.token("system/*.cruds")
    before = count(live_server, "resources")
    basic = {"resourceType": "Basic", "code": {"text": "backtrack"},
             "subject": {"reference": "http://" + "a" * 200_000 + " "}}
    started = time.monotonic()
    written = requests.post(f"{live_server}/fhir/Basic", json=basic, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
    assert written.status_code == 422 and written.json()["resourceType"] == "OperationOutcome"
    assert time.monotonic() - started < 5  # the quadratic pattern took minutes on this reference
    assert count(live_server, "resources") == before
