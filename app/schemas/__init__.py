"""Marshmallow schemas: `legacy` for /api/v1/dataset, `current` for /api/v1/datasets, and the
field rules they share in `fields`."""
