"""Strict and lenient search handling (FHIR R4 search.html#errors): by default an unknown or unsupported search
parameter or modifier answers 400 naming it and listing what the type supports; `Prefer: handling=lenient` ignores
it, and the Bundle's self link then shows only the parameters applied."""

import pytest

LENIENT = {"Prefer": "handling=lenient"}
PATIENTS = [
    {"resourceType": "Patient", "id": "p1", "gender": "female", "name": [{"family": "Smith", "given": ["Ann"]}]},
    {"resourceType": "Patient", "id": "p2", "gender": "male", "name": [{"family": "Smith", "given": ["Bob"]}]},
    {"resourceType": "Patient", "id": "p3", "gender": "female", "name": [{"family": "Jones"}]},
]


@pytest.fixture
def data(store):
    store.load(PATIENTS)
    return store


def refusal(response) -> str:
    assert response.status_code == 400, response.json
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
    [issue] = response.json["issue"]
    assert (issue["severity"], issue["code"]) == ("error", "not-supported")
    return issue["diagnostics"]


@pytest.mark.parametrize(("query", "named"), [
    ("shoe-size=12", "'shoe-size' (unknown parameter)"),
    ("general-practitioner.shoe-size=x", "'general-practitioner.shoe-size' (no type 'general-practitioner' of "
                                         "Patient may refer to supports 'shoe-size')"),
    ("general-practitioner:Practitioner.birthdate=2000",
     "'general-practitioner:Practitioner.birthdate' (Practitioner parameter 'birthdate': unknown parameter)"),
    ("gender.name=x", "'gender.name' ('gender' of Patient cannot be chained: not a reference parameter)"),
    ("_has:Observation:patient:shoe-size=1", "'_has:Observation:patient:shoe-size' (Observation parameter "
                                             "'shoe-size': unknown parameter)"),
    ("_has:Observation:code:code=1", "'_has:Observation:code:code' ('code' is not a reference search parameter "
                                     "of Observation)"),
    ("gender:above=female", "'gender:above' (token parameters take only :in, :missing, :not, :not-in, "
                            ":of-type, :text)"),
    ("family:fuzzy=smi", "'family:fuzzy' (string parameters take only :contains, :exact, :missing)"),
    ("organization:above=x", "'organization:above' (reference parameters take only :identifier, :missing, "
                             ":[type])"),
    ("_count:foo=3", "'_count:foo' (modifiers of _count are not supported)"),
    ("_text=diabetes", "'_text' (an R4 parameter whose expression this server cannot index: the definition has "
                       "no expression)"),
])
def test_unsupported_parameters_are_400_naming_them(client, data, query, named):
    diagnostics = refusal(client.get(f"/fhir/Patient?family=smith&{query}"))
    assert diagnostics.startswith(f"Patient search does not support {named}. ")
    assert ("Search parameters of Patient: _id, _lastUpdated, _profile, _security, _source, _tag, active, address,"
            in diagnostics)
    assert "result parameters: _count, _elements, _format, _include," in diagnostics
    assert diagnostics.endswith("Send 'Prefer: handling=lenient' to have unsupported parameters ignored instead.")


def test_every_unsupported_parameter_is_named_at_once(client, data):
    diagnostics = refusal(client.get("/fhir/Patient?shoe-size=12&family=smith&hat=large&subject.name=x"))
    assert diagnostics.startswith("Patient search does not support 'shoe-size' (unknown parameter), 'hat' (unknown "
                                  "parameter), 'subject.name' ('subject' of Patient cannot be chained: unknown "
                                  "parameter). ")


def test_parameters_outside_what_the_index_reads_are_400(client, data):
    assert "'chromosome-window-coordinate' (composite of token and number and number components: only a token " \
           "paired with a token, quantity, number, date, string value is supported)" in refusal(
        client.get("/fhir/MolecularSequence?chromosome-window-coordinate=1$lt44$gt22"))
    assert "'chromosome-variant-coordinate' (an R4 parameter whose expression this server cannot index: a " \
           "component reads %resource" in refusal(
               client.get("/fhir/MolecularSequence?chromosome-variant-coordinate=1$1$2"))
    assert "'patient.shoe-size' (Patient parameter 'shoe-size': unknown parameter)" in refusal(
        client.get("/fhir/Observation?patient.shoe-size=12"))
    assert "'subject:Device.name' (Device parameter 'name': unknown parameter)" in refusal(
        client.get("/fhir/Observation?subject:Device.name=smith"))


def test_post_search_is_strict_too(client, data):
    assert "'shoe-size'" in refusal(client.post("/fhir/Patient/_search", data={"shoe-size": "12"}))


def test_lenient_handling_ignores_them_and_the_self_link_shows_what_was_applied(client, data):
    response = client.get("/fhir/Patient?family=smith&shoe-size=12&gender:above=female&patient.name=x&_sort=given",
                          headers=LENIENT)
    assert response.status_code == 200
    bundle = response.json
    assert [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"] == ["p1", "p2"]
    assert bundle["link"][0] == {"relation": "self",
                                 "url": "http://localhost/fhir/Patient?family=smith&_sort=given&_count=20&_offset=0"}
    assert all("shoe-size" not in link["url"] and "gender" not in link["url"] for link in bundle["link"])
    [outcome] = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["issue"][0]["diagnostics"] == ("Unsupported search parameters were ignored (Prefer: "
                                                  "handling=lenient): shoe-size, gender:above, patient.name")


def test_lenient_handling_still_refuses_malformed_values(client, data):
    response = client.get("/fhir/Patient?birthdate=yesterday&shoe-size=1", headers=LENIENT)
    assert response.status_code == 400
    assert response.json["issue"][0]["diagnostics"] == "'yesterday' is not a valid date search value"


def test_summary_count_is_strict_by_default(client, data):
    assert "'shoe-size'" in refusal(client.get("/fhir/Patient?family=smith&shoe-size=12&_summary=count"))


def test_summary_count_under_lenient_handling_counts_what_was_applied(client, data):
    bundle = client.get("/fhir/Patient?family=smith&shoe-size=12&_summary=count", headers=LENIENT).json
    assert bundle["total"] == 2
    assert "entry" not in bundle
    assert bundle["link"][0]["url"] == "http://localhost/fhir/Patient?family=smith&_summary=count&_count=20&_offset=0"


@pytest.mark.parametrize("prefer", ["handling=strict", "return=minimal", "handling=something"])
def test_only_lenient_handling_relaxes_search(client, data, prefer):
    assert "'shoe-size'" in refusal(client.get("/fhir/Patient?shoe-size=12", headers={"Prefer": prefer}))


@pytest.mark.parametrize("query", [
    "_count=5", "_format=json", "_format=application/fhir+json", "_pretty=true", "_total=accurate",
    "_elements=id,name", "_summary=true", "_count=0&_totalMethod=count",  # fhirpy's count()
    "_sort=-_lastUpdated", "_include=Patient:organization", "_revinclude=Observation:patient",
    "general-practitioner:Practitioner=x", "gender:not=male", "family:exact=Smith", "gender:missing=false",
])
def test_what_common_clients_send_is_accepted(client, data, query):
    response = client.get(f"/fhir/Patient?{query}")
    assert response.status_code == 200, response.json


def test_fhirpy_count_gets_the_total(client, data):
    bundle = client.get("/fhir/Patient?family=smith&_count=0&_totalMethod=count").json
    assert bundle["total"] == 2
    assert "entry" not in bundle


def test_a_batchs_searches_follow_the_requests_handling(client, data):
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Patient?family=smith&shoe-size=12"}}]}
    strict = client.post("/fhir", json=batch).json["entry"][0]["response"]
    assert strict["status"].startswith("400") and "'shoe-size'" in str(strict["outcome"])
    lenient = client.post("/fhir", json=batch, headers=LENIENT).json["entry"][0]
    assert lenient["response"]["status"].startswith("200")
    assert lenient["resource"]["total"] == 2
