"""The top bar with a long brand and a logo at 1366 px, and presenter mode: the bar stays one line, the patient
banner stays fully visible below it while the chart scrolls, and presenter mode enlarges what has fixed sizes."""

from __future__ import annotations

import pytest
from browser import screenshot, sign_in
from conftest import seeded_copy, serving_on_a_free_port
from playwright.sync_api import expect

LONG_BRAND = "Riverside Regional Health Partners Network"  # 42 characters
TIMEOUT = 15_000


@pytest.fixture(scope="module")
def branded_server(seeded_db, tmp_path_factory):
    db = seeded_copy(seeded_db, tmp_path_factory, "brand")

    def brand(base: str) -> dict[str, str]:  # the logo's URL is on the server's own base
        return {"SANDBOX_BRAND_NAME": LONG_BRAND, "SANDBOX_BRAND_LOGO_URL": f"{base}/static/img/favicon.svg"}

    with serving_on_a_free_port(db, brand, workers=1) as (base, _):
        yield base


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_a_long_brand_keeps_the_bar_on_one_line_and_the_banner_in_sight(branded_server, page):
    sign_in(page, branded_server, "/ehr/patients/story-diabetes/vitals")
    expect(page.get_by_role("region", name="Patient banner")).to_be_visible(timeout=TIMEOUT)
    product = page.locator(".topbar .product")
    expect(product).to_have_attribute("title", LONG_BRAND)
    screenshot(page, "topbar-long-brand")
    assert box(page, ".topbar")["height"] <= 56  # one line: nothing wrapped
    expect(page.get_by_role("link", name="Register app")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.mouse.wheel(0, 1500)
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") > 200
    bar, banner = box(page, ".topbar"), box(page, ".banner")
    assert bar["y"] == 0 and banner["y"] >= bar["y"] + bar["height"] - 1  # below the bar, not under it
    screenshot(page, "topbar-long-brand-scrolled")

    page.set_viewport_size({"width": 900, "height": 900})  # now the bar wraps; the banner starts below it
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    bar, banner = box(page, ".topbar"), box(page, ".banner")
    assert bar["height"] > 56 and banner["y"] >= bar["y"] + bar["height"] - 1
    screenshot(page, "topbar-wrapped-narrow")


def test_presenter_mode_enlarges_titles_axis_labels_and_the_status_bar(live_server, page):
    sign_in(page, live_server, "/ehr/patients/story-diabetes/vitals")
    expect(page.locator(".trend-panel text").first).to_be_attached(timeout=TIMEOUT)

    def sizes():
        return page.evaluate("""() => ({
            status: parseFloat(getComputedStyle(document.querySelector('.statusbar')).fontSize),
            axis: parseFloat(getComputedStyle(document.querySelector('.trend-panel text')).fontSize),
            title: parseFloat(getComputedStyle(document.querySelector('main h2')).fontSize)})""")

    before = sizes()
    page.get_by_role("button", name="Present").click()
    after = sizes()
    assert all(after[part] > before[part] for part in before), (before, after)
    bar, banner = box(page, ".topbar"), box(page, ".banner")
    assert banner["y"] >= bar["y"] + bar["height"] - 1
    screenshot(page, "presenter-vitals")
    page.get_by_role("button", name="Present").click()  # the browser remembers the mode: leave it off
