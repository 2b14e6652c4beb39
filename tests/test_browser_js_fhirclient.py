"""The official JS SMART client (fhirclient 2.6.3) in Chromium, against `sandbox serve`: chained and reverse-chained
searches agree with plain searches computed apart, and its patch() goes through JSON Patch with versioning."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture(scope="module")
def token(live_server):
    return live_server.token()


@pytest.fixture
def js(live_server, page):
    page.goto(f"{live_server}/healthz")
    page.add_script_tag(url=f"{live_server}/static/vendor/fhir-client-2.6.3.min.js")
    return page


def plain(live_server, token, query: str) -> list[dict]:
    """Every resource a plain search finds, following the paging links (computed apart from the client)."""
    found, url = [], f"{live_server}/fhir/{query}"
    while url:
        bundle = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        found += [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    return found


def run(js, live_server, token, body: str):
    return js.evaluate(f"""async ({{base, token}}) => {{
        const client = FHIR.client({{serverUrl: base, tokenResponse: {{access_token: token}}}});
        {body}
    }}""", {"base": f"{live_server}/fhir", "token": token})


def test_a_chained_search_finds_what_plain_searches_do(js, live_server, token):
    johnsons = {p["id"] for p in plain(live_server, token, "Patient?family=Johnson")}
    expected = {o["id"] for pid in johnsons
                for o in plain(live_server, token, f"Observation?patient={pid}&category=vital-signs&_count=100")}
    got = run(js, live_server, token, """
        const found = await client.request("Observation?patient.family=Johnson&category=vital-signs&_count=20",
                                           {pageLimit: 0, flat: true});
        return found.map(o => o.id);""")
    assert expected and len(got) == len(set(got)) and set(got) == expected


def test_a_reverse_chained_search_finds_the_patients_with_a_result(js, live_server, token):
    a1c = plain(live_server, token, "Observation?code=http://loinc.org|4548-4&_count=200")
    expected = {o["subject"]["reference"].split("/")[1] for o in a1c}
    got = run(js, live_server, token, """
        const found = await client.request("Patient?_has:Observation:patient:code=http://loinc.org|4548-4",
                                           {pageLimit: 0, flat: true});
        return found.map(p => p.id);""")
    assert expected and set(got) == expected


def test_patch_with_versions_and_a_stale_if_match(js, live_server, token):
    outcome = run(js, live_server, token, """
        const made = await client.create({resourceType: "Patient", name: [{family: "Patchtest", given: ["Jo"]}],
                                          gender: "female"});
        const patched = await client.patch("Patient/" + made.id,
            [{op: "add", path: "/birthDate", value: "1990-02-03"}, {op: "replace", path: "/gender", value: "other"}]);
        let stale = null;
        try {
            await client.patch("Patient/" + made.id, [{op: "remove", path: "/birthDate"}],
                               {headers: {"If-Match": 'W/"1"'}});
        } catch (e) { stale = e.status || e.statusCode || String(e); }
        let invalid = null;
        try {
            await client.patch("Patient/" + made.id, [{op: "replace", path: "/gender", value: "xx"}]);
        } catch (e) { invalid = e.status || e.statusCode || String(e); }
        return {id: made.id, version: patched.meta.versionId, birthDate: patched.birthDate, gender: patched.gender,
                stale, invalid};""")
    assert outcome["version"] == "2" and outcome["birthDate"] == "1990-02-03" and outcome["gender"] == "other"
    assert outcome["stale"] == 412 and outcome["invalid"] == 422
    stored = requests.get(f"{live_server}/fhir/Patient/{outcome['id']}", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}).json()
    assert stored["meta"]["versionId"] == "2" and stored["birthDate"] == "1990-02-03"
