"""Anchors outside the database catch what a consistent, recomputed chain hides.

The attacker has owner rights on the database: drops the append-only triggers, then rewrites
rows and recomputes every hash after them, deletes rows from the middle, or cuts off the tail.
Each is named by ``verify_chain`` against the signed anchors in ``FAPIAO_HOME``; the untouched
chain passes. Both backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core import audit, clock, orgkey, sm2
from core.db import session_scope
from core.settings import Settings
from tests.tamper import DROP_GUARD


@pytest.fixture
def keyed(engine: Engine, settings: Settings) -> Iterator[Engine]:
    orgkey.ensure_key()
    yield engine
    clock.set_clock(None)


def _append(n: int, actor: str = "alice") -> None:
    with session_scope() as s:
        audit.append(s, actor, "test.action", "thing", f"id-{n}", {"n": n, "金额": "1.00"})


def _anchor(engine: Engine) -> audit.Anchor:
    a = audit.anchor_head(engine, "test")
    assert a is not None
    return a


def _verify() -> audit.ChainReport:
    with session_scope() as s:
        return audit.verify_chain(s)


def _drop_guard(engine: Engine) -> None:
    with engine.begin() as conn:
        for statement in DROP_GUARD[engine.dialect.name]:
            conn.execute(text(statement))


def _recompute(engine: Engine) -> None:
    """What a careful forger does after editing rows: make the chain consistent again."""
    with session_scope() as s:
        rows = s.exec(audit.select(audit.AuditEntry).order_by(audit.col(audit.AuditEntry.seq))).all()
        prev = audit.GENESIS
        fixed = []
        for e in rows:
            h = audit._digest(e.seq, e.at, e.actor, e.action, e.object_type, e.object_id, e.details, prev)
            fixed.append((e.seq, prev, h))
            prev = h
    with engine.begin() as conn:
        # two steps: hash is unique, so park every row on a placeholder first
        for seq, _p, _h in fixed:
            conn.execute(text("UPDATE audit_log SET hash = :h WHERE seq = :seq"), {"h": f"tmp-{seq}", "seq": seq})
        for seq, p, h in fixed:
            conn.execute(text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :seq"),
                         {"p": p, "h": h, "seq": seq})


def test_untouched_chain_passes_against_its_anchors(keyed: Engine) -> None:
    for i in range(6):
        _append(i)
    first = _anchor(keyed)
    _append(6)
    report = _verify()
    assert report.ok, report.to_dict()
    assert report.anchor is not None and report.anchor["seq"] == first.seq == 6
    assert report.anchors_checked >= 1 and report.missing_after_seq is None
    assert "审计日志完整" in report.message


def test_rewritten_rows_with_recomputed_chain_are_named(keyed: Engine) -> None:
    for i in range(3):
        _append(i)
    early = _anchor(keyed)  # seq 3
    for i in range(3, 7):
        _append(i)
    late = _anchor(keyed)  # seq 7
    _drop_guard(keyed)
    with keyed.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5"))
    _recompute(keyed)
    assert audit.verify_chain.__name__  # the chain itself is consistent again:
    with session_scope() as s:
        no_anchor = audit.verify_chain(s, anchors=b"")
    assert no_anchor.ok
    report = _verify()
    assert not report.ok
    assert report.first_broken is not None and report.first_broken["code"] == "rewritten"
    assert report.first_broken["seq"] == late.seq == 7
    assert report.anchor_mismatch is not None and report.anchor_mismatch["after_seq"] == early.seq == 3
    assert report.anchor_mismatch["anchor"]["hash"] == late.hash
    assert "改写" in report.message


def test_deleted_middle_rows_are_named(keyed: Engine) -> None:
    for i in range(6):
        _append(i)
    _anchor(keyed)
    _drop_guard(keyed)
    with keyed.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq IN (2, 3)"))
    _recompute(keyed)
    report = _verify()
    assert not report.ok and report.first_broken is not None
    assert report.first_broken["seq"] == 4 and report.first_broken["code"] == "row_missing"
    assert "缺少第 2 条" in report.first_broken["message"]


def test_truncated_tail_after_an_anchor_is_named(keyed: Engine) -> None:
    for i in range(6):
        _append(i)
    a = _anchor(keyed)
    _drop_guard(keyed)
    with keyed.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > 4"))
    with session_scope() as s:
        assert audit.verify_chain(s, anchors=b"").ok  # what the chain alone would say
    report = _verify()
    assert not report.ok
    assert report.missing_after_seq == 4
    assert report.anchor is not None and report.anchor["seq"] == a.seq == 6 and report.anchor["hash"] == a.hash
    assert report.first_broken is None
    assert "末尾的记录被删除" in report.message


def test_forged_anchor_is_named(keyed: Engine) -> None:
    for i in range(3):
        _append(i)
    real = _anchor(keyed)
    d, pub = sm2.generate_keypair()
    fake = audit.Anchor(3, "f" * 64, real.at, orgkey.fingerprint_sm3(pub), "test")
    fake = audit.Anchor(fake.seq, fake.hash, fake.at, fake.key, fake.reason,
                        sm2.sign(d, fake.statement(), pub=pub))  # type: ignore[arg-type]
    # and one that claims the real key but carries a signature by the other
    claim = audit.Anchor(3, "e" * 64, real.at, real.key, "test")
    claim = audit.Anchor(claim.seq, claim.hash, claim.at, claim.key, claim.reason,
                         sm2.sign(d, claim.statement(), pub=pub))  # type: ignore[arg-type]
    with open(audit.anchors_path(), "ab") as f:
        f.write(fake.to_line() + claim.to_line() + b"not json\n")
    report = _verify()
    assert not report.ok
    reasons = [p["reason"] for p in report.anchor_problems]
    assert any("not a trusted organisation key" in r for r in reasons)
    assert any("does not verify" in r for r in reasons)
    assert any("unreadable" in r for r in reasons)
    assert report.first_broken is None and report.missing_after_seq is None


def test_anchor_written_daily_at_the_next_write(keyed: Engine) -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock.set_clock(lambda: t0)
    _append(1)  # no anchor yet: the first committed write anchors
    lines = audit.anchors_path().read_bytes().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1]
    clock.set_clock(lambda: t0 + timedelta(hours=23))
    _append(2)
    assert len(audit.anchors_path().read_bytes().splitlines()) == 1  # less than a day: none
    clock.set_clock(lambda: t0 + timedelta(hours=25))
    _append(3)
    lines = audit.anchors_path().read_bytes().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 3]
    assert json.loads(lines[-1])["reason"] == "daily"
    # a write that rolls back never anchors an entry that does not exist
    clock.set_clock(lambda: t0 + timedelta(hours=50))
    with pytest.raises(RuntimeError), session_scope() as s:
        audit.append(s, "alice", "test.action", "thing", "rolled-back", {})
        raise RuntimeError("abort")
    assert len(audit.anchors_path().read_bytes().splitlines()) == 2
    assert _verify().ok


def test_verify_anchors_the_head_when_due(keyed: Engine) -> None:
    for i in range(2):
        _append(i)
    audit.anchors_path().unlink()  # no anchor at all now
    with session_scope() as s:
        report = audit.verify_and_anchor(s)
    assert report.ok and report.anchor is not None and report.anchor["seq"] == 2
    assert json.loads(audit.anchors_path().read_bytes().splitlines()[-1])["reason"] == "verify"


def test_anchors_survive_key_rotation(keyed: Engine) -> None:
    for i in range(3):
        _append(i)
    _anchor(keyed)
    orgkey.rotate_key()
    _append(9)
    _anchor(keyed)
    report = _verify()
    assert report.ok, report.to_dict()
    assert report.anchors_checked >= 2


def test_anchors_from_an_export_copy_catch_a_cut_tail_after_the_local_file_is_gone(keyed: Engine) -> None:
    for i in range(5):
        _append(i)
    _anchor(keyed)
    exported = audit.anchors_path().read_bytes()  # what every year's export carries
    audit.anchors_path().unlink()  # the attacker removes the local anchors as well
    _drop_guard(keyed)
    with keyed.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > 3"))
    assert _verify().ok  # nothing local left to compare with: the export copy is the witness
    with session_scope() as s:
        report = audit.verify_chain(s, anchors=exported, anchors_source="export/audit-anchors.jsonl")
    assert not report.ok and report.missing_after_seq == 3 and report.anchor is not None
    assert report.anchor["seq"] == 5


def test_every_successful_verify_anchors_a_moved_head_and_never_a_broken_chain(keyed: Engine) -> None:
    for i in range(3):
        _append(i)  # the first write anchored seq 1
    with session_scope() as s:
        assert audit.verify_and_anchor(s).ok
    assert audit.last_anchor() is not None and audit.last_anchor().seq == 3  # type: ignore[union-attr]
    lines = len(audit.anchors_path().read_bytes().splitlines())
    with session_scope() as s:
        audit.verify_and_anchor(s)
    assert len(audit.anchors_path().read_bytes().splitlines()) == lines  # head unchanged: no new line
    _append(3)
    _drop_guard(keyed)
    with keyed.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4"))
    with session_scope() as s:
        assert not audit.verify_and_anchor(s).ok
    assert audit.last_anchor().seq == 3  # type: ignore[union-attr]
