"""Command-line administration: `flask --app wsgi keys ...`, `... tenants ...`, `... store ...`."""

import base64
import os
import re
import uuid
from datetime import datetime, timezone

import click
import orjson
from flask.cli import AppGroup, ScriptInfo

from app.auth import digest, new_key, now_ms
from app.store import StoreError, get_store, rules
from app.store.jsonfile import files, layout

TENANT_ID = re.compile(r"[0-9a-fA-F]{32}")
LABEL = re.compile(r"[^\x00-\x1f\x7f]{0,100}")  # one line, so `keys list` stays a table


class StoreCommand(click.Command):
    """A command on the store: it names the store on stderr, and refuses one not made yet."""

    # So a command run in another folder, or without the service's settings, never makes
    # a store of its own that the server does not read; only those that say they make one
    # (`makes`: store init, store import) may.

    def __init__(self, *args, makes=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.makes = makes

    def invoke(self, ctx):
        store = ctx.ensure_object(ScriptInfo).load_app().extensions["store"]
        click.echo(f"Store: {store.kind} {store.location}", err=True)
        if not self.makes and not store.exists():
            raise click.ClickException(
                f"No store at {store.location}. Run this with the server's settings "
                f"(DATASET_API_DB_PATH, DATASET_API_DATABASE_URL), or make a new store there "
                f"with `store init`.")
        return super().invoke(ctx)


class StoreGroup(AppGroup):
    """A command group whose store errors end the command with a clear message."""

    command_class = StoreCommand

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StoreError as err:
            raise click.ClickException(str(err)) from err


keys_cli = StoreGroup("keys", help="Issue, list and revoke API keys.")
tenants_cli = StoreGroup("tenants", help="List tenants.")
store_cli = StoreGroup("store", help="Check, export and import the data store.")


def iso(ms):
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(rows):
    """Print rows as columns, the first row a header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@keys_cli.command("create")
@click.option("--tenant", help="An existing tenant's 32-hex id; without it, a new tenant.")
@click.option("--name", default="", help="A label to recognise the key by (one line).")
def create_key(tenant, name):
    """Issue a key; it is printed once, on the last line."""
    if not LABEL.fullmatch(name):
        raise click.BadParameter("must be one line of at most 100 characters.",
                                 param_hint="--name")
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
    table([("KEY ID", "TENANT", "LABEL", "CREATED", "LAST USED")]
          + [(k["id"], k["tenant"], k["name"], iso(k["created"]), iso(k["last_used"]))
             for k in get_store().list_keys()])


@keys_cli.command("revoke")
@click.argument("key_id")
def revoke_key(key_id):
    """Make a key stop working at once, in every worker."""
    if not get_store().revoke_key(key_id):
        raise click.ClickException(f"No key with id {key_id}; `keys list` shows them.")
    click.echo(f"Revoked key {key_id}.")


@tenants_cli.command("list")
def list_tenants():
    """Show every tenant, with or without keys, and its counts of keys and datasets."""
    table([("TENANT", "CREATED", "KEYS", "DATASETS")]
          + [(t["id"], iso(t["created"]), str(t["keys"]), str(t["datasets"]))
             for t in get_store().list_tenants()])


@store_cli.command("init", makes=True)
def init_store():
    """Make a new, empty store where the settings point; one already there is left as it is."""
    store = get_store()
    new = not store.exists()
    counts = store.check()
    click.echo(f"{store.location}: " + ("a new, empty store" if new else
               f"a store is there already ({counts['keys']} keys, {counts['tenants']} "
               f"tenants, {counts['datasets']} datasets); left as it is"))


@store_cli.command("check")
def check_store():
    """Say whether the store is sound; the exit code is 0 only if it is."""
    counts = get_store().check()
    click.echo(f"{get_store().location}: sound ({counts['keys']} keys, {counts['tenants']} "
               f"tenants, {counts['datasets']} datasets)")


@store_cli.command("collect")
@click.option("--grace", type=click.IntRange(min=0), default=3600, show_default=True,
              help="Seconds: younger bytes may be an upload not yet recorded, and stay.")
def collect_store(grace):
    """Remove the bytes of files no document names (the servers do this every hour)."""
    removed = get_store().collect(grace * 1000)
    click.echo(f"{get_store().location}: removed {removed} files no document names.")


@store_cli.command("reset-journal")
def reset_journal():
    """Take the JSON store's file as it is when its journal is lost, and start a new one."""
    store = get_store()
    if not hasattr(store, "reset_journal"):  # the store is wrapped (app.serving.metrics)
        raise click.ClickException("Only the JSON store has a journal.")
    store.reset_journal()
    counts = store.check()
    click.echo(f"{store.location}: a new journal begins at the file as it is ({counts['keys']} "
               f"keys, {counts['tenants']} tenants, {counts['datasets']} datasets).")


@store_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def export_store(path, force):
    """Write everything to PATH (the JSON file's layout), consistent, while others serve."""
    path = os.path.abspath(path)
    if os.path.lexists(path) and not force:
        raise click.ClickException(f"{path} exists; give --force to replace it.")
    data = get_store().export()
    meta = {"format": layout.FORMAT, "id": uuid.uuid4().hex, "version": 0, "after": None}
    try:
        content = layout.serialise(layout.to_tables(data, meta))
        skipped = []
    except orjson.JSONEncodeError:  # records stored before the API refused their numbers
        data, skipped = writable(data)
        content = layout.serialise(layout.to_tables(data, meta))
    try:
        files.write_atomic(path, content)
    except StoreError as err:
        raise click.ClickException(f"Could not write the export: {err}") from err
    click.echo(f"Exported {len(data['keys'])} keys, {len(data['tenants'])} tenants and "
               f"{len(data['datasets'])} datasets to {path}.")
    for kind, record, why in skipped:
        click.echo(f"Not exported: {kind} {record.get('id', record.get('key'))} of tenant "
                   f"{record.get('tenant_id', record.get('tenant'))}: {why}", err=True)
    if skipped:
        raise click.exceptions.Exit(1)


KINDS = {"keys": "key", "tenants": "tenant", "datasets": "dataset",
         "idempotency": "Idempotency-Key", "documents": "document", "chunks": "chunk"}


def writable(data):
    """The export without the records JSON cannot hold, and [(kind, record, why)] of those."""
    kept, skipped = {}, []
    for table, records in data.items():
        if table == "files":  # bytes, as base64: always JSON
            kept[table] = records
            continue
        kept[table] = []
        for record in records:
            try:
                orjson.dumps(record)
            except orjson.JSONEncodeError as err:
                found = [f"{'.'.join(map(str, path))} is {value}, out of range"
                         for path, value in rules.out_of_range(record)]
                skipped.append((KINDS[table], record, "; ".join(found) or str(err)))
            else:
                kept[table].append(record)
    return kept, skipped


store_cli.add_command(export_store, "backup")  # the name of earlier versions


@store_cli.command("import", makes=True)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_store(path):
    """Load an export (or a stopped JSON store's file) into a new or empty store."""
    try:
        with open(path, "rb") as file:
            tables = orjson.loads(file.read())
        layout.check(tables)
    except (OSError, ValueError) as err:
        raise click.ClickException(f"{path}: not a dataset store export: {err}") from err
    if tables[layout.META]["1"]["version"] and os.path.exists(path + ".wal"):
        raise click.ClickException(f"{path} has a journal beside it: export the store with "
                                   f"`store export` and import that file instead.")
    data = layout.from_tables(tables)
    for document in data["documents"]:  # a stopped store's file: its bytes are beside it
        if document["location"] not in data["files"]:
            data["files"][document["location"]] = bytes_beside(path, document)
    get_store().import_(data)
    click.echo(f"Imported {len(data['keys'])} keys, {len(data['tenants'])} tenants and "
               f"{len(data['datasets'])} datasets into {get_store().location}.")


def bytes_beside(path, document):
    """The base64 of a document's bytes in the files folder beside a JSON store's file."""
    name = os.path.join(path + ".files", document["created_by"], document["location"])
    try:
        with open(name, "rb") as file:
            return base64.b64encode(file.read()).decode()
    except OSError as err:
        raise click.ClickException(f"{path}: the bytes of document {document['id']} cannot "
                                   f"be read: {err}") from err


GROUPS = (keys_cli, tenants_cli, store_cli)  # also the console command's (app/console.py)


def init_app(app):
    for group in GROUPS:
        app.cli.add_command(group)
