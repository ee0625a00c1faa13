"""What the XML reader returns, pinned field by field, so that making it faster cannot change it.

Two oracles that do not come from the reader: the sample OFDs' data attachments read alone
must give every value ``expected.json`` lists for that OFD, and generated 数电票 XMLs
(``xmlgen``: 红字, 免税, 100-line lists, UTF-16, namespaces, a missing IssueTime, ...) must
give exactly the ``to_dict`` computed from the parameters they were written from.
"""

from __future__ import annotations

import zipfile
from typing import Any

import pytest

from invoice import parse
from tests.invoice import xmlgen
from tests.samples import EXPECTED, SAMPLES

CORPUS = xmlgen.corpus()


def _attachment(rel: str) -> bytes | None:
    with zipfile.ZipFile(SAMPLES / rel) as z:
        names = [n for n in z.namelist() if n.endswith("original_invoice.xml")]
        return z.read(names[0]) if names else None


ATTACHED = [(e["file"], data, e["expected"]) for e in EXPECTED
            if e["form"] == "ofd" and (data := _attachment(e["file"])) is not None]


def _listed(got: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """``got`` cut to the keys ``expected`` lists (items too), to compare with it."""
    out = {k: got.get(k) for k in expected}
    if "items" in expected and isinstance(got.get("items"), list):
        keys = {k for item in expected["items"] for k in item}
        out["items"] = [{k: v for k, v in item.items() if k in keys} for item in got["items"]]
    return out


def test_the_sample_attachments_give_the_expected_values() -> None:
    assert len(ATTACHED) >= 7  # the seven sample OFDs that carry original_invoice.xml
    for name, data, expected in ATTACHED:
        assert _listed(parse(data).to_dict(), expected) == expected, name


def test_a_changed_attachment_value_is_seen() -> None:
    name, data, expected = next(a for a in ATTACHED if len(a[2]["items"]) == 100)
    first = expected["items"][0]["amount"].encode()
    changed = data.replace(b">" + first + b"<", b">1.00<", 1)
    assert changed != data
    got = _listed(parse(changed).to_dict(), expected)
    assert got["items"][0]["amount"] == "1.00" and got != expected, name


def test_the_hard_cases_are_in_the_corpus() -> None:
    dicts = [d for _, d in CORPUS]
    assert any(d["total"].startswith("-") for d in dicts)  # 红字
    assert any(i["tax_rate"] == "免税" for d in dicts for i in d["items"])
    assert sum(len(d["items"]) == 100 for d in dicts) >= 3
    assert any(data.startswith(b"\xff\xfe") for data, _ in CORPUS)  # UTF-16 with a BOM
    assert any(data[:2] == b"<\x00" for data, _ in CORPUS)  # UTF-16 without one
    assert any("eiid" in d["extra"] for d in dicts) and any(
        "sum_mismatch" in d["extra"] for d in dicts)


@pytest.mark.parametrize("case", range(len(CORPUS)))
def test_generated_invoices_read_as_written(case: int) -> None:
    data, expected = CORPUS[case]
    assert parse(data).to_dict() == expected


def test_a_value_moved_to_another_line_is_seen() -> None:
    data, expected = next((d, e) for d, e in CORPUS if b"<Amount>" in d and len(e["items"]) == 100
                          and len({i["amount"] for i in e["items"]}) > 2)
    first, second = (f"<Amount>{i['amount']}</Amount>".encode() for i in expected["items"][:2])
    swapped = data.replace(first, b"@", 1).replace(second, first, 1).replace(b"@", second, 1)
    got = parse(swapped).to_dict()
    assert [i["amount"] for i in got["items"][:2]] == [i["amount"] for i in expected["items"][1::-1]]
    assert got != expected
