"""Apps on another site than the sandbox: the rule browsers apply, and where a clinician is told about it."""

from __future__ import annotations

import pytest
from dom import dom

from sandbox.auth.clients import ClientRegistry
from sandbox.sites import cross_site, cross_site_note


@pytest.mark.parametrize(("app", "page", "crossing"), [
    ("http://127.0.0.1:3000/launch", "http://localhost:8080/ehr", True),  # the classic local mix-up
    ("http://localhost:3000/launch", "http://localhost:8080/ehr", False),  # ports do not make a site
    ("https://localhost:3000/launch", "http://localhost:8080/ehr", True),  # schemes do
    ("https://app.example.org/launch", "https://ehr.example.org/", False),  # one registrable domain
    ("https://app.example.com/launch", "https://ehr.example.org/", True),
    ("http://[::1]:3000/launch", "http://127.0.0.1:8080/", True),
    (None, "http://localhost:8080/", False),
    ("/demo/launch.html", "http://localhost:8080/", False),  # relative: the sandbox's own origin
])
def test_what_browsers_call_another_site(app, page, crossing):
    assert cross_site(app, page) is crossing
    assert (cross_site_note(app, page) is not None) is crossing


def test_the_note_names_both_hosts_and_the_fix():
    note = cross_site_note("http://127.0.0.1:3000/launch", "http://localhost:8080/ehr")
    assert "127.0.0.1:3000" in note and "localhost:8080" in note
    assert "both on localhost" in note and "Open in new tab" in note


def test_the_gallery_and_the_apps_page_warn_about_an_app_on_another_site(clinician, seeded_app):
    registry = ClientRegistry(seeded_app.extensions["store"], "http://localhost")
    other = registry.register({"client_name": "Other Site App", "token_endpoint_auth_method": "none",
                               "grant_types": ["authorization_code"], "redirect_uris": ["http://127.0.0.1:3000/cb"],
                               "launch_uri": "http://127.0.0.1:3000/launch", "scope": "launch patient/*.rs"},
                              origin="test")
    gallery = dom(clinician.get("/ehr/apps").text)
    cards = {card.one(".app-name").text: card for card in gallery.select("li.app-card")}
    assert "different site from this sandbox" in cards["Other Site App"].one(".cross-site-note").text
    assert cards["Sandbox Demo App"].select(".cross-site-note") == []
    page = dom(clinician.get(f"/apps/{other.client_id}").text)
    assert "127.0.0.1:3000" in page.one(".test-launch .cross-site-note").text
    from ehr_support import STORY, csrf_of

    made = clinician.post(f"/ehr/patients/{STORY}/launch", data={
        "csrf": csrf_of(clinician), "client_id": other.client_id, "mode": "embedded", "without_encounter": "1"})
    pane = dom(clinician.get(made.headers["Location"]).text).one("section.app-pane")
    assert "blocks or partitions its cookies" in pane.one(".pane-note").text
