"""Every transport voucher under samples/other/ parses to its expected fields.

The expected values (``tests/samples_other.json``) were written from the documents
themselves: the railway tickets' ``rai:`` XBRL attachment and their printed page, the air
itinerary preview's printed page. Other developers append their kinds (bank receipts) to
the same file with the same shape: ``{"file", "kind", "expected"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from invoice import parse
from tests.samples import SAMPLES

ROWS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "samples_other.json").read_text(encoding="utf-8"))
TRANSPORT = [r for r in ROWS if r["kind"] in ("railway_ticket", "air_itinerary", "toll_bill")]


def _compare(got: dict[str, Any], want: dict[str, Any], path: str = "") -> list[str]:
    out: list[str] = []
    for key, value in want.items():
        here = f"{path}{key}"
        if isinstance(value, dict):
            out += _compare(got.get(key) or {}, value, here + ".")
        elif got.get(key) != value:
            out.append(f"{here}: got {got.get(key)!r}, want {value!r}")
    return out


@pytest.mark.parametrize("row", TRANSPORT, ids=[r["file"] for r in TRANSPORT])
def test_transport_sample_parses_to_expected(row: dict[str, Any]) -> None:
    inv = parse((SAMPLES / row["file"]).read_bytes())
    got = inv.to_dict()
    assert got["kind"] == row["kind"]
    assert _compare(got, row["expected"]) == []


def test_every_transport_sample_is_listed() -> None:
    # the railway and air files of samples/other/ all have expected fields
    listed = {r["file"] for r in TRANSPORT}
    for path in sorted((SAMPLES / "other").rglob("*")):
        if path.is_file() and path.suffix in (".ofd", ".pdf"):
            kind = parse(path.read_bytes()).kind.value if _transport(path) else None
            if kind is not None:
                assert str(path.relative_to(SAMPLES)) in listed


def _transport(path: Path) -> bool:
    try:
        return parse(path.read_bytes()).kind.value in ("railway_ticket", "air_itinerary",
                                                       "toll_bill")
    except Exception:  # bank receipts and statements are another kind (refused today)
        return False


def test_railway_ofd_without_its_attachment_reads_the_face() -> None:
    # The same ticket with its rai: attachment removed: every field comes from the page text
    # and agrees with the attachment's reading.
    import io
    import zipfile

    raw = (SAMPLES / "other/itlabers__ofd-go/售票换开样例.ofd").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if "/Attachs/rai_" not in item.filename:
                dst.writestr(item, src.read(item.filename))
    face, full = parse(out.getvalue()).to_dict(), parse(raw).to_dict()
    assert face["field_sources"]["number"] == "page_text"
    for key in ("kind", "number", "issue_date", "buyer", "amount", "tax", "total", "travel_date",
                "train", "from_station", "to_station", "seat_class", "passenger", "id_number",
                "ticket_number", "variant", "refund_fee"):
        assert face[key] == full[key], key
