"""How many scans of the real sample PDFs give number, date and total right, per OCR engine.

Run: ``PYTHONPATH=. .venv/bin/python bench/scan_accuracy.py full|third|small [tesseract|rapidocr] [-v]``

The scans are built by ``tests/scans.py`` (150/175/200 dpi, -3 to +2.5 degrees, seeded noise,
JPEG 75-85); "right" compares with ``../shared/samples/expected.json``; "parties" counts buyer
and seller names and tax IDs read right (4 per scan). Prints seconds per page and peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "small"
    engine = sys.argv[2] if len(sys.argv) > 2 else "tesseract"
    from core.settings import Settings, override_settings
    from invoice import parse
    from tests.samples import EXPECTED
    from tests.scans import make_scan, scan_set

    override_settings(Settings(ocr_engine=engine))  # type: ignore[arg-type]
    exp = {e["file"]: e["expected"] for e in EXPECTED}
    specs = scan_set(which != "small")
    if which == "third":
        specs = specs[::3]
    ok = parties = 0
    spent = 0.0
    for s in specs:
        data = make_scan(s)
        t = time.perf_counter()
        d: dict[str, Any] = {}
        try:
            d = parse(data).to_dict()
        except Exception as exc:
            print(s.name, "ERR", exc)
        spent += time.perf_counter() - t
        e = exp["invoices/" + s.source]
        good = all(d.get(k) == e[k] for k in ("number", "issue_date", "total"))
        parties += sum(d.get(p, {}).get(k) == e[p][k] for p in ("buyer", "seller") for k in ("name", "tax_id")) if d else 0
        ok += good
        if not good or "-v" in sys.argv:
            print(s.name, {k: (d.get(k), e[k]) for k in ("number", "issue_date", "total", "amount", "tax")})
    n = len(specs)
    print(f"engine={engine} n={n} ok={ok} ({ok / n:.1%}) parties={parties}/{4 * n} sec/page={spent / n:.2f} "
          f"peak_rss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}MB")


if __name__ == "__main__":
    main()
