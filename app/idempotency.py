"""The Idempotency-Key header of a create, read the same way by both APIs."""

import hashlib
import json

from flask import request

MAX_KEY = 255


def mismatch_message(key):
    return f"Idempotency-Key '{key}' was used before with another request body."


def idempotency(api, body, error):
    """(key, fingerprint) for the store, or None without the header; `error(message)` makes
    the API's own error for a key of the wrong size."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY:
        raise error(f"Idempotency-Key must have 1 to {MAX_KEY} characters.")
    # The API is part of the fingerprint: one key sent to both APIs is two different requests.
    text = json.dumps([api, body], sort_keys=True, separators=(",", ":"))
    return key, hashlib.sha256(text.encode()).hexdigest()
