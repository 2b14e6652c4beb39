"""Branding settings for demos: the product name, accent colour and logo reach every page and smart_style_url."""

from __future__ import annotations

import pytest

from sandbox.app import create_app
from sandbox.settings import SettingError, load


@pytest.fixture
def branded(tmp_path):
    app = create_app({"DB": str(tmp_path / "b.sqlite"), "BASE_URL": "http://localhost",
                      "BRAND_NAME": "Riverside Health", "BRAND_ACCENT": "#AA3366",
                      "BRAND_LOGO_URL": "http://localhost/static/logo.png"})
    return app.test_client()


def test_the_brand_reaches_the_pages_and_the_app_style(branded):
    for path in ("/", "/auth/login"):
        html = branded.get(path).text
        assert '<span class="product" title="Riverside Health">Riverside Health</span>' in html
        assert "--primary: #AA3366" in html
        assert 'src="http://localhost/static/logo.png"' in html
    assert branded.get("/auth/smart-style.json").json["color_highlight"] == "#AA3366"


def test_an_accent_that_is_not_a_colour_is_refused():
    with pytest.raises(SettingError):
        load({}, environ={"SANDBOX_BRAND_ACCENT": "red; } body { display: none"})


def test_the_brand_reaches_the_ehr_the_portal_and_the_registration_pages(seeded_db, tmp_path):
    import shutil

    from authorize_support import sign_in

    copy = tmp_path / "seeded.sqlite"
    shutil.copy(seeded_db, copy)
    app = create_app({"DB": str(copy), "BASE_URL": "http://localhost", "BRAND_NAME": "Riverside Health",
                      "BRAND_ACCENT": "#AA3366", "TESTING": True})
    client = app.test_client()

    def branded_page(path: str) -> None:
        html = client.get(path).text
        assert '<span class="product" title="Riverside Health">Riverside Health</span>' in html, path
        assert "--primary: #AA3366" in html, path

    branded_page("/portal/login")
    sign_in(client, "lori.mcdonald")
    for path in ("/ehr", "/ehr/patients/story-diabetes/vitals", "/ehr/apps", "/apps/new", "/activity/",
                 "/auth/manage"):
        branded_page(path)
    sign_in(client, "marcus.johnson")
    for path in ("/portal", "/portal/results", "/portal/apps"):
        branded_page(path)
