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
@click.option("--all", "everything", is_flag=True, help="Return everything — data, apps, users, tokens, the activity "
              "trail — to the state right after the first seed (the first-seed snapshot).")
@click.option("--fresh", is_flag=True, help="With --all: build that state again from the current settings first "
              "(SEED, PATIENTS, ANCHOR_DATE), replacing the first-seed snapshot.")
@click.pass_obj
def reset(values: dict, everything: bool, fresh: bool) -> None:
    """Remove all FHIR data (signing keys and secrets stay; `sandbox seed` fills it again), or with --all return
    the whole sandbox to its first seed. A running server needs no restart."""
    from . import snapshots
    from .store import Store

    if fresh and not everything:
        raise click.UsageError("--fresh goes with --all")
    if not everything:
        bootstrap.reset(Store(values["DB"]))
        click.echo(f"Removed all resources from {values['DB']}.")
        return
    if fresh or not snapshots.get_or_none(values["DB"], snapshots.FIRST_SEED):
        click.echo("Building the first-seed state from the current settings …")
        bootstrap.build_first_seed(values, echo=click.echo, progress_factory=_progress)
    snapshots.restore(values["DB"], snapshots.FIRST_SEED)
    click.echo(f"{values['DB']} is back to its first seed: data, apps, users, tokens and the activity trail.")


@main.group()
def snapshot() -> None:
    """Save the whole sandbox as it is now, and restore it later (e.g. a prepared demo)."""


def _snapshot_action(values: dict, name: str, action: str, done: str) -> None:
    from . import snapshots

    try:
        click.echo(f"{done} {snapshots.describe(getattr(snapshots, action)(values['DB'], name))}")
    except snapshots.SnapshotError as exc:
        raise click.UsageError(str(exc)) from None


@snapshot.command("save")
@click.argument("name")
@click.pass_obj
def snapshot_save(values: dict, name: str) -> None:
    """Save the sandbox now as NAME (replacing an older snapshot of that name)."""
    _snapshot_action(values, name, "save", "Saved")


@snapshot.command("restore")
@click.argument("name")
@click.pass_obj
def snapshot_restore(values: dict, name: str) -> None:
    """Make the sandbox what snapshot NAME holds: data, apps, users, tokens, the activity trail."""
    _snapshot_action(values, name, "restore", "Restored")


@snapshot.command("list")
@click.pass_obj
def snapshot_list(values: dict) -> None:
    """List the saved snapshots."""
    from . import snapshots

    found = snapshots.listed(values["DB"])
    for item in found:
        click.echo(snapshots.describe(item))
    if not found:
        click.echo(f"No snapshots yet in {snapshots.folder(values['DB'])}.")


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
