"""Helpers of the authorize-side tests: a PKCE pair, authorize parameters, and walking the pages like a person."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.auth.pkce import s256

DEMO = "demo-app"
DEMO_REDIRECT = "http://localhost/demo/index.html"
VERIFIER = "v" * 43 + "erifier-for-the-tests"
FHIR = "http://localhost/fhir"


def authorize_params(**overrides) -> dict:
    params = {"response_type": "code", "client_id": DEMO, "redirect_uri": DEMO_REDIRECT,
              "scope": "openid fhirUser launch/patient patient/*.rs", "state": "st-1", "aud": FHIR,
              "code_challenge": s256(VERIFIER), "code_challenge_method": "S256"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def sign_in(client, username="lori.mcdonald", next_url="/"):
    page = client.get("/auth/login", query_string={"next": next_url})
    return client.post("/auth/login", data={"csrf": hidden(page.text, "csrf"), "next": next_url,
                                            "username": username})


def signed_in(live, username: str) -> requests.Session:
    """A browser session signed in as ``username`` at a live sandbox (over HTTP, through the sign-in form)."""
    browser = requests.Session()
    page = browser.get(f"{live}/auth/login", timeout=10)
    done = browser.post(f"{live}/auth/login", data={"csrf": hidden(page.text, "csrf"), "username": username,
                                                    "next": "/"}, allow_redirects=False, timeout=10)
    assert done.status_code == 302, f"{username} could not sign in"
    return browser


def follow(client, response):
    """Follow redirects within the sandbox; stop at the app's redirect_uri or at a page."""
    while response.status_code in (301, 302, 303, 307, 308):
        location = response.headers["Location"]
        if location.startswith(DEMO_REDIRECT) or location.startswith("http://localhost:3000"):
            return response
        response = client.get(location)
    return response


def exchange(client, code, verifier=VERIFIER, redirect_uri=DEMO_REDIRECT, client_id=DEMO):
    return client.post("/auth/token", data={"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": redirect_uri, "client_id": client_id,
                                            "code_verifier": verifier})
