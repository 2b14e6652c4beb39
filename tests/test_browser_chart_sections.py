"""The chart's trend charts and notes in a real Chromium over the real server: the vitals small multiples draw
inside their boxes with a label on every axis, a lab row's Trend control loads its sparkline when opened (htmx),
and picking a note swaps the reading pane and gives it a URL of its own. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

from browser import screenshot
from playwright.sync_api import expect

TIMEOUT = 15_000
CHART = "/ehr/patients/story-diabetes"


def sign_in(page, live_server):
    page.goto(f"{live_server}/auth/login?next={CHART}/vitals")
    page.get_by_role("button", name=re.compile("Lori")).first.click()
    expect(page.get_by_role("region", name="Patient banner")).to_be_visible(timeout=TIMEOUT)


def boxes_overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def test_vitals_trends_and_lab_trend(live_server, page):
    sign_in(page, live_server)
    panels = page.locator("svg.trend-panel")
    expect(panels.first).to_be_visible(timeout=TIMEOUT)
    assert panels.count() == 7  # BP, heart rate, respiratory rate, temperature, SpO2, weight, BMI
    bp = page.get_by_role("img", name="Blood pressure (mmHg)")
    expect(bp).to_have_accessible_description(re.compile(r"^Systolic BP, 13 readings, \d+–\d+ mmHg, latest 142"))
    for n in range(panels.count()):
        panel = panels.nth(n)
        frame = panel.bounding_box()
        texts = [t.bounding_box() for t in panel.locator("text").all()]
        assert all(t["x"] >= frame["x"] - 1 and t["x"] + t["width"] <= frame["x"] + frame["width"] + 1
                   for t in texts), f"a label of panel {n} spills out of it"
        ticks = [t.bounding_box() for t in panel.locator("text.trend-tick").all()]
        assert len(ticks) >= 4
        assert not any(boxes_overlap(a, b) for i, a in enumerate(ticks) for b in ticks[i + 1:])
    screenshot(page, "chart-01-vitals")

    page.get_by_role("navigation", name="Chart sections").get_by_role("link", name=re.compile("^Labs")).click()
    expect(page).to_have_url(re.compile(r"/labs$"), timeout=TIMEOUT)
    first_row = page.locator("table.results tbody tr").first
    first_row.locator("details.trend summary").click()
    summary = first_row.locator(".trend-summary")
    expect(summary).to_have_text(re.compile(r"^Hemoglobin A1c, 13 results, [\d.]+–9\.2 %, latest 9\.2 on "),
                                 timeout=TIMEOUT)
    expect(first_row.locator("svg.spark-lab rect.trend-band")).to_have_count(1)
    screenshot(page, "chart-02-lab-trend")


def test_notes_list_and_reading_pane(live_server, page):
    sign_in(page, live_server)
    page.get_by_role("navigation", name="Chart sections").get_by_role("link", name=re.compile("^Notes")).click()
    expect(page).to_have_url(re.compile(r"/notes$"), timeout=TIMEOUT)
    reader = page.locator("#note-reader")
    expect(reader.locator("pre.note-text")).to_contain_text("PROGRESS NOTE", timeout=TIMEOUT)
    width = reader.locator("pre.note-text").bounding_box()["width"]
    assert 420 < width < 700  # about 72 characters a line at 14 px
    screenshot(page, "chart-03-notes")

    links = page.locator("ol.note-list a")
    second = links.nth(1)
    note_type = second.locator(".note-head strong").inner_text()
    second.click()
    expect(page).to_have_url(re.compile(r"/notes\?note="), timeout=TIMEOUT)
    expect(reader.locator("h3")).to_have_text(note_type)
    expect(second).to_have_attribute("aria-current", "true")
    expect(page.get_by_role("region", name="Patient banner")).to_be_visible()
    screenshot(page, "chart-04-notes-second")


def test_presenter_mode_enlarges_the_chart_and_is_remembered(live_server, page):
    page.goto(f"{live_server}/auth/login?next=/ehr/patients/story-diabetes")
    page.get_by_role("button", name=re.compile("Lori")).first.click()
    toggle = page.get_by_role("button", name="Present", exact=True)
    expect(toggle).to_have_attribute("aria-pressed", "false", timeout=TIMEOUT)
    size = page.evaluate("getComputedStyle(document.body).fontSize")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "18px" != size
    expect(page.locator(".persona-who")).to_be_hidden()  # no persona menu on the projector
    page.reload()
    expect(page.get_by_role("button", name="Present", exact=True)).to_have_attribute("aria-pressed", "true")
    screenshot(page, "chart-05-presenter-mode")
    page.get_by_role("button", name="Present", exact=True).click()
