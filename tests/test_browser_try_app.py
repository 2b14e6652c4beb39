"""Try an app in one paste, in Chromium: the demo app's files served from a second origin, its launch URL pasted
with the client id it uses, then launched into a chart from the scratch app's page."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser import screenshot, sign_in
from playwright.sync_api import expect

TIMEOUT = 15_000
STATIC = Path(__file__).resolve().parent.parent / "static"


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def second_origin(tmp_path):
    (tmp_path / "demo").symlink_to(STATIC / "demo")
    (tmp_path / "static").symlink_to(STATIC)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_paste_a_launch_url_then_launch_it_in_a_chart(live_server, second_origin, page):
    sign_in(page, live_server, "/apps/try")
    page.get_by_label("Launch URL (required)").fill(f"{second_origin}/demo/launch.html?client_id=pasted-demo")
    page.get_by_label("Redirect URI").fill(f"{second_origin}/demo/index.html")
    page.get_by_label("Client id your app already uses").fill("pasted-demo")
    screenshot(page, "try-app-01-paste")
    page.get_by_role("button", name="Register and go to launch").click()

    expect(page.get_by_role("note")).to_contain_text("Scratch app", timeout=TIMEOUT)
    expect(page.locator("#client-id")).to_have_text("pasted-demo")
    page.get_by_label("Patient", exact=True).select_option(value="story-diabetes")
    page.get_by_role("button", name="Launch in the chart").click()
    page.get_by_role("dialog").get_by_role("button", name="Launch with this encounter").click()
    frame = page.frame_locator('iframe[title^="SMART app: Scratch app at 127.0.0.1"]')
    expect(frame.get_by_role("button", name="Allow")).to_be_visible(timeout=TIMEOUT)
    frame.get_by_role("button", name="Allow").click()
    expect(frame.get_by_role("status")).to_contain_text("Launched", timeout=TIMEOUT)
    expect(frame.locator("#vitals tbody tr").first).to_be_visible(timeout=TIMEOUT)
    screenshot(page, "try-app-02-running")
