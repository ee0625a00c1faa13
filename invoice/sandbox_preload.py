"""Imported once by the sandbox's forkserver, so that every worker starts warm.

A worker is forked from the forkserver, so whatever the server imported and computed before
is there for free in every worker. Readers import some libraries lazily (pyhanko for PDF
signatures, pdfplumber, zxing) and the SM2 code builds its fixed-base table on first use:
seconds of work that would otherwise land on the first file of every new worker, which is
exactly the worker a normal upload gets when the warm ones are busy with hostile files.
Nothing here reads a file; a library that is missing is left to fail where it is used.
"""

from __future__ import annotations

import contextlib
import importlib

LAZY_MODULES = (
    "invoice.analysis", "invoice.ofd", "invoice.pdf", "invoice.xml", "invoice.verify",
    "invoice.verify.ofd", "invoice.verify.pdf", "invoice.verify.ses", "invoice.verify.checks",
    "core.clock", "pypdfium2", "pypdfium2.raw", "zxingcpp", "pdfplumber", "lxml.etree",
    "asn1crypto.cms", "asn1crypto.x509", "pyhanko.sign.validation", "pyhanko.pdf_utils.reader",
    "pyhanko.pdf_utils.misc", "pyhanko.sign.ades.cades_asn1", "pyhanko_certvalidator",
    "invoice.ofd.render", "invoice.preview", "resvg_py",
)


def warm_up() -> None:
    for name in LAZY_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        from invoice.verify.sm2 import SM2_CURVE

        SM2_CURVE.base_table()


warm_up()
