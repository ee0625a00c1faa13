"""The base of every service error below ``api/``.

Services raise these when a request cannot be carried out; ``api/`` turns ``kind`` into an
HTTP status (bad_input 400/422, not_found 404, refused 409/403, conflict 409) and the CLI into
an exit status (bad_input 2, everything else 1). A message is written for the person who
reads it: what, where, why.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    BAD_INPUT = "bad_input"  # the caller's data is malformed or incomplete
    NOT_FOUND = "not_found"
    REFUSED = "refused"  # a business rule says no (duplicate, wrong state, not allowed)
    CONFLICT = "conflict"  # lost a race / concurrent change; may be retried


class ServiceError(Exception):
    def __init__(self, kind: ErrorKind, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details or {}
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}
