"""Serving the app with gunicorn: its settings, a worker that answers its own errors in
the envelope, and one log format for access and app lines."""
