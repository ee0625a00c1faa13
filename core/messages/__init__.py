"""One catalogue for every text a person reads: stable codes, Chinese words.

Finance staff read Chinese. Every error, check, state, role and audit action that reaches a
person (API ``message``, page, CLI, archived PDF) is looked up here by a stable English
``code``; English stays in codes and logs. A message says what happened, which file or
field, why, and what to do next; its ``{placeholders}`` are filled from the error's details.

The entries live in one small module per area (``invoice``, ``verify``, ``accounting``,
``archive``, ``auth``, ``web``) so that each area can grow without touching the others; this
module joins them into one mapping and refuses a code defined twice, so a code always means
one thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Any

from core.messages import (
    accounting,
    archive,
    auth,
    bank,
    checks,
    claims,
    invoice,
    kinds,
    paidflag,
    parsecore,
    procrastinate,
    queue,
    records,
    render,
    sandbox,
    scans,
    storage,
    typed,
    verify,
    web,
)

_AREAS = (invoice, verify, checks, claims, sandbox, accounting, archive, records, auth, web,
          kinds, bank, scans, typed, parsecore, render, storage, queue, paidflag,
          procrastinate)


def _join(name: str) -> dict[str, Any]:
    joined: dict[str, Any] = {}
    for area in _AREAS:
        part: Mapping[str, Any] = getattr(area, name, {})
        for key, value in part.items():
            if key in joined and name == "MESSAGES":
                raise RuntimeError(f"message code {key!r} is defined twice (in {area.__name__})")
            if name == "LABELS" and key in joined:
                joined[key] = {**joined[key], **value}
            else:
                joined[key] = value
    return joined


MESSAGES: dict[str, str] = _join("MESSAGES")
# domain ("claim_state", "role", "check", "audit_action", ...) -> value -> Chinese label
LABELS: dict[str, dict[str, str]] = _join("LABELS")


class _Lenient(dict[str, Any]):
    """Leaves an unknown placeholder visible instead of failing: a missing detail must never
    turn an error message into a crash."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def has(code: str) -> bool:
    return code in MESSAGES


def text(code: str, /, **params: Any) -> str:
    """The Chinese message for ``code`` with its placeholders filled.

    An unknown code raises ``KeyError``: every code a person can meet must be catalogued (a
    test walks the codes the services raise).
    """
    return Formatter().vformat(MESSAGES[code], (), _Lenient(params))


def label(domain: str, value: str | None) -> str:
    """The Chinese label of a state, role, check or action; the value itself when unknown."""
    if value is None:
        return ""
    return LABELS.get(domain, {}).get(value, value)
