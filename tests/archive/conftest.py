"""Fixtures for the archive tests: posted vouchers built through the real services.

Invoices are the real samples, imported with ``invoice.importer.ingest_files`` (stored byte
for byte, parsed, verified, registered); claims are submitted and approved, vouchers created
from them and posted, all through ``accounting``. Each test owns its database and home.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from accounting import claims as acc_claims
from accounting import ledger
from archive import signing
from core.db import session_scope
from core.settings import Settings
from core.users import User, create_user
from invoice.importer import ingest_files
from tests.samples import DIGITAL_OFD, DIGITAL_PDF, INVOICES

SPECIAL5 = INVOICES / "renoyuan__easyofd" / "增值税电子专票5.ofd"
# A genuinely signed invoice whose cross-checks all pass (v4signed.ofd is a demo whose tax ids
# fail their check characters, so the claim gate refuses it).
SIGNED = INVOICES / "ofdrw__ofdrw" / "SignScaleError.ofd"
SIGNED_NUMBER = "99934328"
SAMPLE_SETS: list[list[Path]] = [[SIGNED, DIGITAL_OFD], [SPECIAL5], [DIGITAL_PDF]]


@dataclass
class People:
    clerk: User
    approver: User
    approver2: User
    accountant: User
    archivist: User
    admin: User


def _people() -> People:
    with session_scope() as s:
        return People(clerk=create_user(s, "clerk", "clerk"), approver=create_user(s, "approver", "approver"),
                      approver2=create_user(s, "approver2", "approver"),
                      accountant=create_user(s, "accountant", "accountant"),
                      archivist=create_user(s, "archivist", "archivist"), admin=create_user(s, "admin", "admin"))


_claim_no = itertools.count(1)


def post_voucher_for(people: People, files: list[Path]) -> str:
    """Import the files, claim them, approve, create the voucher and post it; its id."""
    result = ingest_files([(f.name, f.read_bytes()) for f in files], people.clerk.username)
    ids = [e["invoice_id"] for e in result.imported]
    assert len(ids) == len(files), result.to_dict() if hasattr(result, "to_dict") else result
    with session_scope() as s:
        claim = acc_claims.create_claim(s, people.clerk, f"差旅费报销 {next(_claim_no)}", "财务部", "出差",
                                        [{"invoice_id": i} for i in ids])
        acc_claims.submit_claim(s, people.clerk, claim.id)
        acc_claims.review_claim(s, people.approver, claim.id)
        acc_claims.approve_claim(s, people.approver2, claim.id, "同意")
        claim_id = claim.id
    with session_scope() as s:
        v = ledger.create_voucher_from_claims(s, people.accountant, [claim_id])
        vid = v.id
    with session_scope() as s:
        ledger.review_voucher(s, people.admin, vid)  # 审核 by someone other than the maker
        ledger.post_voucher(s, people.accountant, vid)
    return vid


@pytest.fixture
def people(sqlite_engine: Engine, settings: Settings) -> People:
    signing.ensure_archive_key()
    return _people()


@pytest.fixture
def db_people(engine: Engine, settings: Settings) -> People:
    signing.ensure_archive_key()
    return _people()


@pytest.fixture
def posted(people: People) -> Callable[[list[Path]], str]:
    return lambda files: post_voucher_for(people, files)


@pytest.fixture
def db_posted(db_people: People) -> Callable[[list[Path]], str]:
    return lambda files: post_voucher_for(db_people, files)
