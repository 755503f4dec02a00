"""API keys: making them, digesting them, and checking them on every API request."""

import hashlib
import hmac
import re
import secrets
import time

from flask import current_app, g, request

from app.errors import AUTHENTICATION_ERROR, ApiError, in_current_api
from app.store import StoreError, get_store

KEY_PREFIX = "ragflow-"  # so secret scanners recognise a leaked key
PUBLIC_ENDPOINTS = {"api.openapi_json"}  # endpoints of the API that need no key
UNAUTHORIZED = "<Unauthorized '401: Unauthorized'>"  # RAGFlow's body, which clients compare
# `Bearer <key>` or a bare `<key>`, split at ASCII spaces only, as nginx's limits split it
# (deploy/nginx.conf): str.split() also splits at U+00A0 and its kin, so one key sent with
# trailing 0xA0 bytes would pass here as many keys there.
AUTHORIZATION = re.compile(r"(?:[Bb][Ee][Aa][Rr][Ee][Rr] +)?([^ ]+)")


def new_key():
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


def now_ms():
    return time.time_ns() // 1_000_000


def unauthorized(message):
    """A 401: the legacy envelope with `message`, or RAGFlow's own body in the current API."""
    if in_current_api():
        return ApiError(401, 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
    return ApiError(401, AUTHENTICATION_ERROR, message, {"WWW-Authenticate": "Bearer"})


def key_from_header(header):
    """The key in `Bearer <key>`, or in a bare `<key>` as the legacy SDK sends it."""
    match = AUTHORIZATION.fullmatch(header.strip(" "))
    return match[1] if match and match[1].lower() != "bearer" else None


def authenticate():
    """Set g.tenant_id from the request's API key, or answer 401."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.environ.get("HTTP_AUTHORIZATION")  # what request.headers has, sooner
    if header is None:
        raise unauthorized("Authorization header is missing.")
    key = key_from_header(header)
    wanted = digest(key) if key else None
    store = get_store()
    record = store.find_key(wanted) if wanted else None
    if record is None or not hmac.compare_digest(record["digest"], wanted):
        raise unauthorized("Token is invalid.")
    try:
        store.note_use(record, now_ms())
    except StoreError as err:  # a failed bookkeeping write must not fail the request
        current_app.logger.warning("Could not record the use of key %s: %s", record["id"], err)
    g.tenant_id = record["tenant"]
