"""The application factory: the only place that wires the rooms of the sandbox together."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, redirect, render_template, request, url_for

from . import edges
from . import settings as settings_module
from .store import Store

ROOT = Path(__file__).resolve().parent.parent
# What an app reads before it authorizes: recorded with the caller's address, so a trail can show the discovery
# that came from the same place just before its authorize request (activity/discovery.py).
DISCOVERY_PATHS = ("/fhir/.well-known/smart-configuration", "/fhir/.well-known/openid-configuration",
                   "/fhir/metadata")
FHIR_BLUEPRINTS = ("fhir", "bulk")  # the FHIR API and Bulk Data export under /fhir: both behind bearer tokens


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app from defaults, ``SANDBOX_*`` environment variables and ``config``."""
    values = settings_module.load(config)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(values)
    store = Store(values["DB"])
    app.extensions["store"] = store
    app.config["SECRET_KEY"] = store.secret("flask_secret_key")
    app.json.sort_keys = False

    edges.install(app)

    from .auth import blueprint as auth_blueprint
    from .auth import ensure_schema as ensure_auth_schema
    from .auth.smart_config import blueprint as smart_config_blueprint
    from .auth.smart_config import capability_security
    from .fhir import blueprint as fhir_blueprint
    from .fhir.capability import SECURITY_HOOK

    ensure_auth_schema(store)
    app.register_blueprint(smart_config_blueprint)  # before /fhir: discovery paths must not reach its catch-all
    app.extensions[SECURITY_HOOK] = capability_security
    app.register_blueprint(fhir_blueprint, url_prefix="/fhir")
    from .bulk import blueprint as bulk_blueprint
    from .bulk import ensure_schema as ensure_bulk_schema

    ensure_bulk_schema(store)
    app.register_blueprint(bulk_blueprint, url_prefix="/fhir")
    _require_tokens_on_fhir(app)
    _record_discovery(app)
    app.register_blueprint(auth_blueprint, url_prefix="/auth")
    from .auth.authorization import blueprint as authorize_blueprint
    from .auth.pages import blueprint as pages_blueprint
    from .auth.token_views import blueprint as oauth_blueprint

    app.register_blueprint(authorize_blueprint, url_prefix="/auth")
    app.register_blueprint(pages_blueprint, url_prefix="/auth")
    from .apps.connected import blueprint as manage_blueprint
    from .auth.headless import blueprint as api_blueprint

    app.register_blueprint(manage_blueprint, url_prefix="/auth")
    from .apps.pages import blueprint as app_pages_blueprint

    app.register_blueprint(app_pages_blueprint, url_prefix="/apps")
    from .activity.views import blueprint as activity_blueprint

    app.register_blueprint(activity_blueprint, url_prefix="/activity")

    app.register_blueprint(api_blueprint, url_prefix="/api")

    app.register_blueprint(oauth_blueprint, url_prefix="/auth")
    from .sample_apps.static_apps import BLUEPRINTS as static_apps
    from .sample_apps.summary import blueprint as summary_blueprint

    for prefix, served in static_apps.items():
        app.register_blueprint(served, url_prefix=prefix)
    app.register_blueprint(summary_blueprint, url_prefix="/samples/summary")
    from .admin_pages import blueprint as admin_blueprint

    app.register_blueprint(admin_blueprint, url_prefix="/admin")
    from .ehr import blueprint as ehr_blueprint

    app.register_blueprint(ehr_blueprint, url_prefix="/ehr")
    from .portal import blueprint as portal_blueprint

    app.register_blueprint(portal_blueprint, url_prefix="/portal")

    @app.get("/")
    def index():
        return render_template("index.html", base_url=values["BASE_URL"], store=store,
                               open_read=app.config["OPEN_READ"])

    @app.context_processor
    def branding():
        return {"brand": {"name": app.config["BRAND_NAME"], "accent": app.config["BRAND_ACCENT"],
                          "logo": app.config["BRAND_LOGO_URL"], "badge": app.config["BRAND_BADGE"],
                          "sign_in": app.config["BRAND_SIGN_IN"]},
                "hide_ids": app.config["HIDE_IDS"]}

    @app.context_processor
    def launch_helpers():
        """What launch forms and app cards show: the cross-site warning and the failures a launch can simulate."""
        from .auth.simulate import KINDS
        from .sites import cross_site_note

        return {"cross_site_note": lambda app_url: cross_site_note(app_url, request.host_url),
                "simulate_kinds": lambda: KINDS}

    @app.get("/favicon.ico")
    def favicon():
        """Pages link their icon; this answers browsers and static pages (the demo app) that ask the default path."""
        return redirect(url_for("static", filename="img/favicon.svg"), 301)

    @app.get("/healthz")
    def healthz():
        """A trivial endpoint: the baseline benchmarks compare every other endpoint with."""
        return {"status": "ok"}

    return app


def _require_tokens_on_fhir(app: Flask) -> None:
    """Every FHIR request runs under its bearer token's access policy (auth/bearer.py)."""
    from .auth.bearer import authenticate, record_decisions

    @app.before_request
    def fhir_token():
        if request.blueprint in FHIR_BLUEPRINTS:
            return authenticate()
        return None

    @app.after_request
    def fhir_audit(response):
        return record_decisions(response) if request.blueprint in FHIR_BLUEPRINTS else response


def _record_discovery(app: Flask) -> None:
    """Reads of the discovery documents, with the caller's address, for the activity trail (activity/discovery.py);
    batched, so the documents stay as cheap to serve as before."""
    from .auth import audit

    @app.after_request
    def discovery(response):
        if request.method == "GET" and response.status_code == 200 and request.path in DISCOVERY_PATHS:
            audit.record_soon(app.extensions["store"], "discovery", path=request.path, address=request.remote_addr)
        return response


def store_of(app: Flask) -> Store:
    return app.extensions["store"]
