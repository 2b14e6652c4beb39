"""Least privilege on the FHIR API over real HTTP: every request needs a token, and its scopes, its patient and
its user decide what it may do and see. The matrix: scope × interaction × in/out of the compartment ×
category × user kind, plus missing, garbage, expired and revoked tokens."""

from __future__ import annotations

import time

import pytest
import requests
from conftest import ANCHOR_DATE, issue_token, with_test_token

from sandbox.app import create_app
from sandbox.auth.tokens import revoke
from sandbox.auth.users import UserDirectory
from sandbox.store import Store

OWN, OTHER = "story-diabetes", "story-elderly"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@pytest.fixture(scope="module")
def live(live_server):
    """The live server, a RelatedPerson user linked to OTHER, and ids of observations to read."""
    store = Store(str(live_server.db))
    store.load([{"resourceType": "RelatedPerson", "id": "rp-mother", "patient": {"reference": f"Patient/{OTHER}"},
                 "name": [{"family": "Nguyen", "given": ["Mai"]}]}])
    directory = UserDirectory(store)
    if directory.get("mai.nguyen") is None:
        directory.create("mai.nguyen", "Mai Nguyen", "related-person", "RelatedPerson/rp-mother")

    def first(patient, category):
        return store.conn.execute(
            "SELECT r.id FROM resources r JOIN compartment c ON c.rid = r.rid JOIN idx_token t ON t.rid = r.rid "
            "WHERE r.type = 'Observation' AND c.patient_id = ? AND t.param = 'category' AND t.code = ? LIMIT 1",
            (patient, category)).fetchone()[0]

    live_server.obs = {(p, c): first(p, c) for p in (OWN, OTHER) for c in ("laboratory", "vital-signs")}
    live_server.store = store
    return live_server


def audited(store, client_id: str, count: int) -> list[tuple]:
    """The access events of a client, in the order they happened, once ``count`` of them are written (the server
    writes FHIR requests' events in batches, within a fraction of a second)."""
    deadline = time.monotonic() + 10
    while True:
        rows = store.conn.execute("SELECT event, outcome, rule FROM audit_events WHERE client_id = ? "
                                  "ORDER BY at, id", (client_id,)).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def get(live, path, token=None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{live}/fhir/{path}", headers=headers, timeout=10, **kw)


def token(live, scope, **kw):
    return issue_token(live.store, scope, **kw)


CLINICIAN = {"user_id": "lori.mcdonald"}
PATIENT_USER = {"user_id": "marcus.johnson"}  # Patient/story-diabetes
RELATED = {"user_id": "mai.nguyen"}  # RelatedPerson linked to story-elderly

ALL = {"laboratory", "vital-signs"}
# (scope, token context, per patient the categories a read may return ("any": every category))
MATRIX = [
    ("patient/Observation.rs", {"patient": OWN}, {OWN: "any"}),
    ("patient/Observation.read", {"patient": OWN}, {OWN: "any"}),
    ("patient/*.rs", {"patient": OTHER}, {OTHER: "any"}),
    (f"patient/Observation.rs?category={CATEGORY}|laboratory", {"patient": OWN}, {OWN: {"laboratory"}}),
    ("user/Observation.rs", CLINICIAN, {OWN: "any", OTHER: "any"}),
    ("user/*.read", PATIENT_USER, {OWN: "any"}),
    ("user/Observation.rs", RELATED, {OTHER: "any"}),
    ("user/Observation.rs?category=vital-signs", CLINICIAN, {OWN: {"vital-signs"}, OTHER: {"vital-signs"}}),
    ("system/Observation.rs", {}, {OWN: "any", OTHER: "any"}),
    ("patient/Condition.rs", {"patient": OWN}, {}),
]


@pytest.mark.parametrize("scope, context, allowed", MATRIX)
@pytest.mark.parametrize("patient", [OWN, OTHER])
@pytest.mark.parametrize("category", sorted(ALL))
def test_reads_follow_scope_compartment_category_and_user(live, scope, context, allowed, patient, category):
    response = get(live, f"Observation/{live.obs[(patient, category)]}", token(live, scope, **context))
    reach = allowed.get(patient, set())
    expected = 200 if reach == "any" or category in reach else 403
    assert response.status_code == expected, response.text
    if expected == 403:
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "forbidden"


def categories_of(entries) -> set[str]:
    return {coding["code"] for entry in entries for item in entry["resource"].get("category", [])
            for coding in item["coding"]}


@pytest.mark.parametrize("scope, context, allowed", MATRIX)
@pytest.mark.parametrize("patient", [OWN, OTHER])
def test_searches_return_exactly_what_reads_may(live, scope, context, allowed, patient):
    response = get(live, f"Observation?patient={patient}&_count=500", token(live, scope, **context))
    if "Observation" not in scope and "*" not in scope:
        assert response.status_code == 403
        assert "Observation.rs" in response.json()["issue"][0]["diagnostics"]  # names the scope to ask for
        return
    bundle = response.json()
    full = get(live, f"Observation?patient={patient}&_count=500", token(live, "system/*.rs")).json()
    reach = allowed.get(patient, set())
    expected = [e["resource"]["id"] for e in full["entry"]
                if reach == "any" or categories_of([e]) & reach]
    assert [e["resource"]["id"] for e in bundle.get("entry", [])] == expected
    assert bundle["total"] == len(expected)  # totals count only what may be seen


def test_writes_need_write_scopes_and_stay_in_the_compartment(live):
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "Pain score"},
                   "subject": {"reference": f"Patient/{OWN}"}, "valueInteger": 3}
    headers = {"Content-Type": "application/fhir+json"}

    def post(scope, body):
        return requests.post(f"{live}/fhir/Observation", json=body, timeout=10,
                             headers={**headers, "Authorization": f"Bearer {token(live, scope, patient=OWN)}"})

    refused = post("patient/Observation.rs", observation)
    assert refused.status_code == 403
    assert "patient/Observation.c" in refused.json()["issue"][0]["diagnostics"]
    assert post("patient/Observation.c", {**observation, "subject": {"reference": f"Patient/{OTHER}"}}) \
        .status_code == 403
    assert post("patient/Observation.c", observation).status_code == 201


def test_no_token_gets_401_with_a_bearer_challenge(live):
    response = get(live, f"Patient/{OWN}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "error=" not in response.headers["WWW-Authenticate"]
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("kind", ["garbage", "expired", "revoked", "refresh-shaped"])
def test_invalid_tokens_get_401_invalid_token(live, kind):
    if kind == "garbage":
        presented = "not-a-token"
    elif kind == "expired":
        presented = token(live, "system/*.rs", lifetime=-1)
    elif kind == "revoked":
        presented = token(live, "system/*.rs")
        assert get(live, f"Patient/{OWN}", presented).status_code == 200
        revoke(live.store, presented)
    else:
        presented = "Basic-looking " + token(live, "system/*.rs")
    response = get(live, f"Patient/{OWN}", presented)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_discovery_metadata_and_preflights_need_no_token(live):
    assert get(live, "metadata").status_code == 200
    preflight = requests.options(f"{live}/fhir/Patient", timeout=10, headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code in (200, 204)
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_patient_scope_reaches_practitioners_and_the_fhir_user_reads_itself(live):
    scoped = token(live, "patient/*.rs", patient=OWN)
    assert get(live, "Practitioner/practitioner-02", scoped).status_code == 200
    assert get(live, f"Patient/{OTHER}", scoped).status_code == 403
    own_user = token(live, "openid fhirUser patient/Observation.rs", patient=OWN, **CLINICIAN)
    assert get(live, "Practitioner/practitioner-01", own_user).status_code == 200
    assert get(live, "Practitioner/practitioner-02", own_user).status_code == 403


def test_everything_and_includes_never_leak_what_the_scopes_exclude(live):
    labs_only = token(live, f"patient/Observation.rs?category={CATEGORY}|laboratory patient/Patient.rs",
                      patient=OWN)
    everything = get(live, f"Patient/{OWN}/$everything?_count=1000", labs_only).json()
    types = {entry["resource"]["resourceType"] for entry in everything["entry"]}
    assert types == {"Patient", "Observation"}
    categories = {coding["code"] for entry in everything["entry"] if entry["resource"]["resourceType"] == "Observation"
                  for item in entry["resource"]["category"] for coding in item["coding"]}
    assert categories == {"laboratory"}
    included = get(live, f"Observation?patient={OWN}&_include=Observation:performer&_count=5", labs_only).json()
    assert {entry["resource"]["resourceType"] for entry in included["entry"]} == {"Observation"}


def test_every_decision_is_audited_with_its_rule(live):
    scoped = token(live, "patient/Observation.rs", patient=OWN, client_id="audited-app")
    get(live, f"Observation/{live.obs[(OTHER, 'laboratory')]}", scoped)
    get(live, f"Observation/{live.obs[(OWN, 'laboratory')]}", scoped)
    rows = audited(live.store, "audited-app", 2)
    assert [(event, outcome) for event, outcome, _ in rows] == [("access.refused", "failure"),
                                                                ("access.allowed", "success")]
    assert f"Patient/{OWN}" in rows[0][2]


def test_open_read_serves_reads_without_a_token_but_no_writes(tmp_path):
    app = with_test_token(create_app({"DB": str(tmp_path / "open.sqlite"), "BASE_URL": "http://localhost",
                                      "ANCHOR_DATE": ANCHOR_DATE, "OPEN_READ": True}))
    client = app.test_client()
    assert client.get("/fhir/Patient", headers={"Authorization": ""}).status_code == 200
    refused = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers={"Authorization": ""})
    assert refused.status_code == 403
    assert "OPEN_READ" in refused.json["issue"][0]["diagnostics"]


def test_type_and_system_history_need_unrestricted_read(live):
    scoped = token(live, "patient/*.rs", patient=OWN)
    for path in ("Observation/_history", "_history"):
        refused = get(live, path, scoped)
        assert refused.status_code == 403 and "history" in refused.json()["issue"][0]["diagnostics"]
    assert get(live, f"Observation/{live.obs[(OWN, 'laboratory')]}/_history", scoped).status_code == 200
    assert get(live, f"Observation/{live.obs[(OTHER, 'laboratory')]}/_history", scoped).status_code == 403
    backend = token(live, "system/*.rs")
    assert get(live, "Observation/_history?_count=1", backend).status_code == 200
    assert get(live, "_history?_count=1", backend).status_code == 200


def test_the_landing_page_says_when_open_read_is_on(tmp_path):
    def landing(open_read):
        app = create_app({"DB": str(tmp_path / f"l{open_read}.sqlite"), "BASE_URL": "http://localhost",
                          "OPEN_READ": open_read})
        return app.test_client().get("/").text

    assert "Open read is on" in landing(True)
    assert "Open read is on" not in landing(False)
