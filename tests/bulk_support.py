"""Helpers of the Bulk Data tests: a backend service registered over HTTP that gets its tokens with
private_key_jwt, kicks off exports, polls them and downloads their files, as a Bulk Data client does."""

from __future__ import annotations

import json
import time

import requests
from oauth_support import ASSERTION_TYPE, assertion, public_jwks, rsa_key

KICKOFF_HEADERS = {"Accept": "application/fhir+json", "Prefer": "respond-async"}
WAIT_SECONDS = 120


class BulkClient:
    """One registered backend service of a live server."""

    def __init__(self, base: str, scope: str = "system/*.rs", name: str = "Nightly export"):
        self.base = base
        self.key = rsa_key("bulk")
        registered = requests.post(f"{base}/auth/register", timeout=10, json={
            "client_name": name, "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"], "jwks": public_jwks(self.key), "scope": scope})
        assert registered.status_code == 201, registered.text
        self.client_id = registered.json()["client_id"]
        self.scope = scope
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            token_url = f"{self.base}/auth/token"
            response = requests.post(token_url, timeout=10, data={
                "grant_type": "client_credentials", "scope": self.scope, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion(self.key, self.client_id, "RS384", aud=token_url)})
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}", **extra}

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(f"{self.base}/fhir/{path}", params=params, headers=self.headers(), timeout=30)

    def kickoff(self, path: str = "$export", params=None, body: dict | None = None,
                **headers: str) -> requests.Response:
        sent = self.headers(**{**KICKOFF_HEADERS, **{k.replace("_", "-"): v for k, v in headers.items()}})
        if body is None:
            return requests.get(f"{self.base}/fhir/{path}", params=params, headers=sent, timeout=30)
        return requests.post(f"{self.base}/fhir/{path}", params=params, json=body, timeout=30,
                             headers={**sent, "Content-Type": "application/fhir+json"})

    def started(self, path: str = "$export", params=None, body: dict | None = None, **headers: str) -> str:
        """Kick off an export that must be accepted; its status URL."""
        response = self.kickoff(path, params, body, **headers)
        assert response.status_code == 202, response.text
        return response.headers["Content-Location"]

    def wait(self, status_url: str) -> dict:
        """Poll (as the IG says: 202 with X-Progress and Retry-After) until the manifest comes."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            response = requests.get(status_url, headers=self.headers(Accept="application/json"), timeout=30)
            if response.status_code != 202:
                break
            assert response.headers["X-Progress"] and len(response.headers["X-Progress"]) < 100
            assert int(response.headers["Retry-After"]) > 0
            assert time.monotonic() < deadline, "the export did not finish"
            time.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["Expires"]
        return response.json()

    def export(self, path: str = "$export", params=None, body: dict | None = None, **headers: str) -> dict:
        return self.wait(self.started(path, params, body, **headers))

    def download(self, item: dict) -> list[dict]:
        response = requests.get(item["url"], headers=self.headers(Accept="application/fhir+ndjson"), timeout=60)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/fhir+ndjson"
        lines = response.text.splitlines()
        assert response.text.endswith("\n") and all(lines)
        return [json.loads(line) for line in lines]

    def files(self, manifest: dict) -> dict[str, list[dict]]:
        """Every output file's resources by type; each file holds its type only, as many as its count says."""
        found: dict[str, list[dict]] = {}
        for item in manifest["output"]:
            resources = self.download(item)
            assert {r["resourceType"] for r in resources} == {item["type"]}
            assert len(resources) == item["count"]
            found.setdefault(item["type"], []).extend(resources)
        return found

    def total(self, rtype: str, **params) -> int:
        """What a search of the same client finds."""
        response = self.get(rtype, _summary="count", **params)
        assert response.status_code == 200, response.text
        return response.json()["total"]
