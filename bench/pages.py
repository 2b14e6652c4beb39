"""Latency of the pages people look at: the EHR's patient search and chart sections, and the patient portal.

The pages need a signed-in browser, so the bench signs in as a person does (GET the sign-in page for its form
token and session cookie, POST the persona) and sends that cookie with each request. Requests take turns page by
page over many patients, like the other latency figures, and are reported beside /healthz of the same run.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Sequence
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

from .load import Request, interleaved_latency
from .sample import Sample
from .server import BenchError

CLINICIAN = "lori.mcdonald"
PORTAL_USER = "marcus.johnson"  # a story patient's portal user: story patients exist at every size
HTML = {"Accept": "text/html"}
PATIENTS = 50  # charts to take turns over
CHART_SECTIONS = ("summary", "vitals", "labs", "encounters", "notes")


def sign_in(address: tuple[str, int], username: str, page: str) -> str:
    """The Cookie header of a browser signed in as ``username`` at ``page``."""
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        conn.request("GET", page, headers=HTML)
        response = conn.getresponse()
        form = response.read().decode()
        cookie = _cookie(response)
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        if response.status != 200 or token is None:
            raise BenchError(f"GET {page} answered {response.status} without a sign-in form")
        body = urlencode({"csrf": token.group(1), "username": username, "next": "/"})
        conn.request("POST", page, body=body, headers={**HTML, "Cookie": cookie,
                                                       "Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        if response.status != 302:
            raise BenchError(f"signing in as {username} at {page} answered {response.status}")
        return _cookie(response) or cookie
    finally:
        conn.close()


def _cookie(response: http.client.HTTPResponse) -> str:
    jar = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())


def variants(found: Sample, clinician: str, portal: str) -> dict[str, Sequence[Request]]:
    """Each page over many patients (or names), with the cookie of the person who would look at it."""
    as_clinician, as_patient = {**HTML, "Cookie": clinician}, {**HTML, "Cookie": portal}
    patients = [quote(p) for p in found.patient_ids[:PATIENTS]]
    families = [quote(f) for f in found.family_names[:PATIENTS]] or ["smith"]
    pages: dict[str, Sequence[Request]] = {
        "patient_search": [Request("GET", f"/ehr/patients?q={f}", headers=as_clinician) for f in families]}
    for section in CHART_SECTIONS:
        pages[f"chart_{section}"] = [Request("GET", f"/ehr/patients/{p}/{section}", headers=as_clinician)
                                     for p in patients]
    pages["portal_home"] = [Request("GET", "/portal", headers=as_patient)]
    pages["portal_results"] = [Request("GET", "/portal/results", headers=as_patient)]
    return pages


def measure(address: tuple[str, int], found: Sample, requests: int, warmup: int) -> dict:
    clinician = sign_in(address, CLINICIAN, "/auth/login")
    portal = sign_in(address, PORTAL_USER, "/portal/login")
    measured = interleaved_latency(address, variants(found, clinician, portal), requests, warmup)
    return {page: latency.as_dict() for page, latency in measured.items()}
