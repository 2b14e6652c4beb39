"""The bundled demo app is served on the sandbox's own origin, as seed_data/apps.json registers it."""

import json

from sandbox.app import ROOT


def _status(client, path: str) -> int:
    with client.get(path) as response:  # file responses stream: close them
        return response.status_code


def test_the_demo_app_pages_and_the_js_client_are_served(client):
    for path in ("/demo/launch.html", "/demo/index.html", "/demo/demo.js", "/demo/demo.css",
                 "/static/vendor/fhir-client-2.6.3.min.js"):
        assert _status(client, path) == 200, path


def test_demo_start_goes_to_the_launch_page_keeping_the_query(client):
    response = client.get("/demo/?iss=http://localhost:8080/fhir")
    assert response.status_code == 302
    assert response.headers["Location"] == "launch.html?iss=http://localhost:8080/fhir"


def test_the_registered_demo_app_points_at_the_served_pages(client):
    demo = next(app for app in json.loads((ROOT / "seed_data" / "apps.json").read_text())
                if app["client_id"] == "demo-app")
    assert _status(client, demo["launch_uri"]) == 200
    assert all(_status(client, uri) == 200 for uri in demo["redirect_uris"])
