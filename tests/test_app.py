"""The application shell: BASE_URL is the one public address, and the landing page answers."""


def test_a_browser_under_another_host_name_is_redirected_to_base_url(client):
    response = client.get("/fhir/metadata?_format=json", base_url="http://127.0.0.1:5000")
    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/fhir/metadata?_format=json"


def test_writes_are_not_redirected(client):
    response = client.post("/healthz", base_url="http://127.0.0.1:5000")
    assert response.status_code != 308


def test_the_base_url_host_is_served(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_landing_page_links_the_fhir_base(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="http://localhost/fhir/metadata"' in page


def test_pages_have_an_icon_and_the_default_icon_path_answers(client):
    from dom import dom

    icon = dom(client.get("/").text).one('link[rel="icon"]').attrs["href"]
    served = client.get(icon)
    assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    served.close()
    assert client.get("/favicon.ico").headers["Location"].endswith(icon)
    login = dom(client.get("/auth/login").text).one('link[rel="icon"]')
    assert login.attrs["href"] == icon


def test_a_session_signed_under_a_replaced_secret_key_is_refused(app):
    """The session serializer is made once per secret key (edges.CookieSessions), never kept past a key change."""
    import pytest
    from itsdangerous import BadSignature

    sessions = app.session_interface
    first = sessions.get_signing_serializer(app)
    assert sessions.get_signing_serializer(app) is first
    cookie = first.dumps({"user": "someone"})
    old_key = app.secret_key
    try:
        app.secret_key = "another key entirely"
        with pytest.raises(BadSignature):
            sessions.get_signing_serializer(app).loads(cookie)
        app.config["SECRET_KEY_FALLBACKS"] = [old_key]  # Flask's way to keep accepting the old key for a while
        assert sessions.get_signing_serializer(app).loads(cookie) == {"user": "someone"}
    finally:
        app.secret_key = old_key
        app.config["SECRET_KEY_FALLBACKS"] = []
