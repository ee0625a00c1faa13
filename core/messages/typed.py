"""Messages and labels of the typed area (see core/messages/__init__.py)."""

MESSAGES: dict[str, str] = {}

LABELS: dict[str, dict[str, str]] = {}
