"""The edge for the live tests: raw HTTP exchanges, and a real nginx running the shipped
deploy/nginx.conf on loopback ports."""

import os
import socket

import pytest

from harness.live import TIMEOUT
from harness.nginx import NGINX, Nginx, wait_for  # noqa: F401 (the tests' names for them)

CHROMIUM = "/usr/bin/chromium"


def need(path, package):
    """Skip, with a one-line reason, where `path` is missing; under CI=true, fail instead."""
    if os.path.exists(path):
        return
    reason = f"{path} is missing: apt-get install {package}"
    if os.environ.get("CI"):
        pytest.fail(f"CI needs it: {reason}")
    pytest.skip(reason)


def exchange(address, raw, source="127.0.0.1"):
    """Send the bytes `raw` to (host, port) from `source`; (status, headers, body) of the
    answer, headers lower-cased."""
    with socket.create_connection(address, TIMEOUT, (source, 0)) as sock:
        try:
            sock.sendall(raw)
        except OSError:  # a server may answer and close before reading everything
            pass
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def request(path, headers=(), body=b"", method=None, request_line=None):
    """The bytes of an HTTP/1.1 request; `headers` as (name, value) pairs."""
    method = method or ("POST" if body else "GET")
    lines = [request_line or f"{method} {path} HTTP/1.1", "Host: localhost",
             "Connection: close", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body  # U+00A0: byte 0xA0


def chunked(body, size=None):
    """`body` as one chunk, with `size` written as its size line if given."""
    return (size or f"{len(body):x}").encode() + b"\r\n" + body + b"\r\n0\r\n\r\n"
