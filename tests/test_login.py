"""Sign-in sessions and the sandbox sign-in page: sample users picked with one click (no password), users given a
password need it, sign-out ends the session, failed sign-ins are rate limited per user name and per address."""

from __future__ import annotations

import pytest
from authorize_support import authorize_params, hidden, sign_in
from dom import dom

from sandbox.auth import audit, signin
from sandbox.auth.users import UserDirectory

pytestmark = pytest.mark.seeded  # client and store work on the seeded database


def session_id_of(client) -> str | None:
    with client.session_transaction() as session:
        return session.get(signin.COOKIE_KEY)


def ended(store, session_id) -> bool:
    return store.conn.execute("SELECT ended_at IS NOT NULL FROM sessions WHERE id = ?", (session_id,)).fetchone()[0]


# -- sessions --------------------------------------------------------------------------------------------------


def test_a_session_is_active_until_it_ends_or_expires(store):
    session_id = signin.start(store, "lori.mcdonald", 3600)
    assert signin.user_of(store, session_id).id == "lori.mcdonald"
    signin.end(store, session_id)
    assert signin.user_of(store, session_id) is None
    assert signin.user_of(store, signin.start(store, "lori.mcdonald", -1)) is None
    assert signin.user_of(store, None) is None and signin.user_of(store, "made-up") is None


# -- the page ------------------------------------------------------------------------------------------------------


def test_the_page_offers_sample_clinicians_and_portal_users_and_says_no_password_is_needed(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    page = dom(response.text)
    assert "no password needed" in page.one("p.lead").text
    offered = [b.attrs["value"] for b in page.select('button.persona[name="username"]')]
    assert offered[:5] == ["lori.mcdonald", "susan.glenn", "donald.reed", "shannon.bishop", "luis.brooks"]
    assert {"marcus.johnson", "lily.nguyen", "eleanor.whitfield"} <= set(offered)
    assert page.one('input[name="password"]').attrs["type"] == "password"


def test_the_administrator_is_offered_apart_signs_in_with_one_click_and_works_in_the_ehr(client):
    page = dom(client.get("/auth/login").text)
    [admin] = [b for b in page.select('button.persona[name="username"]') if b.attrs["value"] == "admin"]
    assert admin.one(".persona-name").text == "Sandbox Administrator"
    assert admin.select(".muted")[0].text == "Administrator · every app, pre-approval, reset"
    assert sign_in(client, "admin").status_code == 302
    assert client.get("/ehr/patients").status_code == 200
    assert client.get("/apps/new").status_code == 200


def test_signing_in_for_an_app_says_which_app_is_waiting(client):
    login = client.get(client.get("/auth/authorize", query_string=authorize_params()).headers["Location"])
    page = dom(login.text)
    assert page.one(".asking .app-name").text == "Sandbox Demo App"
    assert page.one("p.continuing").text == "Sandbox Demo App asked to connect. Sign in to continue."
    assert not dom(client.get("/auth/login").text).select(".asking")


def test_one_click_on_a_sample_user_signs_in_and_is_audited(client, store):
    response = sign_in(client, "marcus.johnson", next_url="/auth/manage")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/manage"
    session_id = session_id_of(client)
    assert signin.user_of(store, session_id).id == "marcus.johnson"
    event = audit.recent(store, event="signin")[0]
    assert event.user_id == "marcus.johnson" and event.outcome == audit.SUCCESS


def test_a_user_given_a_password_needs_it(client, store):
    UserDirectory(store).set_password("susan.glenn", "correct horse")
    csrf = hidden(client.get("/auth/login").text, "csrf")
    for password in (None, "wrong"):
        form = {"csrf": csrf, "username": "susan.glenn", **({"password": password} if password else {})}
        assert client.post("/auth/login", data=form).status_code == 401
    assert session_id_of(client) is None
    good = client.post("/auth/login", data={"csrf": csrf, "username": "susan.glenn", "password": "correct horse"})
    assert good.status_code == 302 and session_id_of(client)
    refused = audit.recent(store, event="signin.refused")
    assert len(refused) == 2 and refused[0].outcome == audit.FAILURE


def test_signed_in_the_page_says_who_and_signs_out_with_csrf(client, store):
    sign_in(client, "lori.mcdonald")
    session_id = session_id_of(client)
    page = dom(client.get("/auth/login").text)
    box = page.one("form.signed-in")
    assert "Signed in as Dr. Lori McDonald" in box.text and box.attrs["action"] == "/auth/logout"
    assert client.post("/auth/logout", data={"csrf": "forged"}).status_code == 400
    assert not ended(store, session_id)
    out = client.post("/auth/logout", data={"csrf": box.one('input[name="csrf"]').attrs["value"],
                                            "next": box.one('input[name="next"]').attrs["value"]})
    assert out.status_code == 302 and out.headers["Location"].startswith("/auth/login")
    assert ended(store, session_id) and session_id_of(client) is None
    assert audit.recent(store, event="signout")[0].user_id == "lori.mcdonald"
    assert not dom(client.get("/auth/login").text).select("form.signed-in")


def test_switching_user_ends_the_previous_session_but_signing_in_again_keeps_it(client, store):
    sign_in(client, "lori.mcdonald")
    first = session_id_of(client)
    sign_in(client, "lori.mcdonald")
    assert session_id_of(client) == first and not ended(store, first)
    sign_in(client, "marcus.johnson")
    assert session_id_of(client) != first and ended(store, first)


def test_rate_limits_count_per_user_name_at_an_address_and_per_address(seeded_app):
    seeded_app.config["RATE_LIMIT_FAILURES"] = 2
    client = seeded_app.test_client()
    csrf = hidden(client.get("/auth/login").text, "csrf")

    def attempt(username, address):
        return client.post("/auth/login", data={"csrf": csrf, "username": username},
                           environ_base={"REMOTE_ADDR": address})

    assert attempt("nobody", "10.0.0.1").status_code == 401
    assert attempt("nobody", "10.0.0.1").status_code == 401
    blocked = attempt("lori.mcdonald", "10.0.0.1")  # the address is blocked, whatever name it tries
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 300
    assert "Too many failed attempts" in dom(blocked.text).one("section.error-card p").text
    assert attempt("nobody", "10.0.0.2").status_code == 401  # one address's failures lock no name out elsewhere
    assert attempt("lori.mcdonald", "10.0.0.3").status_code == 302


@pytest.mark.parametrize("form", [{}, {"username": "lori.mcdonald"}, {"csrf": "", "username": "lori.mcdonald"}])
def test_sign_in_without_the_pages_csrf_token_does_nothing(client, form):
    client.get("/auth/login")
    response = client.post("/auth/login", data=form)
    assert response.status_code == 400 and "Go back, reload the page and try again" in response.text
    assert session_id_of(client) is None


@pytest.mark.parametrize("next_url", ["//evil.example/x", "/\\evil.example", "/\\/evil.example", "/\t/evil.example",
                                      "http://evil.example/", "javascript:alert(1)", "evil.example"])
def test_sign_in_never_redirects_off_site(client, next_url):
    response = sign_in(client, next_url=next_url)
    assert response.status_code == 302 and response.headers["Location"] == "/"


# -- the sign-in password setting and `sandbox users password` ------------------------------------------------------


def post_sign_in(client, username: str, password: str | None = None, path: str = "/auth/login"):
    page = client.get(path)
    data = {"csrf": hidden(page.text, "csrf"), "username": username, "next": "/"}
    if password is not None:
        data["password"] = password
    return client.post(path, data=data)


def test_with_a_sign_in_password_every_sign_in_needs_it(seeded_app, store):
    seeded_app.config["SIGN_IN_PASSWORD"] = "demo-2026"
    UserDirectory(store).set_password("marcus.johnson", "his-own")
    client = seeded_app.test_client()
    page = dom(client.get("/auth/login").text)
    assert "required" in page.one("#persona-password").attrs
    assert "asks for a password" in page.one("p.lead").text
    assert post_sign_in(client, "lori.mcdonald").status_code == 401  # one click is not enough now
    assert post_sign_in(client, "lori.mcdonald", "wrong").status_code == 401
    assert post_sign_in(client, "lori.mcdonald", "demo-2026").status_code == 302
    assert post_sign_in(client, "marcus.johnson", "demo-2026").status_code == 401  # his own password counts
    assert post_sign_in(client, "marcus.johnson", "his-own").status_code == 302
    portal = dom(client.get("/portal/login").text)
    assert "asks for a password" in portal.one("p.lead").text
    assert post_sign_in(client, "marcus.johnson", "his-own", "/portal/login").status_code == 302


def test_without_the_setting_sample_users_sign_in_with_one_click(seeded_client):
    assert "no password needed" in dom(seeded_client.get("/auth/login").text).one("p.lead").text
    assert post_sign_in(seeded_client, "lori.mcdonald").status_code == 302


def test_sandbox_users_password_sets_and_clears_a_users_password(seeded_app, store):
    from click.testing import CliRunner

    from sandbox.cli import main

    runner = CliRunner()
    db = ["--db", store.path]
    listed = runner.invoke(main, [*db, "users", "list"])
    assert listed.exit_code == 0 and "lori.mcdonald" in listed.output and "no password" in listed.output
    assert runner.invoke(main, [*db, "users", "password", "lori.mcdonald"], input="s3cret\ns3cret\n").exit_code == 0
    client = seeded_app.test_client()
    assert post_sign_in(client, "lori.mcdonald").status_code == 401
    assert post_sign_in(client, "lori.mcdonald", "s3cret").status_code == 302
    assert runner.invoke(main, [*db, "users", "password", "lori.mcdonald", "--clear"]).exit_code == 0
    assert post_sign_in(seeded_app.test_client(), "lori.mcdonald").status_code == 302
    unknown = runner.invoke(main, [*db, "users", "password", "nobody", "--password", "x"])
    assert unknown.exit_code != 0 and "sandbox users list" in unknown.output
