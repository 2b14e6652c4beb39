"""`sandbox apps`, `sandbox users`, `sandbox keys` and `sandbox admin-token`: the authorization server from the
command line.

Each command takes the settings dict as ``ctx.obj`` (see sandbox/cli.py) and works on the database named
by the DB setting. App metadata goes through the same validation as dynamic registration.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..store import Store
from .admin import admin_token as current_admin_token
from .clients import Client, ClientRegistry
from .keys import SigningKeys
from .registration import AUTH_METHODS, GRANT_TYPES, LAUNCH_MODES, RegistrationError
from .schema import ensure_schema
from .users import UserDirectory


def _store(values: dict) -> Store:
    store = Store(values["DB"])
    ensure_schema(store)
    return store


def _registry(values: dict) -> ClientRegistry:
    return ClientRegistry(_store(values), values["BASE_URL"])


def _metadata_options(func):
    """Flags for client metadata (RFC 7591 §2 names); a flag not given leaves the field alone."""
    options = [
        click.option("--name", "client_name", help="Name shown to users (client_name)."),
        click.option("--description", help="What the app does, shown in the app gallery."),
        click.option("--auth-method", "token_endpoint_auth_method", type=click.Choice(AUTH_METHODS),
                     help="How the app authenticates at the token endpoint. Default client_secret_basic (RFC 7591)."),
        click.option("--grant-type", "grant_types", multiple=True, type=click.Choice(GRANT_TYPES),
                     help="A grant type (repeatable). Default authorization_code."),
        click.option("--redirect-uri", "redirect_uris", multiple=True,
                     help="A redirect URI (repeatable); a path such as /demo/index.html is joined with BASE_URL."),
        click.option("--scope", help="Scopes the app may be granted, space-separated. Unknown scopes are dropped."),
        click.option("--launch-uri", help="The app's launch URL for EHR launches."),
        click.option("--logo-uri", help="URL of the app's logo."),
        click.option("--jwks", "jwks_file", type=click.File("r"),
                     help="File holding the app's public JWK Set (private_key_jwt)."),
        click.option("--jwks-uri", help="URL of the app's public JWK Set (private_key_jwt)."),
        click.option("--pre-approved/--ask-consent", "pre_approved", default=None,
                     help="Skip the consent screen for this app, or show it (default)."),
        click.option("--launch-mode", type=click.Choice(LAUNCH_MODES),
                     help="Open the app in a frame of the EHR (embedded, default) or in a new tab."),
        click.option("--launch-intent", help="The `intent` the EHR's launches of this app carry (e.g. "
                     "reconcile-medications)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _metadata(flags: dict[str, Any]) -> dict[str, Any]:
    jwks_file = flags.pop("jwks_file", None)
    metadata = {k: (list(v) if isinstance(v, tuple) else v) for k, v in flags.items() if v not in (None, ())}
    if jwks_file is not None:
        try:
            metadata["jwks"] = json.load(jwks_file)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--jwks") from None
    return metadata


def _describe(client: Client) -> str:
    lines = [f"Registered {client.display_name!r} ({client.client_type})", f"client_id:     {client.client_id}"]
    if client.client_secret:
        lines.append(f"client_secret: {client.client_secret}")
    return "\n".join(lines)


@click.group()
def apps() -> None:
    """Register, list and remove apps (OAuth clients)."""


@apps.command("add")
@_metadata_options
@click.option("--client-id", help="A fixed client_id instead of a random one.")
@click.option("--json", "as_json", is_flag=True, help="Print the full registration response as JSON.")
@click.pass_obj
def add_app(values: dict, client_id: str | None, as_json: bool, **flags) -> None:
    """Register an app; prints its client_id and, for client_secret_* apps, its secret."""
    try:
        client = _registry(values).register(_metadata(flags), client_id=client_id, origin="cli")
    except RegistrationError as exc:
        raise click.ClickException(f"{exc.error}: {exc.description}") from None
    click.echo(json.dumps(client.registration_response(), indent=2) if as_json else _describe(client))


@apps.command("update")
@click.argument("client_id")
@_metadata_options
@click.pass_obj
def update_app(values: dict, client_id: str, **flags) -> None:
    """Change some metadata of an app (only the flags given)."""
    try:
        client = _registry(values).update(client_id, _metadata(flags))
    except KeyError:
        raise click.ClickException(f"No app has client_id {client_id!r}") from None
    except RegistrationError as exc:
        raise click.ClickException(f"{exc.error}: {exc.description}") from None
    click.echo(json.dumps(client.registration_response(), indent=2))


@apps.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the apps' metadata as JSON (secrets left out).")
@click.pass_obj
def list_apps(values: dict, as_json: bool) -> None:
    """List the registered apps."""
    clients = _registry(values).list()
    if as_json:
        click.echo(json.dumps([{"client_id": c.client_id, **c.metadata()} for c in clients], indent=2))
        return
    rows = [("CLIENT_ID", "TYPE", "ORIGIN", "NAME")]
    rows += [(c.client_id, c.client_type, c.origin, c.client_name or "") for c in clients]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])


@apps.command("show")
@click.argument("client_id")
@click.pass_obj
def show_app(values: dict, client_id: str) -> None:
    """Print an app's registration (with its secret) as JSON."""
    client = _registry(values).get(client_id)
    if client is None:
        raise click.ClickException(f"No app has client_id {client_id!r}")
    click.echo(json.dumps(client.registration_response(), indent=2))


@apps.command("remove")
@click.argument("client_id")
@click.pass_obj
def remove_app(values: dict, client_id: str) -> None:
    """Remove an app."""
    if not _registry(values).remove(client_id):
        raise click.ClickException(f"No app has client_id {client_id!r}")
    click.echo(f"Removed {client_id}.")


@click.group()
def keys() -> None:
    """The server's signing keys (JWKS)."""


@keys.command("show")
@click.pass_obj
def show_keys(values: dict) -> None:
    """Print the published JWK Set (public keys only)."""
    click.echo(json.dumps(SigningKeys(_store(values)).jwks(), indent=2))


@keys.command("rotate")
@click.pass_obj
def rotate_keys(values: dict) -> None:
    """Make a new signing key; the previous public keys stay published so issued tokens still verify."""
    kid = SigningKeys(_store(values)).rotate()
    click.echo(f"New signing key {kid}; previous public keys stay in the JWKS.")


@click.command("admin-token")
@click.pass_obj
def admin_token(values: dict) -> None:
    """Print the admin token that callers on other machines send as `Authorization: Bearer <token>`."""
    click.echo(current_admin_token(_store(values), values))


@click.group()
def users() -> None:
    """Sandbox users (clinicians, patients, family members) and their passwords."""


@users.command("list")
@click.pass_obj
def list_users(values: dict) -> None:
    """List the users: user name, kind, FHIR resource, and whether they have a password."""
    for user in UserDirectory(_store(values)).list():
        password = "password" if user.password_hash else "no password"
        kind = "administrator" if user.is_admin else user.kind
        click.echo(f"{user.username:<28} {kind:<15} {user.fhir_user:<40} {password}")


@users.command("add-family")
@click.argument("patient_id")
@click.option("--given", required=True, help="The family member's first name.")
@click.option("--family", help="Their family name (default: the patient's).")
@click.option("--relationship", required=True,
              help="How they are related to the patient: parent-female, parent-male, spouse, daughter or son "
                   "(the family table of seed_data/records.json).")
@click.option("--username", help="Their portal user name (default: given.family).")
@click.option("--password", help="A password of their own (default: none, or the shared sign-in password).")
@click.pass_obj
def add_family(values: dict, patient_id: str, given: str, family: str | None, relationship: str,
               username: str | None, password: str | None) -> None:
    """Add a family member (US Core RelatedPerson) of PATIENT_ID who signs in to the portal and sees that record."""
    from ..family_members import FamilyMemberError, add_family_member

    try:
        resource, user = add_family_member(_store(values), patient_id, given, relationship, family=family,
                                           username=username, password=password)
    except FamilyMemberError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Added RelatedPerson/{resource['id']} ({user.display_name}) for Patient/{patient_id}; "
               f"they sign in to the portal as {user.username}.")


@users.command("password")
@click.argument("username")
@click.option("--password", help="The new password (asked for when not given).")
@click.option("--clear", is_flag=True, help="Remove the user's password instead.")
@click.pass_obj
def set_password(values: dict, username: str, password: str | None, clear: bool) -> None:
    """Give a user a password of their own (then signing in as them needs it), or remove it with --clear."""
    directory = UserDirectory(_store(values))
    user = directory.by_username(username)
    if user is None:
        raise click.ClickException(f"No user is called {username!r}; `sandbox users list` shows them")
    if not clear and not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    directory.set_password(user.id, None if clear else password)
    click.echo(f"{'Removed the password of' if clear else 'Set a password for'} {username}.")
