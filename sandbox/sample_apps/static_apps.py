"""The browser sample apps served from static/samples/: Population Explorer (no patient, user-level scopes) and
My Medicines (patient-facing, for the portal). Each is registered in seed_data/apps.json; `/samples/<app>/` starts
it standalone, as `/demo/` does the demo app."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, redirect, request

SAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "samples"


def blueprint_for(name: str) -> Blueprint:
    served = Blueprint(f"sample_{name}", __name__, static_folder=str(SAMPLES_DIR / name), static_url_path="")

    @served.get("/")
    def start():
        query = request.query_string.decode()
        return redirect("launch.html" + (f"?{query}" if query else ""))

    return served


BLUEPRINTS = {name: blueprint_for(name) for name in ("population", "medicines")}
