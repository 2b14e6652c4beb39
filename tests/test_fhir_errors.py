"""One error shape for the FHIR API: OperationOutcome with the right status, never a 500 for a bad
request. Also content negotiation (JSON only, 406 for XML, 415 for other bodies) and CORS."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FHIR_JSON = "application/fhir+json; charset=utf-8"
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female"}


@pytest.fixture
def stored(client):
    assert client.put("/fhir/Patient/p1", json=PATIENT).status_code == 201
    return client


def assert_outcome(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == FHIR_JSON
    body = response.json
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    assert issue["diagnostics"]
    if code:
        assert issue["code"] == code
    return issue["diagnostics"]


@pytest.mark.parametrize("fmt", ["json", "application/json", "application/fhir+json"])
def test_json_formats_are_served(stored, fmt):
    response = stored.get(f"/fhir/Patient/p1?_format={fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FHIR_JSON


@pytest.mark.parametrize("fmt", ["xml", "application/fhir+xml", "application/xml", "turtle"])
def test_other_formats_are_406(stored, fmt):
    diagnostics = assert_outcome(stored.get(f"/fhir/Patient/p1?_format={fmt}"), 406, "not-supported")
    assert "only serves JSON" in diagnostics


@pytest.mark.parametrize("accept", ["application/fhir+xml", "application/xml", "application/xml+fhir",
                                    "application/fhir+xml, application/fhir+json;q=0"])
def test_xml_accept_header_is_406(stored, accept):
    assert_outcome(stored.get("/fhir/Patient/p1", headers={"Accept": accept}), 406, "not-supported")


@pytest.mark.parametrize("accept", ["application/fhir+json", "application/json", "*/*", "text/html,*/*;q=0.8",
                                    "application/fhir+json, application/fhir+xml;q=0.5",
                                    "application/fhir+xml, application/json;q=0.5"])
def test_json_compatible_accept_headers_are_served(stored, accept):
    assert stored.get("/fhir/Patient/p1", headers={"Accept": accept}).status_code == 200


BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
                  "application/signed-exchange;v=b3;q=0.7")


@pytest.mark.parametrize("path", ["/fhir/Patient/p1", "/fhir/Patient?_id=p1", "/fhir/metadata"])
def test_a_browsers_default_accept_header_gets_json(stored, path):
    response = stored.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FHIR_JSON
    assert response.json["resourceType"] in ("Patient", "Bundle", "CapabilityStatement")


def test_pretty_printing(stored):
    pretty = stored.get("/fhir/Patient/p1?_pretty=true").get_data(as_text=True)
    assert pretty.startswith('{\n  "resourceType": "Patient"')
    compact = stored.get("/fhir/Patient/p1").get_data(as_text=True)
    assert "\n" not in compact
    assert json.loads(pretty) == json.loads(compact)


@pytest.mark.parametrize("content_type", ["application/fhir+json", "application/json",
                                          "application/fhir+json; charset=utf-8", "application/json+fhir"])
def test_json_request_bodies_are_accepted(client, content_type):
    response = client.post("/fhir/Patient", data=json.dumps(PATIENT), content_type=content_type)
    assert response.status_code == 201


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain", "application/x-www-form-urlencoded", None])
def test_other_request_bodies_are_415(client, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.post("/fhir/Patient", data=json.dumps(PATIENT), **kwargs)
    assert_outcome(response, 415, "not-supported")


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("post", "/fhir/Patient", "{not json", 400),
    ("post", "/fhir/Patient", "", 400),
    ("post", "/fhir/Patient", "[]", 400),
    ("post", "/fhir/Patient", '"a string"', 400),
    ("post", "/fhir/Patient", "null", 400),
    ("post", "/fhir/Patient", "42", 400),
    ("post", "/fhir/Patient", '{"resourceType": "Patient", "gender": NaN}', 400),
    ("post", "/fhir/Patient", '{"resourceType": "Patient", "name": [{"family": "\\ud800"}]}', 400),
    ("post", "/fhir/Patient", "[" * 5000 + "]" * 5000, 400),
    ("post", "/fhir/Patient", '{"resourceType": "Observation", "status": "final"}', 400),
    ("post", "/fhir/Patient", '{"gender": "female"}', 400),
    ("post", "/fhir/Patient", '{"resourceType": "Patient", "gender": 12}', 422),
    ("post", "/fhir/Patient", '{"resourceType": "Patient", "birthDate": "1970-02-31"}', 422),
    ("post", "/fhir/Patient", '{"resourceType": "Patient", "name": "Smith"}', 422),
    ("post", "/fhir/Patient", '{"resourceType": "Patient", "contained": [{"resourceType": "Nope"}]}', 422),
    ("post", "/fhir/Patient", '{"resourceType": "Patient", "managingOrganization": {"reference": 12}}', 422),
    ("post", "/fhir/Parameters", '{"resourceType": "Parameters"}', 404),
    ("put", "/fhir/Patient/p1", '{"resourceType": "Patient", "id": "p2"}', 400),
    ("put", "/fhir/Patient/p1", '{"resourceType": "Patient"}', 400),
    ("put", "/fhir/Patient/bad%20id", '{"resourceType": "Patient", "id": "bad id"}', 400),
    ("put", "/fhir/Patient/" + "x" * 65, '{"resourceType": "Patient", "id": "' + "x" * 65 + '"}', 400),
    ("put", "/fhir/Patient/p1", '{"resourceType": "Patient", "id": 7}', 400),
    ("put", "/fhir/Patient", '{"resourceType": "Patient"}', 405),
    ("patch", "/fhir/Patient/p1", '[{"op": "remove", "path": "/deceasedBoolean"}]', 422),
    ("patch", "/fhir/Patient/p1", '[{"op": "remove"}]', 400),
    ("post", "/fhir", "{}", 400),
    ("post", "/fhir", '{"resourceType": "Bundle", "type": "transaction", "entry": [1]}', 400),
    ("post", "/fhir", '{"resourceType": "Bundle", "type": "transaction", "entry": [{"request": []}]}', 400),
    ("post", "/fhir", '{"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", '
                      '"url": "Patient?birthdate=yesterday"}}]}', 200),
])
def test_malformed_bodies_get_an_operation_outcome(stored, method, path, body, status):
    response = getattr(stored, method)(path, data=body, content_type="application/fhir+json")
    if status == 200:
        assert response.json["entry"][0]["response"]["status"] == "400 Bad Request"
    else:
        assert_outcome(response, status)


@pytest.mark.parametrize(("path", "status"), [
    ("/fhir/Patient?birthdate=yesterday", 400),
    ("/fhir/Patient?birthdate=2020-13-01", 400),
    ("/fhir/Patient?birthdate=xx2020", 400),
    ("/fhir/Patient?birthdate=", 400),
    ("/fhir/Patient?_lastUpdated=gt2020-01-01T25:00:00Z", 400),
    ("/fhir/Patient?_count=abc", 400),
    ("/fhir/Patient?_count=-1", 400),
    ("/fhir/Patient?_offset=-5", 400),
    ("/fhir/Patient?_offset=99999999999999999999999", 400),
    ("/fhir/Patient?_sort=nothing", 400),
    ("/fhir/Patient?_total=maybe", 400),
    ("/fhir/Patient?_summary=everything", 400),
    ("/fhir/Patient?_include=Patient", 400),
    ("/fhir/Patient?_include=Patient:name", 400),
    ("/fhir/Patient?_revinclude=a:b:c:d", 400),
    ("/fhir/Patient?gender:fuzzy=female", 400),
    ("/fhir/Patient?gender:missing=perhaps", 400),
    ("/fhir/Patient?general-practitioner=a/b/c", 400),
    ("/fhir/Patient?gender=female,", 400),
    ("/fhir/Patient?identifier=%7C", 200),
    ("/fhir/Patient?name=%00%FF%FE", 200),
    ("/fhir/Patient?name=" + "a" * 2048, 200),
    ("/fhir/Patient?name=" + "a" * 5000, 400),  # longer than a search value may be (store/query.py)
    ("/fhir/Patient?_id=%F0%9F%98%80", 200),
    ("/fhir/Patient?_has:Observation:patient:code=1234", 200),
    ("/fhir/Patient?_has:Observation:patient:date=yesterday", 400),
    ("/fhir/Patient?_has:Spaceship:patient:code=1", 400),
    ("/fhir/Patient?_has:Observation::code=1", 400),
    ("/fhir/Patient?_has:::=1", 400),
    ("/fhir/Patient?general-practitioner.=x", 400),
    ("/fhir/Patient?general-practitioner..name=x", 400),
    ("/fhir/Patient?general-practitioner:Spaceship.name=x", 400),
    ("/fhir/Patient?link.link.link.link.link.name=x", 400),  # longer than a chain may be
    ("/fhir/Observation?subject.subject.subject.code=x", 400),  # fans out into too many types
    ("/fhir/Patient?" + "_has:Patient:link:" * 120 + "name=x", 400),
    ("/fhir/Patient/p1/_history/99999999999999999999999", 404),
    ("/fhir/Patient/p1/_history/-1", 404),
    ("/fhir/Patient/..%2F..%2Fetc", 404),
    ("/fhir/Patient/%00", 404),
    ("/fhir/Patient/p1/_history?_count=lots", 400),
    ("/fhir/Patient/p1/_history?_since=2020-99-99", 400),
    ("/fhir/_history?_offset=1e9", 400),
    ("/fhir/Patient/p1/$everything?_type=Spaceship", 400),
    ("/fhir/Patient/p1/$everything?_count=-1", 400),
    ("/fhir/Patient/p1/$nonsense", 404),
    ("/fhir/Spaceship", 404),
    ("/fhir/Spaceship/1", 404),
    ("/fhir/Spaceship/1/_history", 404),
    ("/fhir/Spaceship/_history", 404),
    ("/fhir/Patient/p1/extra/path/segments", 404),
    ("/fhir/patient/p1", 404),
    ("/fhir", 400),
])
def test_malformed_requests_never_cause_a_500(stored, path, status):
    response = stored.get(path)
    if status == 200:
        assert response.status_code == 200
        assert response.json["resourceType"] == "Bundle"
    else:
        assert_outcome(response, status)


def test_strict_handling_refuses_unknown_parameters(stored):
    response = stored.get("/fhir/Patient?colour=blue", headers={"Prefer": "handling=strict"})
    assert assert_outcome(response, 400, "not-supported").startswith(
        "Patient search does not support 'colour' (unknown parameter).")


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/fhir/Patient/p1"), ("get", "/fhir/Patient/nobody"), ("get", "/fhir/metadata"),
    ("post", "/fhir/Patient"), ("delete", "/fhir/Patient/p1"), ("get", "/fhir/no/such/route/at/all"),
    ("get", "/fhir/Patient?_format=xml"),
])
def test_every_response_carries_cors_headers(stored, method, path):
    response = getattr(stored, method)(path, headers={"Origin": "https://app.example.org"},
                                       json=PATIENT if method == "post" else None)
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert response.headers["Access-Control-Expose-Headers"] == "Location, ETag, Content-Location, Last-Modified"
    assert "Origin" in response.headers["Vary"]


def test_preflight_answers_204_with_the_allowed_methods_and_headers(client):
    response = client.options("/fhir/Patient/123", headers={
        "Origin": "http://localhost:9000", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, content-type, if-match"})
    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:9000"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD"
    assert response.headers["Access-Control-Allow-Headers"] == (
        "Authorization, Content-Type, Accept, If-Match, If-None-Exist, If-None-Match, If-Modified-Since, Prefer, "
        "X-Requested-With")
    assert client.options("/fhir/no/such/route/here/at/all", headers={"Origin": "http://x"}).status_code == 204


def test_unknown_routes_and_methods_are_operation_outcomes(client):
    assert_outcome(client.get("/fhir/a/b/c/d/e/f"), 404, "not-found")
    assert_outcome(client.delete("/fhir/Patient"), 405, "not-supported")
    assert_outcome(client.post("/fhir/Patient/p1/_history"), 405)
    assert_outcome(client.put("/fhir"), 405)
    trace = client.open("/fhir/Patient", method="TRACE", headers={"Origin": "http://x"})
    assert_outcome(trace, 405, "not-supported")
    assert trace.headers["Access-Control-Allow-Origin"] == "http://x"
    assert client.open("/healthz", method="TRACE").headers["Content-Type"] != FHIR_JSON  # not ours to shape


def test_an_unexpected_exception_becomes_a_500_outcome(app, client, monkeypatch):
    from sandbox.fhir import interactions

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(interactions, "read", broken)
    logged = []
    monkeypatch.setattr(app.logger, "exception", lambda message: logged.append(message))
    diagnostics = assert_outcome(client.get("/fhir/Patient/p1"), 500, "exception")
    assert diagnostics == "Internal server error (RuntimeError); the server log has details"
    assert logged == ["Unexpected error in the FHIR API"]


PARAM_NAMES = ["_id", "name", "name:exact", "family", "birthdate", "gender", "gender:not", "identifier", "_count",
               "_offset", "_sort", "_summary", "_elements", "_include", "_revinclude", "_total", "_lastUpdated",
               "general-practitioner", "organization:missing", "_since", "_type", "_format", "_pretty"]
ODD_VALUES = ["ge2020", "ne", "sa2020-01-01T00:00:00Z", "1,2,", "\\,", "|", "a|b|c", "Patient/", "-name", ":", ""]
query_params = st.lists(st.tuples(st.sampled_from(PARAM_NAMES) | st.text(max_size=12),
                                  st.sampled_from(ODD_VALUES) | st.text(max_size=24)), max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/fhir/Patient", "/fhir/Patient/p1", "/fhir/Patient/p1/_history", "/fhir/_history",
                             "/fhir/Patient/p1/$everything"]),
       query=query_params, strict=st.booleans())
def test_no_query_string_causes_a_500(stored, path, query, strict):
    headers = {"Prefer": "handling=strict"} if strict else {}
    response = stored.get(path, query_string=query, headers=headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.headers["Content-Type"] in (FHIR_JSON, None) or response.status_code == 304


@pytest.mark.parametrize(("method", "path", "operation"), [
    ("get", "/fhir/Patient/$foo", "$foo"), ("post", "/fhir/Patient/$foo", "$foo"), ("get", "/fhir/$bar", "$bar"),
    ("post", "/fhir/$bar", "$bar"), ("get", "/fhir/Patient/p1/$foo", "$foo"),
    ("delete", "/fhir/Patient/p1/$foo", "$foo"),
    ("get", "/fhir/Patient/$everything", "$everything"), ("get", "/fhir/$everything", "$everything"),
])
def test_unknown_operations_say_operation_not_supported(stored, method, path, operation):
    response = getattr(stored, method)(path, headers={"Origin": "https://app.example.org"})
    diagnostics = assert_outcome(response, 404, "not-supported")
    assert diagnostics.startswith(f"Operation {operation} is not supported")
    assert "Patient/[id]/$everything" in diagnostics
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.org"


@pytest.mark.parametrize("path", ["/fhir/Patinet", "/fhir/Patient/p1/extra", "/fhir/a/b/c/d/e/f", "/fhir/R4/Patient"])
def test_unknown_paths_are_json_outcomes_with_cors_headers(stored, path):
    response = stored.get(path, headers={"Origin": "https://app.example.org"})
    assert_outcome(response, 404)
    assert response.headers["Content-Type"] == FHIR_JSON
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
