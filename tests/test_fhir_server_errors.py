"""Errors the web server answers itself, over real HTTP against `sandbox serve` (gunicorn): under /fhir they are
OperationOutcomes with CORS headers too, so a browser app sees the reason instead of a network failure."""

import requests

FHIR_JSON = "application/fhir+json; charset=utf-8"


def test_a_request_line_too_long_is_414_outcome_with_cors(live_server):
    response = requests.get(f"{live_server}/fhir/Patient?name={'a' * 9000}", headers={"Origin": "https://app.example"},
                            timeout=10)
    assert response.status_code == 414
    assert response.headers["Content-Type"] == FHIR_JSON
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    [issue] = response.json()["issue"]
    assert (issue["severity"], issue["code"]) == ("error", "too-costly")
    assert "POST [base]/[type]/_search" in issue["diagnostics"]


def test_a_long_search_url_gunicorn_used_to_refuse_reaches_the_server(live_server):
    bearer = {"Authorization": f"Bearer {live_server.token()}"}
    names = ",".join(f"a-rather-long-family-name-{n:03d}" for n in range(60))  # 1,799 characters, 60 values
    response = requests.get(f"{live_server}/fhir/Patient?family={names}&given={names}&name={names}", headers=bearer,
                            timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0


def test_a_method_no_route_takes_is_405_outcome_with_cors(live_server):
    response = requests.request("TRACE", f"{live_server}/fhir/Patient", headers={"Origin": "https://app.example"},
                                timeout=10)
    assert response.status_code == 405
    assert response.headers["Content-Type"] == FHIR_JSON
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.json()["issue"][0]["code"] == "not-supported"


def test_headers_too_large_are_431_outcome_with_cors(live_server):
    response = requests.get(f"{live_server}/fhir/metadata", timeout=10,
                            headers={"Origin": "https://app.example", "Cookie": "big=" + "c" * 9000})
    assert response.status_code == 431
    assert response.headers["Content-Type"] == FHIR_JSON
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    [issue] = response.json()["issue"]
    assert "cookie or Authorization header" in issue["diagnostics"]
    too_many = requests.get(f"{live_server}/fhir/metadata", timeout=10,
                            headers={f"X-Extra-{n}": "x" for n in range(120)})
    assert too_many.status_code == 431
