"""The drawn OFD original on the invoice page, in headless Chromium against the real server.

The invoice page shows an OFD original as the SVG that ``invoice.ofd.render`` draws, and a PDF
original's first page as PNG. Here the 贵州专票 OFD (增值税电子专票5.ofd) is uploaded and its page
opened; the PDF twin of the same invoice (expected.json: same code and number) cannot be
uploaded beside it (it is the same invoice: a duplicate), so its first page, drawn by PDFium,
is put beside the preview for the screenshot in ``test-artifacts/ofd-preview-vs-pdf-twin.png``.
The preview must have loaded and show the seal (a red-dominated area where the StampAnnot is).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from invoice.preview import pdf_png
from tests.api.conftest import ARTIFACTS, PDF_WUXI, Server, login, start_server, stop_server, upload
from tests.samples import INVOICES

pytestmark = pytest.mark.browser

OFD = INVOICES / "renoyuan__easyofd" / "增值税电子专票5.ofd"
PDF_TWIN = INVOICES / "renoyuan__easyofd" / "test.pdf"
SEAL_BOX = (90.0, 8.0, 30.0, 20.0)  # mm: the StampAnnot of Doc_0/Signs/Sign_0/Signature.xml
PAGE_MM = (210.0, 140.0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("fapiao") / "home")
    yield srv
    stop_server(srv)
    log = srv.log.read_text(errors="replace")
    assert "Traceback" not in log and '" 500' not in log, log[-5000:]


def _red_share(img: Image.Image) -> float:
    """Share of clearly red pixels (the seal's ink) in a picture."""
    rgb = img.convert("RGB")
    red = sum(1 for r, g, b in rgb.get_flattened_data() if r > 150 and g < 110 and b < 110)
    return red / max(rgb.width * rgb.height, 1)


def test_ofd_preview_beside_pdf_twin(served: Server, page: Page) -> None:
    clerk_client, clerk = served.as_role("clerk")
    invoice_id = _stored(clerk_client, OFD)
    login(page, served, clerk["username"])
    page.goto(f"{served.base}/invoices/{invoice_id}")
    preview = page.locator("#ofd-preview")
    expect(preview).to_be_visible()
    page.wait_for_function("document.getElementById('ofd-preview').complete")
    assert page.evaluate("document.getElementById('ofd-preview').naturalWidth") > 0

    # the PDF twin's first page beside the preview, same width, wide enough to read
    page.set_viewport_size({"width": 1900, "height": 1000})
    twin = base64.b64encode(pdf_png(PDF_TWIN.read_bytes(), 1000)).decode("ascii")
    page.evaluate("""(src) => {
        const ofd = document.getElementById('ofd-preview');
        const row = document.createElement('div');
        row.id = 'twin-row';
        row.style.cssText = 'display:flex;gap:12px;align-items:flex-start;width:1800px;background:#fff';
        ofd.parentNode.insertBefore(row, ofd);
        const pdf = document.createElement('img');
        pdf.id = 'pdf-twin'; pdf.src = src; pdf.alt = 'PDF 孪生件';
        pdf.style.cssText = 'width:50%;border:1px solid #dde3ea';
        ofd.style.width = '50%';
        row.append(ofd, pdf);
    }""", "data:image/png;base64," + twin)
    page.wait_for_function("document.getElementById('pdf-twin').naturalWidth > 0")
    row = page.locator("#twin-row")
    row.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    row.screenshot(path=str(ARTIFACTS / "ofd-preview-vs-pdf-twin.png"))

    # the seal is visible where the StampAnnot puts it: red ink in that part of the preview
    shot = Image.open(io.BytesIO(preview.screenshot()))
    sx, sy = shot.width / PAGE_MM[0], shot.height / PAGE_MM[1]
    x, y, w, h = SEAL_BOX
    seal_area = shot.crop((int(x * sx), int(y * sy), int((x + w) * sx), int((y + h) * sy)))
    assert _red_share(seal_area) > 0.03
    # and nowhere else near it in the drawing is that red (the seal, not the page's colour)
    below = shot.crop((int(x * sx), int(60 * sy), int((x + w) * sx), int(80 * sy)))
    assert _red_share(below) < 0.01


def test_pdf_original_first_page_shown(served: Server, page: Page) -> None:
    clerk_client, clerk = served.as_role("clerk")
    invoice_id = _stored(clerk_client, PDF_WUXI)
    login(page, served, clerk["username"])
    page.goto(f"{served.base}/invoices/{invoice_id}")
    expect(page.locator("#pdf-preview")).to_be_visible()
    page.wait_for_function("document.getElementById('pdf-preview').complete")
    assert page.evaluate("document.getElementById('pdf-preview').naturalWidth") > 0


def _stored(client: httpx.Client, path: Path) -> str:
    """The invoice id of an uploaded file, whether this upload stored it or an earlier test did."""
    body = upload(client, path).json()
    if body["imported"]:
        return str(body["imported"][0]["invoice_id"])
    return str(body["duplicates"][0]["duplicate_of"]["invoice_id"])


def test_preview_routes_over_http(served: Server) -> None:
    clerk, _ = served.as_role("clerk")
    ofd_id, pdf_id = _stored(clerk, OFD), _stored(clerk, PDF_WUXI)
    auditor, _ = served.as_role("auditor")
    svg = auditor.get(f"/invoices/{ofd_id}/preview.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    csp = svg.headers.get_list("content-security-policy")
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"]
    assert b'class="ofd-seal"' in svg.content
    for inv, fmt in ((ofd_id, "ofd"), (pdf_id, "pdf")):
        thumb = auditor.get(f"/invoices/{inv}/thumbnail.png")
        assert thumb.status_code == 200, (fmt, thumb.text)
        assert Image.open(io.BytesIO(thumb.content)).width == 360
        big = auditor.get(f"/invoices/{inv}/preview.png", params={"width": 800})
        assert Image.open(io.BytesIO(big.content)).width == 800
    assert auditor.get(f"/invoices/{ofd_id}/preview.png", params={"width": 99999}).status_code == 422
    assert auditor.get(f"/invoices/{pdf_id}/preview.svg").status_code == 404
    assert served.client().get(f"/invoices/{ofd_id}/thumbnail.png").status_code == 303
