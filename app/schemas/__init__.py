"""Marshmallow schemas: `legacy`, `current`, `parser_config`, and the shared `fields`."""
