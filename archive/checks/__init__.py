"""The 19 items of the four-property check (四性检测), one function each.

``base`` holds the shapes (items, results, the context a step reads); the four property
modules register one step per item in ``base.STEPS`` when imported, in the report order of
``base.ITEMS``; ``malware`` runs ClamAV. ``archive.check.check_dir`` runs the table.
"""

from __future__ import annotations

from archive.checks import authenticity, integrity, security, usability
from archive.checks.base import ITEMS, STEPS, PackageView, run_steps

__all__ = ["ITEMS", "STEPS", "PackageView", "authenticity", "integrity", "run_steps", "security",
           "usability"]
