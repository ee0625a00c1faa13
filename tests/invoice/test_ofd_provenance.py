"""Signed means signed: field provenance and signature coverage of OFD files (issue 10).

Every attack is built here from a real sample: a genuinely signed OFD with an unsigned member
added or edited (wrapping attachment, CustomData, swapped DocRoot, second document, shadowing
template, template carrying values), or, where a real signature cannot be kept, one signed
with our own SM2 keys that leaves the page, an annotation or the field-bearing part unsigned,
or that signs contradicting values. Each attack has its passing counterpart.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from collections.abc import Iterable
from datetime import date

import pytest
from asn1crypto import core

from invoice import parse
from invoice.model import Invoice
from invoice.verify import VerificationReport, VerifyStatus, ses, sm2, verify
from invoice.verify.report import Severity
from tests.invoice.test_verify_ses import WHEN, Keys, _bits, _seal_v4
from tests.samples import EXPECTED, INVOICES, OTHER, SAMPLES, V4SIGNED

TODAY = date(2026, 1, 15)
SIGNED_VALID = [e["file"] for e in EXPECTED if e["signature"] == "present-valid"]
SIGN_SCALE = (INVOICES / "ofdrw__ofdrw" / "SignScaleError.ofd").read_bytes()  # OFD.xml signed
HUHUANG = (INVOICES / "ofdrw__ofdrw" / "999.ofd").read_bytes()  # OFD.xml left unsigned
DRAW_PARAM = (INVOICES / "ofdrw__ofdrw" / "draw_param_ref.ofd").read_bytes()  # templates unsigned
FPTPL = (INVOICES / "ofdrw__ofdrw" / "fptpl.ofd").read_bytes()  # unsigned; we sign it
BANK = (OTHER / "c5soft__ofd.js" / "26050100800_00001.ofd").read_bytes()  # signed, no invoice
OUR_ORG = "无锡天鹏菜篮子工程有限公司"


# ---------------------------------------------------------------- building files


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def build(data: bytes, replace: dict[str, bytes] | None = None, drop: Iterable[str] = ()) -> bytes:
    """The package with members replaced or added (``replace``) and some dropped."""
    body = {k: v for k, v in members_of(data).items() if k not in set(drop)}
    body.update(replace or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in body.items():
            z.writestr(name, content)
    return out.getvalue()


def einvoice(inv: Invoice, **changes: str) -> bytes:
    """An ``original_invoice.xml`` stating ``inv``'s fields, some of them changed."""
    values = {
        "InvoiceCode": inv.code or "", "InvoiceNo": inv.number or "",
        "IssueDate": inv.issue_date or "", "InvoiceCheckCode": inv.check_code or "",
        "BuyerName": inv.buyer.name or "", "BuyerTaxID": inv.buyer.tax_id or "",
        "SellerName": inv.seller.name or "", "SellerTaxID": inv.seller.tax_id or "",
        "TaxExclusiveTotalAmount": str(inv.amount), "TaxTotalAmount": str(inv.tax),
        "TaxInclusiveTotalAmount": str(inv.total),
    }
    values.update(changes)
    buyer = f"<fp:Buyer><fp:BuyerName>{values.pop('BuyerName')}</fp:BuyerName>" \
            f"<fp:BuyerTaxID>{values.pop('BuyerTaxID')}</fp:BuyerTaxID></fp:Buyer>"
    seller = f"<fp:Seller><fp:SellerName>{values.pop('SellerName')}</fp:SellerName>" \
             f"<fp:SellerTaxID>{values.pop('SellerTaxID')}</fp:SellerTaxID></fp:Seller>"
    rest = "".join(f"<fp:{k}>{v}</fp:{k}>" for k, v in values.items())
    return ('<?xml version="1.0" encoding="utf-8"?><eInvoice xmlns:fp="http://www.edrm.org.cn/'
            f'schema/e-invoice/2019" Version="1.0">{rest}{buyer}{seller}</eInvoice>').encode()


def sign(base: bytes, keys: Keys, skip: Iterable[str] = ()) -> bytes:
    """``base`` signed with our keys (GB/T 38540 V4), every member referenced but ``skip``."""
    members = members_of(base)
    refs = "".join(
        f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>'
        f"{base64.b64encode(sm2.sm3(body)).decode()}</ofd:CheckValue></ofd:Reference>"
        for name, body in members.items() if name not in set(skip)
    )
    seal = _seal_v4(keys)
    sig_xml = (
        '<?xml version="1.0" encoding="UTF-8"?><ofd:Signature xmlns:ofd="http://www.ofdspec.org/2016">'
        "<ofd:SignedInfo><ofd:SignatureMethod>1.2.156.10197.1.501</ofd:SignatureMethod>"
        f'<ofd:References CheckMethod="1.2.156.10197.1.401">{refs}</ofd:References>'
        "</ofd:SignedInfo><ofd:SignedValue>/Doc_0/Signs/Sign_0/SignedValue.dat</ofd:SignedValue>"
        "</ofd:Signature>"
    ).encode()
    tbs = ses.TBSSignV4(
        {"version": 4, "eseal": seal, "time_info": core.GeneralizedTime(WHEN),
         "data_hash": _bits(sm2.sm3(sig_xml)),
         "property_info": core.IA5String("/Doc_0/Signs/Sign_0/Signature.xml")}
    )
    sig = sm2.sign(keys.signer, tbs.dump())
    assert isinstance(sig, bytes)
    signed_value = ses.SESSignatureV4(
        {"to_sign": tbs, "cert": keys.signer_cert, "signature_alg_id": sm2.OID_SM2_WITH_SM3,
         "signature": _bits(sig)}
    ).dump()
    signatures = (
        b'<?xml version="1.0" encoding="UTF-8"?><ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016">'
        b'<ofd:Signature ID="1" Type="Seal" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>'
    )
    return build(base, {"Doc_0/Signs/Signatures.xml": signatures,
                        "Doc_0/Signs/Sign_0/Signature.xml": sig_xml,
                        "Doc_0/Signs/Sign_0/SignedValue.dat": signed_value})


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def codes(report: VerificationReport, severity: Severity = Severity.FAIL) -> list[str]:
    return [i.code for i in report.issues if i.severity is severity]


def failing(report: VerificationReport, code: str) -> list[dict[str, str]]:
    return [dict(i.params) | {"message": i.message} for i in report.issues
            if i.code == code and i.severity is Severity.FAIL]


def custom_data(ofd_xml: bytes, name: str, value: str) -> bytes:
    text = ofd_xml.decode("utf-8")
    new, n = re.subn(rf'(<ofd:CustomData Name="{name}">)[^<]*(<)', rf"\g<1>{value}\g<2>", text)
    assert n == 1
    return new.encode("utf-8")


# ---------------------------------------------------------------- provenance


def test_field_locations_name_the_members() -> None:
    inv = parse(V4SIGNED.read_bytes())
    assert inv.field_locations["total"] == "Doc_0/Attachs/original_invoice.xml"
    assert inv.field_sources["total"] == "attachment_xml"
    page = parse(SIGN_SCALE)
    assert page.field_locations["number"] == "Doc_0/Pages/Page_0/Content.xml"
    tags = parse((INVOICES / "ofdrw__ofdrw" / "发票示例.ofd").read_bytes())
    assert tags.field_locations["number"].split(" + ") == [
        "Doc_0/Tags/CustomTags.xml", "Doc_0/Tags/CustomTag.xml", "Doc_0/Pages/Page_0/Content.xml"]
    fptpl = parse(FPTPL)
    assert fptpl.field_locations["total"] == "OFD.xml"
    assert fptpl.field_locations["tax"].split(" + ") == [
        "Doc_0/Tpls/Tpl_0/Content.xml", "Doc_0/Pages/Page_0/Content.xml"]
    assert inv.to_dict()["field_locations"] == inv.field_locations


@pytest.mark.parametrize("rel", SIGNED_VALID)
def test_every_used_field_of_a_signed_sample_is_covered(rel: str) -> None:
    report = verify((SAMPLES / rel).read_bytes(), today=TODAY)
    assert report.status is VerifyStatus.VALID, report.summary()
    assert not codes(report)
    assert report.coverage and all(c.covered_by for c in report.coverage), report.coverage
    fields = {c.field for c in report.coverage}
    assert {"number", "total", "seller.name"} <= fields
    assert all(p.covered_by or p.role == "template" for p in report.parts)
    d = report.to_dict()
    assert d["coverage"][0]["covered_by"] and d["parts"] and "issues" in d


def test_unsigned_form_templates_stay_valid_with_a_note() -> None:
    report = verify(DRAW_PARAM, today=TODAY)
    assert report.status is VerifyStatus.VALID
    assert codes(report, Severity.NOTE).count("template_unsigned") == 2
    assert {p.member for p in report.parts if p.covered_by is None} == {
        "Doc_0/TPLS/TPL_0/Content.xml", "Doc_0/TPLS/TPL_1/Content.xml"}


# ---------------------------------------------------------------- attacks on real signatures


def test_wrapping_attachment_is_invalid_naming_member_field_and_values() -> None:
    genuine = parse(SIGN_SCALE)
    forged = build(SIGN_SCALE, {"Doc_0/Attachs/original_invoice.xml": einvoice(
        genuine, BuyerName=OUR_ORG, TaxInclusiveTotalAmount="4999.00")})
    assert parse(forged).total == 4999  # the reader takes it: verification must refuse it
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert all(s.status is VerifyStatus.VALID for s in report.signatures)  # the seal holds
    found = {f["field"]: f for f in failing(report, "field_mismatch")}
    assert set(found) == {"购买方名称", "价税合计"}
    total = found["价税合计"]
    assert total["member"] == "Doc_0/Attachs/original_invoice.xml"
    assert total["value"] == "4999.00" and total["signed_value"] == "11.20"
    assert "4999.00" in total["message"] and "11.20" in total["message"]
    by_field = {c.field: c for c in report.coverage}
    assert by_field["total"].covered_by is None and by_field["total"].status == "mismatch"
    assert by_field["number"].covered_by == "1"  # same value on the signed page


def test_wrapping_attachment_with_the_signed_values_stays_valid() -> None:
    same = build(SIGN_SCALE, {"Doc_0/Attachs/original_invoice.xml": einvoice(parse(SIGN_SCALE))})
    report = verify(same, today=TODAY)
    assert report.status is VerifyStatus.VALID, report.summary()
    assert all(c.covered_by == "1" for c in report.coverage)
    assert verify(SIGN_SCALE, today=TODAY).status is VerifyStatus.VALID


def test_invoice_wrapped_around_a_signed_bank_receipt_is_invalid() -> None:
    forged = build(BANK, {"Doc_0/Attachs/original_invoice.xml": einvoice(
        parse(V4SIGNED.read_bytes()), BuyerName=OUR_ORG)})
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    unsigned = {f["field"] for f in failing(report, "field_unsigned")}
    assert {"发票号码", "价税合计", "购买方名称"} <= unsigned
    assert verify(BANK, today=TODAY).status is VerifyStatus.VALID


def test_edited_custom_data_is_invalid() -> None:
    ofd_xml = members_of(HUHUANG)["OFD.xml"]
    forged = build(HUHUANG, {"OFD.xml": custom_data(ofd_xml, "价税合计", "4999.00")})
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    [found] = failing(report, "field_mismatch")
    assert (found["member"], found["field"], found["value"], found["signed_value"]) == (
        "OFD.xml", "价税合计", "4999.00", "10600.00")


def test_custom_data_that_names_no_field_may_change() -> None:
    ofd_xml = members_of(HUHUANG)["OFD.xml"]
    edited = build(HUHUANG, {"OFD.xml": custom_data(ofd_xml, "native-producer", "x")})
    assert verify(edited, today=TODAY).status is VerifyStatus.VALID
    assert verify(HUHUANG, today=TODAY).status is VerifyStatus.VALID


def _copied_document(data: bytes, doc_xml: bytes | None = None) -> dict[str, bytes]:
    """Doc_0 copied to Doc_1 (signatures left out), its attachment naming our organisation."""
    out = {}
    for name, body in members_of(data).items():
        if name.startswith("Doc_0/") and not name.startswith("Doc_0/Signs/"):
            out["Doc_1/" + name[len("Doc_0/"):]] = body
    inv = parse(data)
    out["Doc_1/Attachs/original_invoice.xml"] = einvoice(inv, BuyerName=OUR_ORG)
    if doc_xml is not None:
        out["Doc_1/Document.xml"] = doc_xml
    return out


def test_swapped_doc_root_is_invalid() -> None:
    ofd_xml = members_of(HUHUANG)["OFD.xml"].replace(b"Doc_0/Document.xml", b"Doc_1/Document.xml")
    forged = build(HUHUANG, {"OFD.xml": ofd_xml, **_copied_document(HUHUANG)})
    assert parse(forged).buyer.name == OUR_ORG
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    parts = {f["member"] for f in failing(report, "part_unsigned")}
    assert "Doc_1/Document.xml" in parts and "Doc_1/Pages/Page_0/Content.xml" in parts
    assert any(f["field"] == "购买方名称" for f in failing(report, "field_unsigned"))


def test_second_document_is_invalid() -> None:
    ofd_xml = members_of(HUHUANG)["OFD.xml"].replace(
        b"</ofd:DocBody>",
        b"</ofd:DocBody><ofd:DocBody><ofd:DocRoot>Doc_1/Document.xml</ofd:DocRoot></ofd:DocBody>")
    forged = build(HUHUANG, {"OFD.xml": ofd_xml, **_copied_document(HUHUANG)})
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert "Doc_1/Document.xml" in {f["member"] for f in failing(report, "part_unsigned")}


def test_page_and_annotation_added_through_an_unsigned_document_are_named() -> None:
    doc = members_of(HUHUANG)["Doc_0/Document.xml"].decode("utf-8-sig")
    doc = doc.replace('BaseLoc="', 'BaseLoc="/Doc_0/')
    doc = doc.replace("</ofd:Pages>", '<ofd:Page ID="900" BaseLoc="/Doc_1/Pages/Page_9/Content.xml" />'
                      "</ofd:Pages>")
    doc = doc.replace("Annots/Annotations.xml", "/Doc_1/Annots/Annotations.xml")
    annots = (b'<?xml version="1.0" encoding="UTF-8"?><ofd:Annotations xmlns:ofd="http://www.ofdspec.org/2016">'
              b'<ofd:Page PageID="10"><ofd:FileLoc>Page_0/Extra.xml</ofd:FileLoc></ofd:Page></ofd:Annotations>')
    page0 = members_of(HUHUANG)["Doc_0/Pages/Page_0/Content.xml"]
    ofd_xml = members_of(HUHUANG)["OFD.xml"].replace(b"Doc_0/Document.xml", b"Doc_1/Document.xml")
    forged = build(HUHUANG, {"OFD.xml": ofd_xml, "Doc_1/Document.xml": doc.encode(),
                             "Doc_1/Pages/Page_9/Content.xml": page0,
                             "Doc_1/Annots/Annotations.xml": annots,
                             "Doc_1/Annots/Page_0/Extra.xml": b"<ofd:PageAnnot/>"})
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    roles = {(f["member"], f["role"]) for f in failing(report, "part_unsigned")}
    assert ("Doc_1/Pages/Page_9/Content.xml", "页面") in roles
    assert ("Doc_1/Annots/Annotations.xml", "注释") in roles
    assert ("Doc_1/Annots/Page_0/Extra.xml", "注释") in roles
    assert ("Doc_1/Document.xml", "文档描述 Document.xml") in roles


def test_template_shadowing_the_signed_one_by_case_is_invalid() -> None:
    data = V4SIGNED.read_bytes()
    template = members_of(data)["Doc_0/Tpls/Tpl_0/Content.xml"]
    forged = build(data, {"Doc_0/TPLS/Tpl_0/Content.xml": template.replace("发票".encode(), "收据".encode())})
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert "member_name_ambiguous" in codes(report)
    assert "template" in {p.role for p in report.parts if p.covered_by is None}


def test_unsigned_template_that_shows_values_is_invalid() -> None:
    tpl = members_of(DRAW_PARAM)["Doc_0/TPLS/TPL_0/Content.xml"].decode("utf-8")
    extra = ('<ofd:TextObject ID="1990" Boundary="150 85 30 5" Font="28" Size="3.5">'
             '<ofd:TextCode X="0" Y="3">¥4999.00</ofd:TextCode></ofd:TextObject>')
    tpl = tpl.replace("</ofd:Layer>", extra + "</ofd:Layer>", 1)
    report = verify(build(DRAW_PARAM, {"Doc_0/TPLS/TPL_0/Content.xml": tpl.encode()}), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    [found] = failing(report, "part_unsigned")
    assert found["member"] == "Doc_0/TPLS/TPL_0/Content.xml" and found["role"] == "版式模板"


def test_unreferenced_unsigned_member_is_only_a_note() -> None:
    report = verify(build(V4SIGNED.read_bytes(), {"Doc_0/Res/unused.png": b"\x89PNG"}), today=TODAY)
    assert report.status is VerifyStatus.VALID
    [note] = [i for i in report.issues if i.code == "members_unsigned"]
    assert "Doc_0/Res/unused.png" in note.message


# ---------------------------------------------------------------- attacks with our own keys


def test_own_signature_over_everything_is_valid(keys: Keys) -> None:
    report = verify(sign(FPTPL, keys), today=TODAY)
    assert report.status is VerifyStatus.VALID, report.summary()
    assert all(c.covered_by == "1" for c in report.coverage)


def test_unsigned_page_is_invalid(keys: Keys) -> None:
    report = verify(sign(FPTPL, keys, skip=["Doc_0/Pages/Page_0/Content.xml"]), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert ("Doc_0/Pages/Page_0/Content.xml", "页面") in {
        (f["member"], f["role"]) for f in failing(report, "part_unsigned")}
    assert "货物或服务明细" in {f["field"] for f in failing(report, "field_unsigned")}


def test_unsigned_annotation_is_invalid_and_signed_one_valid(keys: Keys) -> None:
    doc = members_of(FPTPL)["Doc_0/Document.xml"].replace(
        b"</ofd:Document>", b"<ofd:Annotations>Annots/Annotations.xml</ofd:Annotations></ofd:Document>")
    index = (b'<?xml version="1.0" encoding="UTF-8"?><ofd:Annotations xmlns:ofd="http://www.ofdspec.org/2016">'
             b'<ofd:Page PageID="1"><ofd:FileLoc>Page_0/Annotation.xml</ofd:FileLoc></ofd:Page></ofd:Annotations>')
    base = build(FPTPL, {"Doc_0/Document.xml": doc, "Doc_0/Annots/Annotations.xml": index,
                         "Doc_0/Annots/Page_0/Annotation.xml": b"<ofd:PageAnnot/>"})
    assert verify(sign(base, keys), today=TODAY).status is VerifyStatus.VALID
    report = verify(sign(base, keys, skip=["Doc_0/Annots/Page_0/Annotation.xml"]), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    [found] = failing(report, "part_unsigned")
    assert (found["member"], found["role"]) == ("Doc_0/Annots/Page_0/Annotation.xml", "注释")


def test_field_from_unsigned_custom_data_is_invalid(keys: Keys) -> None:
    report = verify(sign(FPTPL, keys, skip=["OFD.xml"]), today=TODAY)
    # every CustomData value is also on the signed page: it is the page that is relied on
    assert report.status is VerifyStatus.VALID, report.summary()
    total = next(c for c in report.coverage if c.field == "total")
    assert total.covered_by == "1" and "Page_0" in total.location
    ofd_xml = members_of(FPTPL)["OFD.xml"].replace(
        b"</ofd:CustomDatas>", "<ofd:CustomData Name=\"购买方纳税人识别号\">91320200MA1MXXXX0X"
        "</ofd:CustomData></ofd:CustomDatas>".encode())
    report = verify(sign(build(FPTPL, {"OFD.xml": ofd_xml}), keys, skip=["OFD.xml"]), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    [found] = failing(report, "field_unsigned")
    assert (found["field"], found["member"]) == ("购买方纳税人识别号", "OFD.xml")


def test_field_that_disagrees_with_the_signed_page_is_invalid(keys: Keys) -> None:
    ofd_xml = custom_data(members_of(FPTPL)["OFD.xml"], "价税合计", "4999.00")
    report = verify(sign(build(FPTPL, {"OFD.xml": ofd_xml}), keys), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    [found] = failing(report, "field_page_mismatch")
    assert (found["field"], found["value"], found["signed_value"]) == ("价税合计", "4999.00", "10600.00")
    assert found["member"] == "OFD.xml" and "Page_0" in found["signed_member"]


def test_unsigned_template_whose_labels_change_what_the_page_says_is_invalid() -> None:
    # move the template's （小写） label next to the tax: read as displayed, the total is 291.00
    tpl = members_of(DRAW_PARAM)["Doc_0/TPLS/TPL_0/Content.xml"].decode("utf-8")
    moved = tpl.replace('ID="252" Boundary="154 98.5 13.7372 3.4572"',
                        'ID="252" Boundary="160 56.5 13.7372 3.4572"')
    assert moved != tpl
    report = verify(build(DRAW_PARAM, {"Doc_0/TPLS/TPL_0/Content.xml": moved.encode()}), today=TODAY)
    assert report.status is VerifyStatus.INVALID
    [found] = failing(report, "field_display_mismatch")
    assert (found["field"], found["value"], found["shown_value"]) == ("价税合计", "10000.00", "291.00")
    assert "Doc_0/TPLS/TPL_0/Content.xml" in found["shown_member"]
    assert not failing(report, "part_unsigned")  # still labels only: the reading is what fails
