"""Imports every module that defines tables, so metadata (and Alembic) sees them all."""

from __future__ import annotations

import importlib

_TABLE_MODULES = (
    "core.users",
    "core.audit",
    "invoice.registry",
    "invoice.online_store",
    "api.tables",
    "accounting.claims",
    "accounting.ledger",
    "archive.store",
)

for _name in _TABLE_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a package not written yet
        if exc.name != _name:
            raise
