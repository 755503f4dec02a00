"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

import sys

from app import create_app
from app.settings import ConfigError

try:
    app = create_app()
except ConfigError as err:
    sys.exit(f"Error: {err}")  # one line, not the traceback of an import
