"""Shared infrastructure under every package: settings, database, clock, users, audit log.

Holds no business rules: ``invoice/``, ``accounting/`` and ``archive/`` may import it; it
imports none of them.
"""
