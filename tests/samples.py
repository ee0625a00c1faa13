"""The shared real sample files, loaded in place from ../shared/samples/ (never copied)."""

from __future__ import annotations

import json
import os
from pathlib import Path

# ../shared/samples beside the checkout; FAPIAO_SAMPLES points elsewhere when the checkout moves.
SAMPLES = Path(
    os.environ.get("FAPIAO_SAMPLES") or Path(__file__).resolve().parents[2] / "shared" / "samples"
).resolve()
INVOICES = SAMPLES / "invoices"
OTHER = SAMPLES / "other"
EXPECTED: list[dict] = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))

V4SIGNED = INVOICES / "ofdrw__ofdrw" / "v4signed.ofd"
TAMPERED = INVOICES / "ofdrw__ofdrw" / "blob-fda89879-发票示例.ofd"
DIGITAL_OFD = INVOICES / "ofdrw__ofdrw" / "发票示例.ofd"
DIGITAL_PDF = INVOICES / "MARSCHEN-CN__FapiaoGO" / "test.pdf"


def sample(rel: str) -> Path:
    return SAMPLES / rel


def read(rel: str) -> bytes:
    return (SAMPLES / rel).read_bytes()
