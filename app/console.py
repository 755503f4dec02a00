"""`ragflow-dataset-api`: the CLI groups of app/cli.py, and `serve` (gunicorn with our settings)."""

import multiprocessing
import os
import sys
from importlib.metadata import version

import click
from flask.cli import ScriptInfo

from app import SETTINGS, cli, create_app
from app.settings import BIND, PREFIX, ConfigError, workers

NAME = "ragflow-dataset-api"
SERVE_HELP = f"""Usage: {NAME} serve [GUNICORN OPTIONS]

  Serve with gunicorn and this package's settings. The options are gunicorn's
  (`gunicorn --help` lists them); here their defaults are:

    -b, --bind     {{bind}}
    -w, --workers  {{workers}}
    the store      {{store}}

  gunicorn also reads WEB_CONCURRENCY (the workers) and GUNICORN_CMD_ARGS (any
  option); an option on the command line wins over both.
"""


def load_app():
    """The app, or a one-line error naming the variable that is wrong."""
    try:
        return create_app()
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


@click.group(help="A self-hosted server for RAGFlow's dataset API: keys, store, serving.")
@click.version_option(version(NAME), prog_name=NAME)
def main():
    pass


for group in cli.GROUPS:
    main.add_command(group)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
              add_help_option=False)
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def serve(options):
    """Serve with gunicorn; OPTIONS go to gunicorn (e.g. -b 0.0.0.0:9380 -w 4)."""
    # gunicorn reads WEB_CONCURRENCY as it is imported, with a traceback for a bad one;
    # the DATASET_API_* variables are checked by its on_starting hook.
    cores = multiprocessing.cpu_count()
    try:
        count = workers(os.environ, cores * 2 + 1)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    if {"-h", "--help"} & set(options):  # ours, not gunicorn's, whose defaults are not ours
        why = "WEB_CONCURRENCY" if "WEB_CONCURRENCY" in os.environ else f"2 × {cores} cores + 1"
        if os.environ.get(PREFIX + "DATABASE_URL"):
            store = f"PostgreSQL, at {PREFIX}DATABASE_URL"
        else:
            path = os.environ.get(PREFIX + "DB_PATH") or SETTINGS["DB_PATH"]
            store = f"{os.path.abspath(path)} ({PREFIX}DB_PATH)"
        click.echo(SERVE_HELP.format(bind=BIND, workers=f"{count} ({why})", store=store))
        return
    command = [sys.executable, "-m", "gunicorn", "-c", "python:app.serving.config",
               *options, "app:create_app()"]
    os.execv(sys.executable, command)  # gunicorn takes this process's place, for supervisors


def run():
    """The console entry point."""
    main(obj=ScriptInfo(create_app=load_app, set_debug_flag=False))
