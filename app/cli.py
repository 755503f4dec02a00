"""Command-line administration: `flask --app wsgi keys ...` and `... store ...`."""

import re
import uuid
from datetime import datetime, timezone

import click
from flask.cli import AppGroup

from app.auth import digest, new_key, now_ms
from app.store import StoreError, get_store

TENANT_ID = re.compile(r"[0-9a-fA-F]{32}")


class StoreGroup(AppGroup):
    """A command group whose store errors end the command with a clear message."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StoreError as err:
            raise click.ClickException(str(err)) from err


keys_cli = StoreGroup("keys", help="Issue, list and revoke API keys.")
store_cli = StoreGroup("store", help="Check and back up the data store.")


def iso(ms):
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@keys_cli.command("create")
@click.option("--tenant", help="An existing tenant's 32-hex id; without it, a new tenant.")
@click.option("--name", default="", help="A label to recognise the key by.")
def create_key(tenant, name):
    """Issue a key; it is printed once, on the last line."""
    if tenant is None:
        tenant = uuid.uuid4().hex
    elif not TENANT_ID.fullmatch(tenant):
        raise click.BadParameter("must be 32 hexadecimal characters.", param_hint="--tenant")
    elif not get_store().tenant_exists(tenant.lower()):
        raise click.BadParameter(f"no tenant {tenant}; leave out --tenant to make a new one.",
                                 param_hint="--tenant")
    key = new_key()
    record = get_store().create_key(tenant.lower(), name, digest(key), now_ms())
    click.echo(f"key id: {record['id']}")
    click.echo(f"tenant: {record['tenant']}")
    click.echo("The key below is shown only this once; keep it safe:")
    click.echo(key)


@keys_cli.command("list")
def list_keys():
    """Show every key's id, tenant, label, creation and last use; never the key."""
    rows = [("KEY ID", "TENANT", "LABEL", "CREATED", "LAST USED")]
    rows += [(k["id"], k["tenant"], k["name"], iso(k["created"]), iso(k["last_used"]))
             for k in get_store().keys()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@keys_cli.command("revoke")
@click.argument("key_id")
def revoke_key(key_id):
    """Make a key stop working at once, in every worker."""
    if not get_store().revoke_key(key_id):
        raise click.ClickException(f"No key with id {key_id}; `keys list` shows them.")
    click.echo(f"Revoked key {key_id}.")


@store_cli.command("check")
def check_store():
    """Say whether the store is sound; the exit code is 0 only if it is."""
    counts = get_store().verify()
    click.echo(f"{get_store().path}: sound ({counts['keys']} keys, {counts['tenants']} tenants, "
               f"{counts['datasets']} datasets)")


@store_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_store(path):
    """Write a consistent copy of the store to PATH, even while the server runs."""
    get_store().backup(path)
    click.echo(f"Backed up {get_store().path} to {path}.")


def init_app(app):
    app.cli.add_command(keys_cli)
    app.cli.add_command(store_cli)
