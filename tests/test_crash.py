"""Crash test: kill (SIGKILL) import, posting, packaging and export at random points, again and
again, and check after every kill that nothing is lost or half-written.

Each operation runs as the real CLI in a subprocess (its own session, so the kill takes its
sandbox workers too) and is killed after a random delay drawn from a fixed seed, so a failure
replays. After every kill the data folder must be consistent: the audit chain verifies, every
registered original is in the store byte for byte, no invoice is registered twice, a voucher
is either posted with all its invoices marked or not at all, and the archive store holds only
complete packages that the database names. Then the same command, run again, completes. The
whole test is time-boxed (about a minute on two busy cores): it makes as many kill rounds per
operation as its budget allows, at least one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from accounting import claims as acc_claims
from accounting import ledger
from accounting.ledger import InvoicePosting, Voucher, VoucherInvoice
from archive import signing
from archive.store import ArchivePackage, archive_root
from core.audit import verify_chain
from core.blobstore import get_blobstore
from core.db import session_scope
from core.settings import Settings
from core.users import create_user
from invoice.registry import InvoiceRecord
from tests.archive.conftest import People, _people
from tests.conftest import store_env
from tests.invoice.test_import import write_variants

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261127
N_FILES = 24
BUDGET_SECONDS = 60.0
KILL_ROUNDS = 3  # per operation, while the budget lasts
REVIEWER = "accountant2"  # the second accountant who reviews (审核) the vouchers before posting


@pytest.fixture
def people(sqlite_engine: Engine, settings: Settings) -> People:
    signing.ensure_archive_key()
    people = _people()
    with session_scope() as s:  # 审核 is signed by an accountant other than the voucher's maker
        create_user(s, REVIEWER, "accountant")
    return people


def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAPIAO_") and k != "DATABASE_URL"}
    env.update({"FAPIAO_HOME": str(settings.home), "DATABASE_URL": str(settings.database_url),
                "FAPIAO_ENVIRONMENT": "test", "PYTHONPATH": str(ROOT), **store_env(settings)})
    return env


def cli(settings: Settings, *args: str) -> tuple[int, Any]:
    out = subprocess.run([sys.executable, "-c", "from api.cli import run; run()", *args], env=cli_env(settings),
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    try:
        body = json.loads(out.stdout)
    except json.JSONDecodeError:
        body = out.stdout + out.stderr
    return out.returncode, body


def kill_after(settings: Settings, delay: float, *args: str) -> bool:
    """Start the command, SIGKILL it (and its workers) after ``delay`` s; True if it was killed."""
    proc = subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", *args], env=cli_env(settings),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                            start_new_session=True)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


# --- what must hold after every kill --------------------------------------------------------------

def assert_consistent() -> None:
    store = get_blobstore()
    with session_scope() as s:
        assert verify_chain(s).ok
        recs = s.exec(select(InvoiceRecord)).all()
        numbers = [r.number for r in recs]
        assert len(numbers) == len(set(numbers)), "an invoice registered twice"
        for r in recs:
            assert store.get(r.sha256, verify=True)  # registered => stored, byte for byte
        for v in s.exec(select(Voucher)).all():
            inv_ids = [vi.invoice_id for vi in s.exec(select(VoucherInvoice).where(VoucherInvoice.voucher_id == v.id))]
            marks = s.exec(select(InvoicePosting).where(col(InvoicePosting.invoice_id).in_(inv_ids),
                                                        col(InvoicePosting.active_key).is_not(None))).all()
            if v.state == "posted":
                assert {m.invoice_id for m in marks} == set(inv_ids) and {m.voucher_id for m in marks} == {v.id}
            else:
                assert marks == [], f"voucher {v.number} is {v.state} but its invoices are marked posted"
        pkgs = s.exec(select(ArchivePackage)).all()
    # the store proper holds exactly the packages the database names, each one complete
    root = archive_root()
    on_disk = {p.parent.relative_to(root).as_posix() for p in root.rglob("manifest*")
               if not any(part.startswith(".") for part in p.relative_to(root).parts)} if root.exists() else set()
    assert on_disk == {p.path for p in pkgs}, (on_disk, [p.path for p in pkgs])


def count(model: Any, *where: Any) -> int:
    with session_scope() as s:
        return int(s.exec(select(func.count()).select_from(model).where(*where)).one())


def make_vouchers(people: People, n: int) -> list[str]:
    """Claims of two imported invoices each, reviewed, approved, turned into draft vouchers."""
    with session_scope() as s:
        ids = [r.id for r in s.exec(select(InvoiceRecord).order_by(col(InvoiceRecord.number))).all()]
    vids = []
    for i in range(n):
        with session_scope() as s:
            claim = acc_claims.create_claim(s, people.clerk, f"差旅费报销 {i}", "财务部", "出差",
                                            [{"invoice_id": x} for x in ids[2 * i: 2 * i + 2]])
            acc_claims.submit_claim(s, people.clerk, claim.id)
            acc_claims.review_claim(s, people.approver, claim.id)
            acc_claims.approve_claim(s, people.approver2, claim.id, "同意")
            cid = claim.id
        with session_scope() as s:
            vids.append(ledger.create_voucher_from_claims(s, people.accountant, [cid]).id)
    return vids


def test_kill_anywhere_lose_nothing_write_nothing_half(people: People, settings: Settings, tmp_path: Path) -> None:
    rnd = random.Random(SEED)
    start = time.monotonic()
    killed: list[bool] = []

    def rounds(phases_left: int) -> int:
        """Kill rounds for the next operation: what the remaining budget allows, 1..KILL_ROUNDS."""
        left = BUDGET_SECONDS - (time.monotonic() - start)
        return max(1, min(KILL_ROUNDS, int(left / phases_left / 6)))

    # 1. import: killed, then rerun by the same clerk until it completes with exit 0
    made = write_variants(tmp_path / "in", N_FILES)
    for _ in range(rounds(4)):
        killed.append(kill_after(settings, rnd.uniform(0.5, 5.0), "import", str(tmp_path / "in"), "--as", "clerk", "--json",
                   "--workers", "2"))
        assert_consistent()
    status, body = cli(settings, "import", str(tmp_path / "in"), "--as", "clerk", "--json", "--workers", "2")
    assert status == 0, body
    assert body["duplicates"] == body["rejected"] == []
    assert len(body["imported"]) + len(body["already_imported"]) == N_FILES
    assert count(InvoiceRecord) == N_FILES and set(made) == set(_numbers())
    assert_consistent()

    # 2. posting: each draft voucher is reviewed (审核, by a second accountant: posting needs
    # it), then its post is killed, then posted again
    vids = make_vouchers(people, 3)
    for vid in vids:
        status, body = cli(settings, "voucher", "review", vid, "--as", REVIEWER, "--json")
        assert status == 0, body
        assert_consistent()
        for _ in range(rounds(3)):
            killed.append(kill_after(settings, rnd.uniform(0.2, 4.0), "voucher", "post", vid, "--as", "accountant",
                                     "--json"))
            assert_consistent()
        status, body = cli(settings, "voucher", "post", vid, "--as", "accountant", "--json")
        assert status == 0 or (status == 1 and "already" in json.dumps(body, ensure_ascii=False)), body
    assert count(Voucher, Voucher.state == "posted") == len(vids)
    assert count(InvoicePosting, col(InvoicePosting.active_key).is_not(None)) == 2 * len(vids)
    assert_consistent()

    # 3. packaging: killed mid-build, then packaged again (exactly one live package each)
    for vid in vids:
        for _ in range(rounds(2)):
            killed.append(kill_after(settings, rnd.uniform(0.2, 4.0), "archive", "package", vid, "--as", "archivist",
                                     "--json"))
            assert_consistent()
        status, body = cli(settings, "archive", "package", vid, "--as", "archivist", "--json")
        assert status == 0 or body["error"]["code"] == "already_archived", body
    assert count(ArchivePackage, col(ArchivePackage.live_voucher_id).is_not(None)) == len(vids)
    assert_consistent()
    with session_scope() as s:
        year = s.exec(select(ArchivePackage.year)).first()
    assert year is not None
    status, body = cli(settings, "archive", "check", "--year", str(year), "--as", "archivist", "--json")
    assert status == 0 and body["status"] == "pass", body

    # 4. export: killed while writing the bag, then exported again; only complete bags are visible
    out = tmp_path / "handover"
    for _ in range(rounds(1)):
        killed.append(kill_after(settings, rnd.uniform(0.5, 6.0), "archive", "export", "--year", str(year),
                                 "--out", str(out), "--as", "archivist", "--json"))
        assert_consistent()
    status, body = cli(settings, "archive", "export", "--year", str(year), "--out", str(out), "--as", "archivist",
                       "--json")
    assert status == 0, body
    status, report = cli(settings, "archive", "verify-export", body["bag_path"], "--json")
    assert status == 0 and report["status"] == "pass", report

    # the data folder as a whole, through the CLI
    assert cli(settings, "audit", "verify", "--json")[0] == 0
    status, body = cli(settings, "store", "check", "--as", "archivist", "--json")
    assert status == 0, body
    assert sum(killed) >= len(killed) // 2, killed  # most kills landed while the command ran
    assert time.monotonic() - start < BUDGET_SECONDS * 4  # generous: the box is shared


def _numbers() -> list[str]:
    with session_scope() as s:
        return [str(n) for n in s.exec(select(InvoiceRecord.number)).all()]
