"""gunicorn settings: `gunicorn wsgi:app` from the repository root reads this file."""

from app.serving.config import *  # noqa: F401,F403 (gunicorn reads this module's names)
