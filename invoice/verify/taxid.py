"""Check characters of Chinese taxpayer identifiers.

* Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from
  ``0-9 A-H J-N P-R T-U W-Y`` (no I, O, Z, S, V). Character 18 is a check: with
  weights ``3^i mod 31`` for positions 1..17, ``C18 = 31 - (Σ c_i·w_i mod 31)`` (31 → 0).
  Characters 9..17 are the old organisation code (GB 11714-1997), itself with a check
  character (weights 3 7 9 10 5 8 4 2, mod 11, 10 → X, 11 → 0).
* Resident identity card number (GB 11643-1999, used as the tax id of a natural person):
  ISO 7064 MOD 11-2, check ``X`` for 10.
* Older 15- or 20-character tax registration numbers carry no check character: they cannot
  be verified locally and are reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARS)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_ID_CHECK = "10X98765432"
# Registration authority (1st char) and organisation type (2nd char) codes of GB 32100 Annex.
_AUTHORITIES = set("123456789ANY")


@dataclass(frozen=True)
class TaxIdResult:
    ok: bool | None  # None: no check character to verify
    kind: str  # "uscc" | "id_card" | "legacy" | "malformed"
    message: str


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """The GB 11714-1997 check character of an organisation code's first 8 characters."""
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def id_card_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def check_tax_id(value: str | None) -> TaxIdResult:
    """Verify the check character of a taxpayer identifier, saying which rule applied."""
    if not value:
        return TaxIdResult(None, "malformed", "no tax id")
    tid = value.strip().upper()
    if len(tid) == 18 and all(c in _USCC_VALUE for c in tid) and (
        tid[0] in _AUTHORITIES or not tid[:17].isdigit()
    ):
        want = uscc_check_char(tid[:17])
        if want != tid[17]:
            # a personal id card number is also 18 chars of digits (+X)
            if tid[:17].isdigit() and id_card_check_char(tid[:17]) == tid[17]:
                return TaxIdResult(True, "id_card", f"{tid}: GB 11643 check digit holds")
            return TaxIdResult(
                False, "uscc",
                f"{tid}: GB 32100 check character should be {want}, not {tid[17]}",
            )
        org = tid[8:17]
        if org[:8].isalnum() and all(c in _USCC_VALUE for c in org):
            org_want = org_code_check_char(org[:8])
            if org_want != org[8]:
                # some codes issued to individual businesses carry no GB 11714 code
                return TaxIdResult(
                    True, "uscc",
                    f"{tid}: GB 32100 check character holds (embedded organisation code "
                    f"check would be {org_want}, not {org[8]}: not a GB 11714 code)",
                )
        return TaxIdResult(True, "uscc", f"{tid}: GB 32100 check character holds")
    if len(tid) == 18 and tid[:17].isdigit() and tid[17] in "0123456789X":
        if id_card_check_char(tid[:17]) == tid[17]:
            return TaxIdResult(True, "id_card", f"{tid}: GB 11643 check digit holds")
        return TaxIdResult(False, "id_card", f"{tid}: neither a valid credit code nor id card number")
    if len(tid) in (15, 17, 20) and tid.isalnum():
        return TaxIdResult(None, "legacy", f"{tid}: a {len(tid)}-character tax registration number has no check character")
    return TaxIdResult(False, "malformed", f"{value!r} is not a taxpayer identifier (18-character credit code expected)")
