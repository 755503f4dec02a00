"""The DATASET_API_* variables and WEB_CONCURRENCY: read, and checked with a one-line message."""

import os

PREFIX = "DATASET_API_"
BIND = "127.0.0.1:9380"  # gunicorn's; the port RAGFlow clients default to
NAME_RULES = ("strict", "legacy")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names its variable."""


def number(name, text, kind):
    """`text` as a positive `kind` (int or float), or ConfigError naming `name`."""
    what = "whole number" if kind is int else "number"
    try:
        value = kind(text)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(value, bool) or not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a {what} above 0, not {text!r}")
    return value


def from_environment(defaults, environ=os.environ):
    """The settings of `defaults` that DATASET_API_* variables give, each of its default's type."""
    values = {}
    for key, default in defaults.items():
        name, text = PREFIX + key, environ.get(PREFIX + key)
        if text is None:
            continue
        if isinstance(default, (int, float)):
            values[key] = number(name, text, type(default))
        elif default is None:  # optional: a blank one is for its own check (the URL's refuses it)
            values[key] = text
        elif not text.strip():
            raise ConfigError(f"{name} must not be empty")
        else:
            values[key] = text
    return values


def check(config):
    """Raise ConfigError for a value the app cannot run with, however it was given."""
    if config["NAME_RULE"] not in NAME_RULES:
        raise ConfigError(f"{PREFIX}NAME_RULE must be one of {', '.join(NAME_RULES)}, "
                          f"not {config['NAME_RULE']!r}")
    if config["CACHE"] not in ("on", "off"):
        raise ConfigError(f"{PREFIX}CACHE must be on or off, not {config['CACHE']!r}")
    if config["LOG_FORMAT"] not in ("plain", "json"):
        raise ConfigError(f"{PREFIX}LOG_FORMAT must be plain or json, not "
                          f"{config['LOG_FORMAT']!r}")
    if config["METRICS_BIND"] != "off" and address(config["METRICS_BIND"]) is None:
        raise ConfigError(f"{PREFIX}METRICS_BIND must be HOST:PORT or off, not "
                          f"{config['METRICS_BIND']!r}")
    for name in ("MAX_CONTENT_LENGTH", "CURRENT_MAX_CONTENT_LENGTH"):
        limit = config[name]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigError(f"{PREFIX}{name} must be a positive number of bytes, "
                              f"not {limit!r}")


def address(text):
    """(host, port) of `text`, HOST:PORT (an IPv6 host in brackets), or None."""
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def workers(environ, default):
    """gunicorn's worker count: WEB_CONCURRENCY, or `default`."""
    text = environ.get("WEB_CONCURRENCY")
    return default if text is None else number("WEB_CONCURRENCY", text, int)
