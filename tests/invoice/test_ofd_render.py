"""The OFD renderer (invoice/ofd/render.py): what a person sees of the original.

Structural checks on real samples (the seal drawn at its StampAnnot, the table lines, the
text, the QR decodable from the PNG), a comparison with the PDF twin of the same invoice
(samples/expected.json: an OFD and a PDF with the same code and number), and hostile files
built from the samples (injected markup, huge paths, deep nesting, bad pictures, seals in
seals) that must come out bounded and sanitised.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
import zxingcpp
from lxml import etree
from PIL import Image, ImageChops, ImageFilter

from invoice.errors import ParseError
from invoice.ofd import graphics, media, render, seal
from invoice.ofd.package import OfdPackage
from invoice.preview import ofd_png, pdf_png, svg_to_png
from invoice.xmlsafe import parse_xml
from tests.attacks import rewrite_ofd
from tests.samples import EXPECTED, INVOICES, OTHER, SAMPLES, V4SIGNED

SVG = "{http://www.w3.org/2000/svg}"
ZHUANPIAO = INVOICES / "renoyuan__easyofd" / "增值税电子专票5.ofd"  # JBIG2 QR, OFD seal
BANK_BMP_SEAL = OTHER / "itlabers__ofd-go" / "gonghang_1.ofd"  # BMP seal picture
ALL_OFDS = sorted(p for p in SAMPLES.rglob("*.ofd"))


def svg_root(data: bytes) -> etree._Element:
    return parse_xml(render.render_svg(data, "t").encode("utf-8"), "render.svg")


def texts(root: etree._Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def stamp_annots(data: bytes) -> list[tuple[float, float, float, float]]:
    """The StampAnnot boundaries the file's Signature.xml members declare, read plainly."""
    z = zipfile.ZipFile(io.BytesIO(data))
    found = []
    for name in z.namelist():
        if name.lower().endswith("signature.xml"):
            for m in re.finditer(rb'<(?:ofd:)?StampAnnot[^>]*Boundary="([^"]+)"', z.read(name)):
                found.append(tuple(float(v) for v in m.group(1).split()))
    return found


def twins() -> list[tuple[Path, Path]]:
    """(OFD, PDF) pairs of expected.json that are the same invoice (code and number)."""
    by_key: dict[tuple[str | None, str], dict[str, Path]] = defaultdict(dict)
    for e in EXPECTED:
        exp = e["expected"]
        by_key[(exp.get("code"), exp["number"])][e["form"]] = SAMPLES / e["file"]
    return [(v["ofd"], v["pdf"]) for v in by_key.values() if "ofd" in v and "pdf" in v]


# --- the pieces -------------------------------------------------------------------------------

def test_path_data_operators() -> None:
    assert graphics.path_data("M 0 0.2 L 73 0.2 ") == "M0 0.2 L73 0.2"
    assert graphics.path_data("S 0 0 B 1 2 3 4 5 6 Q 1 1 2 2 A 1 1 0 1 0 5 5 C") == \
        "M0 0 C1 2 3 4 5 6 Q1 1 2 2 A1 1 0 1 0 5 5 Z"


def test_path_data_refuses_junk_and_giants() -> None:
    assert graphics.path_data("M 0") is None  # a command without its operands draws nothing
    assert graphics.path_data("C C C") is None
    assert graphics.path_data("M 0 0 " + "L 1 1 " * 50_000) is None  # over MAX_PATH_CHARS
    assert graphics.path_data("M 0 0 L 1 1 L 2") == "M0 0 L1 1"  # stops at the broken command


def test_colours_and_deltas() -> None:
    assert graphics.colour("156 82 35") == "#9c5223"
    assert graphics.colour("#FF #00 #80") == "#ff0080"
    assert graphics.colour("128") == "#808080"
    assert graphics.colour("0 0 0 255", components=4) == "#000000"
    assert graphics.colour("red green blue") is None
    assert graphics.deltas("g 3 1.5 2") == [1.5, 1.5, 1.5, 2.0]
    assert len(graphics.deltas("g 999999999 1")) == graphics.MAX_DELTAS


def test_seal_picture_from_signed_value() -> None:
    pkg = OfdPackage(V4SIGNED.read_bytes())
    found = seal.stamps(pkg)
    assert len(found) == 1 and found[0].picture_type == "ofd" and found[0].picture[:2] == b"PK"
    assert seal.seal_picture(b"\x30\x03\x02\x01\x01") is None  # DER, but no seal inside


def test_jbig2_decoded_through_pdfium() -> None:
    raw = zipfile.ZipFile(ZHUANPIAO).read("Doc_0/Res/image_80.jb2")
    png = media.jbig2_to_png(raw)
    assert png is not None
    img = Image.open(io.BytesIO(png))
    assert img.size == (100, 100)
    assert "00008006" in zxingcpp.read_barcodes(img.resize((400, 400)))[0].text


def test_jbig2_broken_is_not_drawn() -> None:
    raw = zipfile.ZipFile(ZHUANPIAO).read("Doc_0/Res/image_80.jb2")
    assert media.jbig2_to_png(raw[:20]) is None
    assert media.safe_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40) is None


def test_picture_bomb_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (5000, 5000)).save(out, "PNG")  # 25 MP, a few KB compressed
    assert media.safe_image(out.getvalue()) is None
    small = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(small, "BMP")
    mime, data = media.safe_image(small.getvalue()) or ("", b"")
    assert mime == "image/png" and data.startswith(b"\x89PNG")  # BMP re-encoded as PNG


# --- real invoices ----------------------------------------------------------------------------

def test_zhuanpiao_seal_lines_text_and_qr() -> None:
    data = ZHUANPIAO.read_bytes()
    root = svg_root(data)
    # the seal: an OFD-in-OFD drawn at the StampAnnot boundary of Signature.xml
    (annot,) = stamp_annots(data)
    seals = [el for el in root.iter() if el.get("class") == "ofd-seal"]
    assert len(seals) == 1
    got = tuple(float(seals[0].get(k) or "nan") for k in ("x", "y", "width", "height"))
    assert got == pytest.approx(annot, abs=0.001)
    seal_texts = "".join("".join(t.itertext()) for t in seals[0].iter(f"{SVG}text"))
    assert "国家税务总局" in seal_texts  # the seal's own drawing, not an empty box
    # table lines: the template's strokes, in the template's colour
    lines = [p for p in root.iter(f"{SVG}path") if p.get("stroke") == "#9c5223"]
    assert len(lines) >= 20
    assert any(p.get("d") == "M0 0.2 L201 0.2" for p in lines)  # the full-width rule
    all_text = texts(root)
    for value in ("00008006", "052002100113", "中国移动通信集团贵州有限公司黔南分公司", "25254.62"):
        assert any(value in t for t in all_text), value
    # the QR (JBIG2 in the file) is a PNG data URI and decodes from the rendered page
    images = list(root.iter(f"{SVG}image"))
    assert images and all((i.get("href") or "").startswith("data:image/png;base64,") for i in images)
    png = svg_to_png(render.render_svg(data), 1200)
    codes = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    assert any(c.startswith("01,20,052002100113,00008006,24519.05,20220505") for c in codes), codes


def test_bmp_seal_of_bank_receipt_drawn_as_png() -> None:
    data = BANK_BMP_SEAL.read_bytes()
    root = svg_root(data)
    seals = [el for el in root.iter(f"{SVG}image") if el.get("class") == "ofd-seal"]
    assert len(seals) == 1
    assert (seals[0].get("href") or "").startswith("data:image/png;base64,")
    assert tuple(float(seals[0].get(k) or "nan") for k in ("x", "y", "width", "height")) \
        == pytest.approx(stamp_annots(data)[0], abs=0.001)


def test_unsigned_invoice_has_no_seal() -> None:
    root = svg_root((INVOICES / "erma0__fapiao-print" / "sample.ofd").read_bytes())
    assert not [el for el in root.iter() if el.get("class") == "ofd-seal"]
    assert "24322000000489101796" in texts(root)


@pytest.mark.parametrize("path", ALL_OFDS, ids=lambda p: p.name[:30])
def test_every_sample_renders_sanitised(path: Path) -> None:
    svg = render.render_svg(path.read_bytes(), "样例")
    root = parse_xml(svg.encode("utf-8"), path.name)
    assert root.tag == f"{SVG}svg"
    for el in root.iter():
        tag = etree.QName(el).localname if isinstance(el.tag, str) else ""
        assert tag not in ("script", "foreignObject", "a", "iframe", "use")
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), name
            if name.endswith("href"):
                assert value.startswith("data:image/"), value[:40]
    assert not re.search(r"url\((?!#c\d+\)|data:font/)", svg)  # only clip references and fonts
    assert list(root.iter(f"{SVG}text")), "every sample prints text"


# --- the PDF twin -----------------------------------------------------------------------------

def _ink(png: bytes, size: tuple[int, int]) -> Image.Image:
    """Dark pixels (text) of a page picture, as a 1-bit mask of ``size``."""
    gray = Image.open(io.BytesIO(png)).convert("L").resize(size)
    return gray.point(lambda v: 255 if v < 150 else 0).convert("1")


def _coverage(reference: Image.Image, candidate: Image.Image, reach: int = 9) -> float:
    """Share of the reference's ink that lies within ``reach`` px of the candidate's ink."""
    near = candidate.convert("L").filter(ImageFilter.MaxFilter(reach)).convert("1")
    both = ImageChops.logical_and(reference, near)
    total = reference.convert("L").histogram()[255]
    return both.convert("L").histogram()[255] / max(total, 1)


def test_twins_found_in_expected() -> None:
    pairs = twins()
    assert (ZHUANPIAO, INVOICES / "renoyuan__easyofd" / "test.pdf") in pairs


@pytest.mark.parametrize(("ofd", "pdf"), twins(), ids=lambda p: p.name[:24])
def test_rendering_matches_pdf_twin(ofd: Path, pdf: Path) -> None:
    """Same width, same page: the PDF's text ink lies where the OFD drawing puts its ink."""
    size = (1000, 667)
    ofd_ink = _ink(ofd_png(ofd.read_bytes(), size[0]), size)
    pdf_ink = _ink(pdf_png(pdf.read_bytes(), size[0]), size)
    assert _coverage(pdf_ink, ofd_ink) >= 0.9
    # the measure tells a misplaced drawing apart: the same page moved 8 mm scores far lower
    shifted = ImageChops.offset(ofd_ink, 38, 38)
    assert _coverage(pdf_ink, shifted) < 0.6


@pytest.mark.parametrize(("ofd", "pdf"), twins(), ids=lambda p: p.name[:24])
def test_text_positions_match_pdf_twin(ofd: Path, pdf: Path) -> None:
    """Each text run of the OFD drawing starts where the PDF prints the same words (±2 mm)."""
    import pypdfium2 as pdfium

    root = svg_root(ofd.read_bytes())
    page_w, page_h = 210.0, 140.0
    runs: list[tuple[str, float, float]] = []
    for t in root.iter(f"{SVG}text"):
        m = re.fullmatch(r"translate\(([-\d.]+) ([-\d.]+)\)", t.get("transform") or "")
        if m is None or any(a.get("transform") for a in t.iterancestors() if a.get("class") != "ofd-page"):
            continue
        for span in t:
            text = (span.text or "").strip()
            if len(text) >= 4 and " " not in text:
                x = float(m.group(1)) + float((span.get("x") or "0").split()[0])
                y = float(m.group(2)) + float((span.get("y") or "0").split()[0])
                runs.append((text, x, y))
    doc = pdfium.PdfDocument(pdf.read_bytes())
    page = doc[0]
    pw, ph = page.get_size()
    tp = page.get_textpage()
    matched = close = 0
    for text, x, y in runs:
        searcher = tp.search(text)
        hit = searcher.get_next()
        if hit is None or searcher.get_next() is not None:
            continue  # absent, or printed twice: no single place to compare
        left, bottom, _right, _top = tp.get_charbox(hit[0])
        px, py = left / pw * page_w, (ph - bottom) / ph * page_h
        matched += 1
        close += abs(px - x) <= 2.0 and abs(py - y) <= 2.0
    doc.close()
    assert matched >= 10
    assert close / matched >= 0.85, (close, matched)


# --- hostile files ----------------------------------------------------------------------------

def _edit_page(data: bytes, edit: callable) -> bytes:  # type: ignore[valid-type]
    return rewrite_ofd(data, lambda name, raw: edit(raw) if re.search(
        r"Pages/Page_0/Content\.xml$", name, re.I) else raw)


def _inject(data: bytes, objects: str) -> bytes:
    def edit(raw: bytes) -> bytes:
        text = raw.decode("utf-8")
        end = text.index("</ofd:Layer>")
        return (text[:end] + objects + text[end:]).encode("utf-8")
    return _edit_page(data, edit)


def test_markup_in_text_is_escaped() -> None:
    evil = ('<ofd:TextObject ID="9001" Boundary="10 10 50 5" Font="63" Size="3"><ofd:TextCode X="0" Y="3">'
            '&lt;script&gt;alert(1)&lt;/script&gt;"&amp;</ofd:TextCode></ofd:TextObject>')
    svg = render.render_svg(_inject(ZHUANPIAO.read_bytes(), evil))
    root = parse_xml(svg.encode("utf-8"), "evil.svg")
    assert not list(root.iter(f"{SVG}script"))
    assert '<script>alert(1)</script>"&' in texts(root)


def test_huge_path_and_deep_nesting_are_bounded() -> None:
    big = "M 0 0 " + "L 1 1 " * 60_000
    nested = "<ofd:PageBlock>" * 200 + '<ofd:PathObject ID="9" Boundary="0 0 5 5"><ofd:AbbreviatedData>M 0 0 L 5 5' \
        "</ofd:AbbreviatedData></ofd:PathObject>" + "</ofd:PageBlock>" * 200
    objs = (f'<ofd:PathObject ID="9002" Boundary="0 0 10 10"><ofd:AbbreviatedData>{big}'
            f"</ofd:AbbreviatedData></ofd:PathObject>{nested}")
    svg = render.render_svg(_inject(ZHUANPIAO.read_bytes(), objs))
    assert "L1 1 L1 1 L1 1" not in svg  # the giant path is left out
    assert "M0 0 L5 5" not in svg  # nested past MAX_DEPTH: not drawn, and no RecursionError
    assert "00008006" in svg  # the rest of the page is drawn


def test_object_count_capped() -> None:
    many = "".join(f'<ofd:PathObject ID="{10_000 + i}" Boundary="1 1 1 1"><ofd:AbbreviatedData>M 0 0 L 1 1'
                   "</ofd:AbbreviatedData></ofd:PathObject>" for i in range(render.MAX_OBJECTS + 5_000))
    svg = render.render_svg(_inject(ZHUANPIAO.read_bytes(), many))
    assert svg.count("<path") <= render.MAX_OBJECTS


def test_picture_that_is_not_a_picture_is_left_out() -> None:
    data = rewrite_ofd(ZHUANPIAO.read_bytes(),
                       lambda name, raw: b"<x/>" if name.endswith("image_80.jb2") else raw)
    root = svg_root(data)
    assert not [i for i in root.iter(f"{SVG}image") if i.get("class") == "ofd-image"]
    assert "00008006" in texts(root)


def test_seal_inside_seal_is_not_drawn() -> None:
    """A seal OFD that itself carries a signed seal: drawn once, never recursively."""
    data = V4SIGNED.read_bytes()
    root = svg_root(data)
    outer = [el for el in root.iter() if el.get("class") == "ofd-seal"]
    assert len(outer) == 1
    assert not [el for el in outer[0].iter() if el.get("class") == "ofd-seal" and el is not outer[0]]


def test_draw_param_cycle_terminates() -> None:
    def edit(name: str, raw: bytes) -> bytes:
        if name.endswith("DocumentRes.xml"):
            return raw.replace(b'<ofd:DrawParam ID="4"', b'<ofd:DrawParam ID="4" Relative="4"')
        return raw
    root = svg_root(rewrite_ofd(ZHUANPIAO.read_bytes(), edit))
    assert list(root.iter(f"{SVG}path"))


def test_not_an_ofd_is_refused() -> None:
    with pytest.raises(ParseError):
        render.render_svg(b"not a zip")
    no_pages = rewrite_ofd(ZHUANPIAO.read_bytes(),
                           lambda name, raw: None if "Pages/" in name else raw)
    with pytest.raises(ParseError):
        render.render_svg(no_pages)


def test_vertical_text_keeps_its_column() -> None:
    """购/买/方 is one TextCode with DeltaY only: every glyph on the same x, one below the other."""
    root = svg_root(ZHUANPIAO.read_bytes())
    span = next(s for s in root.iter(f"{SVG}tspan") if s.text == "购买方")
    assert (span.get("x") or "").split() == ["0.25"] * 3
    ys = [float(v) for v in (span.get("y") or "").split()]
    assert ys == pytest.approx([3.15, 9.5, 15.85])
