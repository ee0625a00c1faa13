"""Scans built from the real sample PDFs, the way a scanner or phone would deliver them.

Each sample PDF's first page is rendered at a scanner's resolution (150-200 dpi), turned by a
small angle (a sheet never lies straight), given a little sensor noise and saved as JPEG at
the quality phones and scanners use (75-85), or as PNG. Tests and ``bench/parse.py`` use the
same builder, so what is measured is what is tested. Deterministic: the same arguments give
the same bytes.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.samples import INVOICES

# The invoice PDFs among the samples whose page shows the invoice. Not blob-cc0d1a40-test.pdf:
# its render draws the number, date and amounts outside the page box, so no scan of it shows
# them (the PDF reader finds them in the text layer; a picture has none).
SCAN_SOURCES: tuple[str, ...] = (
    "MARSCHEN-CN__FapiaoGO/test.pdf",
    "ljfdufe__fapiao-print/7.22底座.pdf",
    "renoyuan__easyofd/test.pdf",
    "renoyuan__easyofd/blob-8295d3f8-test.pdf",
)


@dataclass(frozen=True)
class ScanSpec:
    source: str  # path under samples/invoices
    dpi: int = 175
    angle: float = 1.5  # degrees, counter-clockwise
    quality: int = 80  # JPEG quality; 0 means PNG
    noise: float = 6.0  # standard deviation of the grey noise, 0-255 scale

    @property
    def name(self) -> str:
        ext = "png" if self.quality == 0 else "jpg"
        stem = Path(self.source).stem
        return f"{stem}-{self.dpi}dpi-{self.angle:+.1f}deg-q{self.quality}.{ext}"


def render_page(pdf_bytes: bytes, dpi: int) -> object:
    """The first page as an RGB PIL image at ``dpi``."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        page = pdf[0]
        try:
            bitmap = page.render(scale=dpi / 72.0)
            try:
                return bitmap.to_pil().convert("RGB")
            finally:
                bitmap.close()
        finally:
            page.close()
    finally:
        pdf.close()


def _noise(size: tuple[int, int], sigma: float, seed: str) -> Any:
    """Seeded grey noise centred on 128 (a 256-pixel tile repeated), added to the page with
    an offset of -128: each pixel moves by ``sigma`` on average. The same scan every run."""
    from PIL import Image

    rnd = random.Random(seed)
    tile = Image.frombytes("L", (256, 256), bytes(
        max(0, min(255, round(rnd.gauss(128, sigma)))) for _ in range(256 * 256)))
    full = Image.new("L", size)
    for x in range(0, size[0], 256):
        for y in range(0, size[1], 256):
            full.paste(tile, (x, y))
    return Image.merge("RGB", (full, full, full))


def make_scan(spec: ScanSpec) -> bytes:
    """The scan of ``spec.source`` as JPEG (or PNG) bytes."""
    from PIL import Image

    img = render_page((INVOICES / spec.source).read_bytes(), spec.dpi)
    assert isinstance(img, Image.Image)
    img = img.rotate(spec.angle, resample=Image.Resampling.BICUBIC, expand=True,
                     fillcolor=(255, 255, 255))
    if spec.noise:
        from PIL import ImageChops

        img = ImageChops.add(img, _noise(img.size, spec.noise, spec.name), 1.0, -128)
    out = io.BytesIO()
    if spec.quality:
        img.save(out, "JPEG", quality=spec.quality)
    else:
        img.save(out, "PNG", optimize=False)
    return out.getvalue()


def scan_set(full: bool = True) -> list[ScanSpec]:
    """The measured set: every source at 150, 175 and 200 dpi, turned by -3 to +3 degrees.

    ``full=False`` is the small set the tests run (one scan per source, angles varied).
    """
    if not full:
        angles = (-2.0, 1.0, 2.5, -3.0)
        dpis = (150, 200, 175, 200)
        return [ScanSpec(s, dpi=d, angle=a, quality=80)
                for s, d, a in zip(SCAN_SOURCES, dpis, angles, strict=True)]
    specs = []
    for i, s in enumerate(SCAN_SOURCES):
        for j, dpi in enumerate((150, 175, 200)):
            for k, angle in enumerate((-3.0, -1.0, 1.5, 2.5)):
                q = (75, 80, 85)[(i + j + k) % 3]
                specs.append(ScanSpec(s, dpi=dpi, angle=angle, quality=q))
    return specs
