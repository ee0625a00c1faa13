"""Imports every module that defines tables, so metadata (and Alembic) sees them all.

The one place below ``api/`` that names modules above it: it only registers table classes for
migrations and schema checks, and runs no code of theirs.
"""

from __future__ import annotations

import importlib

TABLE_MODULES = (
    "core.users",
    "core.audit",
    "core.login_throttle",
    "invoice.registry",
    "invoice.online_store",
    "accounting.claims",
    "accounting.overrides",
    "accounting.ledger",
    "accounting.payments",
    "archive.store",
    "archive.numbering",
    "core.jobs",
    "api.tables",
)

for _name in TABLE_MODULES:
    importlib.import_module(_name)
