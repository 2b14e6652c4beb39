"""Attacks on the demo and teaching tools, over real HTTP against the running sandbox: another clinician letting
someone's paused launch go on, a patient or a clinician resetting the sandbox or restoring a snapshot, a reset
posted under a forged Host, a scratch app registered through a proxy that claims to be this machine, and a launch
whose `simulate` is huge or deeply nested. Each asserts the refusal and that nothing changed."""

from __future__ import annotations

import sqlite3

import requests
from authorize_support import authorize_params, hidden, signed_in

from sandbox.auth.clients import ClientRegistry
from sandbox.store import Store


def csrf_of(browser: requests.Session, live, path: str = "/ehr/apps") -> str:
    return hidden(browser.get(f"{live}{path}", timeout=10).text, "csrf")


def apps_in(live_server) -> set[str]:
    return {c.client_id for c in ClientRegistry(Store(str(live_server.db))).list()}


def test_another_clinician_cannot_continue_a_paused_launch(live_server):
    made = requests.post(f"{live_server}/api/launches", timeout=10, json={
        "client_id": "demo-app", "patient": "story-diabetes", "skip_login": True, "skip_consent": True,
        "pause": True}).json()
    trail = made["activity_url"].rsplit("/", 1)[1]
    paused = requests.get(f"{live_server}/auth/authorize", timeout=10, params=authorize_params(
        launch=made["launch"], redirect_uri=f"{live_server}/demo/index.html", aud=f"{live_server}/fhir",
        scope="launch patient/*.rs"))
    assert "Paused before the code is sent" in paused.text
    other = signed_in(live_server, "susan.glenn")
    refused = other.post(f"{live_server}/ehr/launches/{trail}/continue", data={"csrf": csrf_of(other, live_server)},
                         timeout=10)
    assert refused.status_code == 404
    with sqlite3.connect(live_server.db) as conn:
        waiting = conn.execute("SELECT released_at FROM pauses WHERE launch_id = ?", (trail,)).fetchall()
    assert waiting == [(None,)]  # still paused
    assert requests.get(f"{live_server}/auth/authorize/paused/{trail}/code", timeout=10).json() == {"released": False}
    assert requests.get(f"{live_server}/auth/authorize/paused/{trail}/elsewhere", timeout=10).status_code == 404


def test_only_the_administrator_resets_or_restores(live_server):
    before = apps_in(live_server)
    for username in ("marcus.johnson", "lori.mcdonald"):
        browser = signed_in(live_server, username)
        csrf = csrf_of(browser, live_server, "/auth/login")
        for path, form in (("/admin/reset", {}), ("/admin/snapshots/restore", {"name": "first-seed"}),
                           ("/admin/snapshots", {"name": "stolen"})):
            refused = browser.post(f"{live_server}{path}", data={"csrf": csrf, **form}, timeout=10)
            assert refused.status_code == 403, (username, path)
    assert apps_in(live_server) == before
    assert not (live_server.db.parent / "snapshots" / "stolen.sqlite").exists()


def test_a_reset_under_a_forged_host_is_refused(live_server):
    admin = signed_in(live_server, "admin")
    csrf = csrf_of(admin, live_server, "/admin/")
    before = apps_in(live_server)
    forged = admin.post(f"{live_server}/admin/reset", data={"csrf": csrf}, headers={"Host": "evil.example"},
                        timeout=10)
    assert forged.status_code == 421
    assert apps_in(live_server) == before


def test_a_proxy_claiming_to_be_this_machine_makes_no_scratch_app(live_server):
    browser = signed_in(live_server, "lori.mcdonald")
    page = browser.get(f"{live_server}/apps/try", headers={"X-Forwarded-For": "127.0.0.1"}, timeout=10)
    assert page.status_code == 403
    before = apps_in(live_server)
    posted = browser.post(f"{live_server}/apps/try", headers={"X-Forwarded-For": "127.0.0.1"}, timeout=10,
                          data={"csrf": csrf_of(browser, live_server), "launch_uri": "http://127.0.0.1:9/launch"})
    assert posted.status_code == 403 and apps_in(live_server) == before


def test_a_huge_or_deeply_nested_simulation_is_a_clear_400(live_server):
    nested: dict = {"kind": "fhir-500"}
    for _ in range(200):
        nested = {"kind": "fhir-500", "after": nested}
    for simulate in (nested, {"kind": "x" * 100_000}, {"kind": "fhir-slow", "seconds": 10**12}):
        answer = requests.post(f"{live_server}/api/launches", timeout=10, json={
            "client_id": "demo-app", "patient": "story-diabetes", "simulate": simulate})
        assert answer.status_code == 400, answer.text[:200]
        assert answer.json()["error"] == "invalid_request"
