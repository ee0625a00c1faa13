"""Catalogue entries for archived records and their renditions (see :mod:`core.messages`)."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
}

LABELS: dict[str, dict[str, str]] = {
}
