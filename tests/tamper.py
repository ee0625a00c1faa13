"""What an attacker with owner rights on the database does first: remove the append-only guard.

Tests that tamper with the audit log call this, so that they exercise the hash chain (which
must still catch the change) rather than the triggers (which stop honest mistakes).
"""

from __future__ import annotations

DROP_GUARD = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete"],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log"],
}
