"""Standing fuzz run over every invoice parser and ``verify()`` (issue 11).

Hypothesis mutates real sample bytes (bit flips, truncations, inserted and duplicated runs;
for OFD, members swapped, dropped or mutated inside an intact zip; for XML, text replaced,
elements dropped, DOCTYPEs and odd encodings added). The property: every file gets an
``Invoice`` / a ``VerificationReport`` or an ``InvoiceError`` subclass; never another
exception, never a hang (Hypothesis' per-example deadline). The run is reproducible
(``derandomize=True``: the seed is derived from the test) and time-boxed: about
``FAPIAO_FUZZ_SECONDS`` (default 20) per target, after which the run ends (unless an example
failed: then Hypothesis shrinks and reports it as usual).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.settings import Settings, override_settings
from invoice import parse
from invoice.detect import detect_format
from invoice.errors import InvoiceError
from invoice.model import Invoice
from invoice.verify import VerificationReport, verify
from tests.samples import INVOICES, SAMPLES

BUDGET_S = float(os.environ.get("FAPIAO_FUZZ_SECONDS", "20"))
FIXTURES = Path(__file__).parent / "fixtures"

FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=1_000_000,  # the time box ends the run (``_Done``), not the count
    deadline=timedelta(seconds=30),
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


def _seeds(pattern: str, limit: int) -> list[bytes]:
    files = sorted(SAMPLES.rglob(pattern), key=lambda p: (p.stat().st_size, str(p)))
    return [p.read_bytes() for p in files[:limit]]


OFD_SEEDS = _seeds("*.ofd", 8)
PDF_SEEDS = _seeds("*.pdf", 6)
XML_SEEDS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.xml"))]


@pytest.fixture(autouse=True)
def _short_parse_timeout(settings: Settings) -> Iterator[None]:
    # A mutated PDF may hit the parse deadline: keep that well inside Hypothesis' deadline.
    override_settings(settings.model_copy(update={"parse_timeout_seconds": 8.0}))
    yield
    override_settings(settings)


class _Done(BaseException):
    """Ends a Hypothesis run when the time box closes (Hypothesis lets it through at once)."""


class _TimeBox:
    """The target's budget, started by the first example. Once it is spent the next example
    ends the run, unless an example failed: then every example runs, so that Hypothesis can
    shrink and report the failure."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end: float | None = None
        self.runs = 0
        self.slowest = 0.0
        self.failed = False

    def check(self) -> None:
        now = time.monotonic()
        if self.end is None:
            self.end = now + self.seconds
        if now >= self.end and not self.failed:
            raise _Done
        self.runs += 1

    def run(self, body: Callable[[], None]) -> None:
        self.check()
        t0 = time.monotonic()
        try:
            body()
        except BaseException:
            self.failed = True
            raise
        self.slowest = max(self.slowest, time.monotonic() - t0)

    def until_done(self, test: Callable[[], None]) -> None:
        with contextlib.suppress(_Done):
            test()


# --- mutations ----------------------------------------------------------------------------------
# Hypothesis draws two integers: which seed file, and a number from which the mutation plan
# (a few steps of operation, position, parameter, payload) is derived. Drawing stays cheap, so
# examples past the time box cost next to nothing, and a failure prints the two numbers that
# rebuild the file exactly.

Step = tuple[int, int, int, bytes]  # (operation, position, parameter, payload)


def _plan(number: int) -> list[Step]:
    rnd = random.Random(number)
    return [(rnd.randrange(64), rnd.randrange(2**31), rnd.randrange(2**16),
             rnd.randbytes(rnd.randrange(49))) for _ in range(rnd.randint(1, 4))]


def _bytes_mutated(data: bytes, plan: list[Step]) -> bytes:
    """Bit flips, truncations (with or without a fresh end marker), inserted, duplicated and
    zeroed runs."""
    out = bytearray(data)
    for op, pos, param, payload in plan:
        if not out:
            break
        pos %= len(out)
        kind = op % 6
        if kind == 0:
            out[pos] ^= 1 << (param % 8)
        elif kind == 1:
            del out[pos:]
        elif kind == 2:
            out[pos:pos] = payload or b"\x00"
        elif kind == 3:
            out[pos:pos] = out[pos:pos + 1 + param % 4096]
        elif kind == 4:
            n = len(out[pos:pos + 1 + param % 256])
            out[pos:pos + n] = bytes(n)
        else:  # truncate in the middle but keep an end marker, so readers go further
            del out[pos:]
            out += b"\n%%EOF\n"
    return bytes(out)


_NASTY_TEXT = [b"", b"&", b"&amp;", b"<", b"]]>", b"\x00", "９９９.００".encode(), b"1e999",
               b"NaN", b"-0", "发票".encode() * 50, b"\xef\xbb\xbf", b"&#x0;", b"&#xD800;",
               b"<![CDATA[x]]>", b"<!-- -->", b"\xff\xfe", b"99999999999999999999.999"]
_DOCTYPES = [b'<!DOCTYPE a [<!ENTITY x "9999">]>', b"<!DOCTYPE EInvoice>",
             b'<!DOCTYPE a SYSTEM "file:///etc/passwd">']
_CODECS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "gb18030"]


def _xml_mutated(data: bytes, plan: list[Step]) -> bytes:
    """Text replaced by nasty values, elements dropped or doubled, a DOCTYPE added, the
    document re-encoded, the signature's ``&amp;`` made bare; or byte mutations."""
    out = data
    for step in plan:
        op, pos, param, payload = step
        kind = op % 7
        texts = [m.span(1) for m in re.finditer(rb">([^<>]*)<", out)]
        tags = [m.span() for m in re.finditer(rb"<[A-Za-z][^<>]*>", out)]
        if kind == 0 and texts:
            a, b = texts[pos % len(texts)]
            new = _NASTY_TEXT[param % len(_NASTY_TEXT)] if param % 3 else payload
            out = out[:a] + new + out[b:]
        elif kind == 1 and tags:
            a, b = tags[pos % len(tags)]
            out = out[:a] + out[b:]
        elif kind == 2 and tags:
            a, b = tags[pos % len(tags)]
            out = out[:b] + out[a:b] + out[b:]
        elif kind == 3:
            cut = out.find(b"?>")
            decl = _DOCTYPES[param % len(_DOCTYPES)]
            out = out[:cut + 2] + decl + out[cut + 2:] if cut >= 0 else decl + out
        elif kind == 4:
            with contextlib.suppress(UnicodeError):
                out = out.decode("utf-8").encode(_CODECS[param % len(_CODECS)])
        elif kind == 5:
            out = out.replace(b"&amp;", b"&", 1)
        else:
            out = _bytes_mutated(out, [step])
    return out


_BAD_NAMES = ["../evil.xml", "/abs.xml", "Doc_0/../../x", "Doc_0//Document.xml", "OFD.XML",
              "Doc_0/Signs/Sign_0/Signature.xml", "Doc_0/Attachs/original_invoice.xml"]


def _ofd_mutated(data: bytes, plan: list[Step]) -> bytes:
    """Inside an intact zip: members swapped, dropped, doubled, renamed, or their XML or bytes
    mutated."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = [(i.filename, z.read(i)) for i in z.infolist()]
    for step in plan:
        if not members:
            break
        op, pos, param, _payload = step
        kind = op % 6
        i = pos % len(members)
        name, body = members[i]
        if kind == 0:
            j = param % len(members)
            members[i], members[j] = (name, members[j][1]), (members[j][0], body)
        elif kind == 1 and len(members) > 1:
            del members[i]
        elif kind == 2 and body.lstrip()[:1] in (b"<", b"\xef"):
            members[i] = (name, _xml_mutated(body, [step]))
        elif kind == 3:
            members[i] = (_BAD_NAMES[param % len(_BAD_NAMES)], body)
        elif kind == 4:
            members.append((name, body))
        else:
            members[i] = (name, _bytes_mutated(body, [step]))
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for name, body in members:
            try:
                z.writestr(name, body)
            except (ValueError, UnicodeError):
                continue
    return out.getvalue()


# --- the property -----------------------------------------------------------------------------


def _holds(data: bytes) -> None:
    """An Invoice or an InvoiceError from parse; a report or an InvoiceError from verify."""
    try:
        inv = parse(data)
        assert isinstance(inv, Invoice)
    except InvoiceError as exc:
        assert exc.to_dict()["message"]
        inv = None
    try:
        report = verify(data, invoice=inv, org_name="某某有限公司", org_tax_id="91110000000000000X")
        assert isinstance(report, VerificationReport)
        report.to_dict()
    except InvoiceError:
        pass


def _target(mutate: Callable[[bytes, list[Step]], bytes], seeds: list[bytes]) -> Callable[[], None]:
    box = _TimeBox(BUDGET_S)

    @FUZZ
    @given(st.integers(0, len(seeds) - 1), st.integers(0, 2**63))
    def run(seed: int, number: int) -> None:
        box.run(lambda: _holds(mutate(seeds[seed], _plan(number))))

    def test() -> None:
        assert seeds
        t0 = time.monotonic()
        box.until_done(run)
        print(f"fuzz: {box.runs} files in {time.monotonic() - t0:.1f} s, slowest "
              f"{box.slowest:.2f} s")
        assert box.runs > 0

    return test


test_fuzz_ofd = _target(_ofd_mutated, OFD_SEEDS)
test_fuzz_ofd_bytes = _target(_bytes_mutated, OFD_SEEDS[:3])
test_fuzz_pdf = _target(_bytes_mutated, PDF_SEEDS)
test_fuzz_xml = _target(_xml_mutated, XML_SEEDS)


_DETECT_SEEDS = XML_SEEDS + [s[:4096] for s in OFD_SEEDS[:2] + PDF_SEEDS[:2]]


def _detect_holds(seed: int, number: int, raw: bytes) -> None:
    plan = _plan(number)
    for data in (_bytes_mutated(_DETECT_SEEDS[seed], plan), _xml_mutated(XML_SEEDS[0], plan), raw):
        fmt = detect_format(data)
        assert fmt is None or fmt.value in ("ofd", "pdf", "xml", "image")


def test_fuzz_detect_format() -> None:
    box = _TimeBox(min(BUDGET_S, 5.0))

    @FUZZ
    @given(st.integers(0, len(_DETECT_SEEDS) - 1), st.integers(0, 2**63), st.binary(max_size=64))
    def run(seed: int, number: int, raw: bytes) -> None:
        box.run(lambda: _detect_holds(seed, number, raw))

    box.until_done(run)
    assert box.runs > 0


def test_seeds_are_real_samples() -> None:
    assert len(OFD_SEEDS) >= 3 and len(PDF_SEEDS) >= 3 and XML_SEEDS
    assert isinstance(parse((FIXTURES / "digital_ordinary.xml").read_bytes()), Invoice)
    assert isinstance(parse(PDF_SEEDS[0]), Invoice)
    assert INVOICES.exists()


def test_the_property_catches_a_stray_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzz property itself: an InvoiceError passes, any other exception fails."""
    import tests.invoice.test_fuzz as me

    _holds(b"not an invoice at all")  # unknown_format: an InvoiceError, fine

    def broken(data: bytes) -> Invoice:
        raise IndexError("parser bug")

    monkeypatch.setattr(me, "parse", broken)
    with pytest.raises(IndexError):
        _holds(XML_SEEDS[0])
