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


def test_the_badge_and_sign_in_wording_are_the_customers(tmp_path):
    client = create_app({"DB": str(tmp_path / "b.sqlite"), "BASE_URL": "http://localhost",
                         "BRAND_BADGE": "DEMO · Riverside", "BRAND_SIGN_IN": "Riverside demo sign-in."}).test_client()
    for path in ("/", "/auth/login"):
        assert '<span class="tag-sandbox">DEMO · Riverside</span>' in client.get(path).text
    assert "Riverside demo sign-in. Pick a person" in client.get("/auth/login").text
    assert "Riverside demo sign-in. Choose who you are" in client.get("/portal/login").text
    plain = create_app({"DB": str(tmp_path / "c.sqlite"), "BASE_URL": "http://localhost", "BRAND_BADGE": ""})
    assert "tag-sandbox" not in plain.test_client().get("/auth/login").text


def test_customer_demo_mode_hides_developer_ids(seeded_db, tmp_path):
    import shutil

    from authorize_support import sign_in
    from dom import dom

    copy = tmp_path / "seeded.sqlite"
    shutil.copy(seeded_db, copy)
    for hidden, wanted in ((True, True), (False, False)):
        client = create_app({"DB": str(copy), "BASE_URL": "http://localhost", "HIDE_IDS": hidden,
                             "TESTING": True}).test_client()
        sign_in(client, "lori.mcdonald")
        page = dom(client.get("/ehr/patients/story-diabetes/apps").text)
        assert ("hide-ids" in page.one("body").attrs.get("class", "")) is wanted
        assert page.one("footer.statusbar").attrs["class"].split().count("dev-id") == 1
        assert all("dev-id" in div.attrs["class"] for div in page.select(".app-card .mono.muted"))
