"""The browser sample apps: static files on the official JS SMART client, served on the sandbox's own origin.

The demo app (static/demo, at /demo/), Population Explorer (no patient, user-level scopes) and My Medicines
(patient-facing, for the portal), both in static/samples/ at /samples/<app>/. Each is registered in
seed_data/apps.json with its launch.html as launch URL and index.html as redirect URI; the folder's own address
starts it standalone (launch.html defaults iss to this sandbox).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, redirect, request

STATIC = Path(__file__).resolve().parent.parent.parent / "static"


def static_app(name: str, folder: Path) -> Blueprint:
    """A blueprint serving ``folder`` whose root starts the app's standalone launch."""
    served = Blueprint(name, __name__, static_folder=str(folder), static_url_path="")

    @served.get("/")
    def start():
        query = request.query_string.decode()
        return redirect("launch.html" + (f"?{query}" if query else ""))

    return served


# url prefix → blueprint
BLUEPRINTS = {
    "/demo": static_app("demo", STATIC / "demo"),
    **{f"/samples/{name}": static_app(f"sample_{name}", STATIC / "samples" / name)
       for name in ("population", "medicines")},
}
