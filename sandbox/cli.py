"""The `sandbox` command and its subcommands. Every setting is also a flag of the command."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from urllib.parse import urlsplit

import click

from . import bootstrap, settings


def _setting_options(func):
    for setting in reversed(settings.SETTINGS):
        func = click.option(setting.flag, setting.name, default=None, help=f"{setting.help} [{setting.env_var}]")(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@_setting_options
@click.pass_context
def main(ctx: click.Context, **flags) -> None:
    """SMART Sandbox EHR: a FHIR R4 server with SMART authorization and a clinician UI."""
    try:
        ctx.obj = settings.load(flags)
    except settings.SettingError as exc:
        raise click.UsageError(str(exc)) from None


@contextmanager
def _progress(length: int):
    with click.progressbar(length=length, label="Generating patients", file=sys.stderr) as bar:
        yield bar


@main.command()
@click.option("--self-signed", is_flag=True, help="Serve https with a certificate made for the host of BASE_URL "
              "(kept in tls/ beside the database and reused); BASE_URL then defaults to https://localhost:<PORT>.")
@click.pass_context
def serve(ctx: click.Context, self_signed: bool) -> None:
    """Prepare the database (seeding it when empty), then serve with several worker processes."""
    values = _with_self_signed(ctx) if self_signed else ctx.obj
    bootstrap.prepare(values, echo=click.echo, progress_factory=_progress)
    from .server import run

    click.echo(f"SMART Sandbox EHR on {values['BASE_URL']} (FHIR base {values['BASE_URL']}/fhir)")
    run(values)


def _with_self_signed(ctx: click.Context) -> dict:
    """The settings with TLS_CERT and TLS_KEY naming the self-signed certificate, made (or reused) for the host of
    BASE_URL: read again, so an unset BASE_URL defaults to https and an http one is refused (settings._check_tls)."""
    from .tls import ensure_self_signed, self_signed_paths

    if ctx.obj["TLS_CERT"] or ctx.obj["TLS_KEY"]:
        raise click.UsageError("--self-signed makes its own certificate: leave SANDBOX_TLS_CERT and "
                               "SANDBOX_TLS_KEY unset, or serve with them and without --self-signed")
    cert, key = self_signed_paths(ctx.obj["DB"])
    try:
        values = settings.load({**ctx.find_root().params, "TLS_CERT": str(cert), "TLS_KEY": str(key)})
    except settings.SettingError as exc:
        raise click.UsageError(f"--self-signed: {exc}") from None
    ensure_self_signed(values["DB"], urlsplit(values["BASE_URL"]).hostname or "localhost")
    click.echo(f"Self-signed certificate for {urlsplit(values['BASE_URL']).hostname}: {cert} (trust this file in "
               "the browser or client that connects)")
    return values


@main.command()
@click.option("--reset/--no-reset", default=True, help="Remove existing data first (default) or add to it.")
@click.pass_obj
def seed(values: dict, reset: bool) -> None:
    """Generate the deterministic synthetic data set."""
    from .seed import count_batches
    from .store import Store
    from .store.reindex import reindex_if_stale

    store = Store(values["DB"])
    if reset:
        bootstrap.reset(store)
    reindex_if_stale(store, click.echo)  # what is added must be searchable alongside what is there
    with _progress(count_batches(values["PATIENTS"])) as bar:
        count = bootstrap.seed_database(store, values["SEED"], values["PATIENTS"], values["ANCHOR_DATE"], bar.update)
    bootstrap.seed_directory(store, values["BASE_URL"])
    click.echo(f"Stored {count} resources in {values['DB']}.")


@main.command()
@click.pass_obj
def reset(values: dict) -> None:
    """Remove all FHIR data (signing keys and secrets stay). `sandbox seed` fills it again."""
    from .store import Store

    bootstrap.reset(Store(values["DB"]))
    click.echo(f"Removed all resources from {values['DB']}.")


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True))
@click.pass_obj
def import_command(values: dict, paths: tuple[str, ...]) -> None:
    """Load FHIR Bundles (JSON) and Bulk Data NDJSON files or folders into the database."""
    from .importer import import_paths
    from .store import Store

    report = import_paths(Store(values["DB"]), paths, echo=lambda line: click.echo(line, err=True))
    for line in report.summary_lines():
        click.echo(line)
    if not report.ok:
        click.echo(f"{len(report.problems)} resources could not be imported; see the errors above.", err=True)
        sys.exit(1)


def _mount_auth_commands() -> None:
    from .auth.cli import admin_token, apps, keys, users

    for command in (apps, users, keys, admin_token):
        main.add_command(command)


_mount_auth_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
