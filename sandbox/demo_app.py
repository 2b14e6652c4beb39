"""The bundled demo SMART app (static/demo), served at /demo/ on the sandbox's own origin.

It is a plain static app on the official JS client; registered as `demo-app` in seed_data/apps.json with
launch URL /demo/launch.html and redirect URI /demo/index.html.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, redirect, request

DEMO_DIR = Path(__file__).resolve().parent.parent / "static" / "demo"

blueprint = Blueprint("demo", __name__, static_folder=str(DEMO_DIR), static_url_path="")


@blueprint.get("/")
def start():
    """/demo/ starts a standalone launch against this sandbox (launch.html defaults iss to it)."""
    query = request.query_string.decode()
    return redirect("launch.html" + (f"?{query}" if query else ""))
