"""Fixtures for the accounting tests: users of each role and registered invoices.

Invoices are inserted as ``InvoiceRecord`` rows directly (the registry's own tests cover
parsing and registration); the CLI test goes through the real ``fapiao import``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from core.db import session_scope
from core.settings import Settings
from core.users import User, create_user
from invoice.registry import InvoiceRecord

ORG_NAME = "海南麒麟云服科技有限公司"
ORG_TAX_ID = "91460300MAA92DJN95"
_numbers = itertools.count(24112000000048540000)


@dataclass
class People:
    clerk: User
    clerk2: User
    approver: User
    approver2: User
    accountant: User
    admin: User
    accountant2: User


def _people() -> People:
    with session_scope() as s:
        return People(
            clerk=create_user(s, "clerk", "clerk"), clerk2=create_user(s, "clerk2", "clerk"),
            approver=create_user(s, "approver", "approver"), approver2=create_user(s, "approver2", "approver"),
            accountant=create_user(s, "accountant", "accountant"), admin=create_user(s, "admin", "admin"),
            accountant2=create_user(s, "accountant2", "accountant"),
        )


@pytest.fixture
def org(settings: Settings) -> Settings:
    settings.org_name = ORG_NAME
    settings.org_tax_id = ORG_TAX_ID
    return settings


@pytest.fixture
def people(sqlite_engine: Engine, org: Settings) -> People:
    return _people()


@pytest.fixture
def db_people(engine: Engine, org: Settings) -> People:
    """The same users on both backends (for the concurrency tests)."""
    return _people()


def reviewed(s: Any, p: People, voucher_id: str) -> str:
    """审核 the voucher by the second accountant (not its maker) in ``s``; its id, for posting."""
    from accounting.ledger import review_voucher

    review_voucher(s, p.accountant2, voucher_id)
    return voucher_id


def make_invoice(total: str = "1060.00", tax: str = "60.00", kind: str = "digital_ordinary",
                 status: str = "ok", buyer_tax_id: str | None = ORG_TAX_ID,
                 buyer_name: str | None = ORG_NAME, **extra: Any) -> InvoiceRecord:
    """Register one invoice row and return it (detached, attributes loaded)."""
    number = str(next(_numbers))
    amount = Decimal(total) - Decimal(tax)
    with session_scope() as s:
        rec = InvoiceRecord(
            key=number, unique_key=number if status == "ok" else None, sha256=number.rjust(64, "0"),
            unique_sha256=number.rjust(64, "0") if status == "ok" else None, kind=kind, source_format="xml",
            number=number, issue_date=date(2025, 11, 3), buyer_name=buyer_name, buyer_tax_id=buyer_tax_id,
            seller_name="北京互联三六五科技有限公司", seller_tax_id="91110108690017781B",
            amount=amount, tax=Decimal(tax), total=Decimal(total), data={}, verification_status="valid",
            verification={}, status=status, uploaded_by="clerk", original_filename=f"{number}.xml", size=1,
            **extra)
        s.add(rec)
        s.flush()
        return rec
