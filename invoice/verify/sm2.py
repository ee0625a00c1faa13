"""SM2 lives in :mod:`core.sm2`; this name stays for the verification code that imports it.

The organisation key signs archive manifests (``archive/``) and audit-chain anchors
(``core/audit.py``); ``core`` may not import ``invoice``, so the curve arithmetic moved down to
``core`` and ``invoice.verify`` re-exports it. Module state (per-key tables, caches) exists once,
in :mod:`core.sm2`.
"""

from __future__ import annotations

from core.sm2 import *  # noqa: F403 - the public SM2/SM3 names, unchanged
from core.sm2 import SM2Error, clear_caches  # noqa: F401 - named for readers and type checkers
