"""Serving with gunicorn: its settings, a worker that answers its own errors in JSON, logs,
metrics."""
