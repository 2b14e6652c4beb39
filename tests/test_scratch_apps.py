"""Try an app in one paste: a scratch app registered from a pasted launch URL, launchable at once, marked, removed
after a day unless kept; and the launch-URL builder for apps that start themselves."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from authorize_support import hidden
from dom import dom
from ehr_support import STORY

from sandbox.apps.scratch import default_redirect
from sandbox.auth import launch_context
from sandbox.auth.clients import SCRATCH_LIFETIME, ClientRegistry

LAUNCH = "http://localhost:3000/app/launch.html"


def csrf(client, path="/apps/try"):
    return hidden(client.get(path).text, "csrf")


def registry(app):
    return ClientRegistry(app.extensions["store"], "http://localhost")


def test_the_redirect_defaults_to_the_launch_urls_folder():
    assert default_redirect("http://localhost:3000/app/launch.html?x=1") == "http://localhost:3000/app/"
    assert default_redirect("http://127.0.0.1:5173") == "http://127.0.0.1:5173/"


def test_a_pasted_launch_url_becomes_a_scratch_app_ready_to_launch(clinician, seeded_app):
    made = clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": LAUNCH})
    assert made.status_code == 302
    client_id = made.headers["Location"].rsplit("/", 1)[1]
    app = registry(seeded_app).get(client_id)
    assert app.origin == "scratch" and app.is_public and app.owner == "lori.mcdonald"
    assert app.launch_uri == LAUNCH and app.redirect_uris == ("http://localhost:3000/app/",)
    page = dom(clinician.get(made.headers["Location"]).text)
    assert "Scratch app" in page.one(".scratch-notice").text
    assert page.one("#client-id").text == client_id
    assert page.select(".test-launch form")  # launch into a chart at once
    listed = dom(clinician.get("/apps/").text)
    assert "Scratch" in next(row for row in listed.select("tbody tr") if client_id in row.text).text

    kept = clinician.post(f"/apps/{client_id}/keep", data={"csrf": csrf(clinician, f"/apps/{client_id}")})
    assert kept.status_code == 302 and registry(seeded_app).get(client_id).origin == "ui"
    assert dom(clinician.get(f"/apps/{client_id}").text).select(".scratch-notice") == []


def test_a_confidential_scratch_app_shows_its_secret_once(clinician, seeded_app):
    made = clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": LAUNCH, "confidential": "on",
                                             "redirect_uri": "http://localhost:3000/cb"})
    client_id = made.headers["Location"].rsplit("/", 1)[1]
    secret = registry(seeded_app).get(client_id).client_secret
    assert secret and secret in clinician.get(made.headers["Location"]).text
    assert secret not in clinician.get(made.headers["Location"]).text


def test_bad_input_is_named_and_nothing_is_registered(clinician, seeded_app):
    before = len(registry(seeded_app).list())
    for launch, redirect, field in (("not a url", "", "launch_uri"), ("ftp://x/launch", "", "launch_uri"),
                                    (LAUNCH, "http://localhost:3000/cb#frag", "redirect_uri")):
        page = clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": launch,
                                                 "redirect_uri": redirect})
        assert page.status_code == 400, (launch, redirect)
        assert dom(page.text).one(f"#{field}").attrs.get("aria-invalid") == "true"
    assert clinician.post("/apps/try", data={"launch_uri": LAUNCH}).status_code == 400  # no CSRF token
    assert len(registry(seeded_app).list()) == before


def test_scratch_apps_older_than_a_day_are_removed_with_their_grants(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    old = clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": LAUNCH})
    old_id = old.headers["Location"].rsplit("/", 1)[1]
    with store.transaction() as conn:
        conn.execute("UPDATE clients SET created_at = ? WHERE client_id = ?",
                     (int(time.time()) - SCRATCH_LIFETIME - 1, old_id))
    kept_demo = registry(seeded_app).get("demo-app")
    clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": "http://localhost:4000/launch"})
    assert registry(seeded_app).get(old_id) is None
    assert registry(seeded_app).get("demo-app") == kept_demo


def test_only_this_machine_makes_scratch_apps(seeded_app):
    from authorize_support import sign_in

    remote = seeded_app.test_client()
    remote.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    sign_in(remote, "lori.mcdonald")
    assert remote.get("/apps/try").status_code == 403


def test_the_launch_url_builder_makes_a_single_use_launch_for_the_chosen_patient(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    page = clinician.post("/apps/demo-app/launch-url", data={"csrf": csrf(clinician, "/apps/demo-app"),
                                                             "patient": STORY})
    url = dom(page.text).one("#built-launch-url").text
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith("http://localhost/demo/launch.html?") and query["iss"] == "http://localhost/fhir"
    launch, why = launch_context.take(store, query["launch"], "demo-app")
    assert launch is not None and launch.context["patient"] == STORY and launch.user_id == "lori.mcdonald"
    assert launch_context.take(store, query["launch"], "demo-app")[0] is None  # single use


def test_the_client_id_the_app_already_uses_is_kept_and_a_taken_one_refused(clinician, seeded_app):
    made = clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": LAUNCH, "client_id": "my_web_app"})
    assert made.headers["Location"].endswith("/apps/my_web_app")
    taken = clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": LAUNCH, "client_id": "demo-app"})
    assert taken.status_code == 400 and dom(taken.text).one("#client_id").attrs.get("aria-invalid") == "true"
    bad = clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": LAUNCH, "client_id": "a b"})
    assert bad.status_code == 400 and "1 to 64 letters" in bad.text


def test_background_pruning_removes_a_scratch_app_whose_day_is_over(clinician, seeded_app):
    from sandbox.auth import pruning

    store = seeded_app.extensions["store"]
    made = clinician.post("/apps/try", data={"csrf": csrf(clinician), "launch_uri": LAUNCH})
    client_id = made.headers["Location"].rsplit("/", 1)[1]
    settings = seeded_app.config
    assert pruning.prune(store, settings)["scratch apps"] == 0
    later = time.time() + SCRATCH_LIFETIME + 1
    assert pruning.prune(store, settings, now=later)["scratch apps"] == 1
    assert registry(seeded_app).get(client_id) is None
