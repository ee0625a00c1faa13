"""Open a JPEG or PNG safely: tell it by its magic bytes, bound it before decoding.

A decompression bomb is a small file whose header promises a huge picture (a 50,000 x
50,000 PNG of one colour compresses to a few kilobytes and decodes to 7.5 GB). The header is
read first (Pillow's ``open`` reads only that) and the width, height and their product are
checked against ``scan_max_pixels`` and ``scan_max_side`` before a single pixel is decoded;
Pillow's own ``MAX_IMAGE_PIXELS`` guard is set to the same cap as a second line. A truncated
or corrupt file fails when decoded: both become ``ParseError`` with a code and a Chinese text.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoice.errors import ErrorCode, ParseError

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def image_type(data: bytes) -> str | None:
    """``jpeg`` or ``png`` from the first bytes, else None (the file name is never trusted)."""
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


_STRICT = threading.Lock()


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Refuse truncated pictures whatever an imported library set.

    ``ImageFile.LOAD_TRUNCATED_IMAGES`` is one global of Pillow, and WeasyPrint (the archive's
    PDF/A renditions) sets it to True when imported: in a process that has rendered a voucher,
    a JPEG cut in half would otherwise decode as a grey-bottomed invoice and be read as real.
    """
    from PIL import ImageFile

    with _STRICT:
        earlier = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = earlier


def open_image(data: bytes, max_pixels: int, max_side: int) -> Any:
    """The decoded picture (RGB, EXIF orientation applied), or ``ParseError``.

    ``too_complex`` (limit ``image_pixels`` / ``image_side``) when the header promises more
    than the caps; ``bad_image`` when the bytes are truncated or corrupt.
    """
    from PIL import Image, ImageOps

    kind = image_type(data)
    if kind is None:
        raise ParseError(ErrorCode.UNKNOWN_FORMAT, "not a JPEG or PNG picture")
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own guard: warns past it, raises at twice
    img: Image.Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[kind.upper()])
            width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_big("image_pixels", "scan_max_pixels", max_pixels,
                       "the picture header promises more pixels than the cap") from None
    except Exception as exc:
        raise ParseError(ErrorCode.BAD_IMAGE, f"the {kind.upper()} header cannot be read: "
                         f"{type(exc).__name__}: {exc}", kind.upper()) from None
    if width > max_side or height > max_side:
        raise _too_big("image_side", "scan_max_side", max_side,
                       f"the picture is {width} x {height} pixels; a side may be at most {max_side}")
    if width * height > max_pixels:
        raise _too_big("image_pixels", "scan_max_pixels", max_pixels,
                       f"the picture is {width} x {height} = {width * height} pixels; "
                       f"the cap is {max_pixels}")
    try:
        with warnings.catch_warnings(), _strict_decoding():
            warnings.simplefilter("error")  # a truncated JPEG warns in some paths: refuse it
            img.load()
            img = ImageOps.exif_transpose(img) or img
    except MemoryError:
        raise
    except Exception as exc:
        raise ParseError(ErrorCode.BAD_IMAGE, f"the {kind.upper()} data cannot be decoded "
                         f"(truncated or corrupt): {type(exc).__name__}: {exc}",
                         kind.upper()) from None
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    return img


def _too_big(limit: str, setting: str, value: int, detail: str) -> ParseError:
    return ParseError(ErrorCode.TOO_COMPLEX, detail, "图片", limit_name=limit, limit_value=value,
                      limit=_limit_text(limit, value), setting=f"FAPIAO_{setting.upper()}")


def _limit_text(limit: str, value: int) -> str:
    from core import messages

    return messages.text(f"scan.limit.{limit}", value=value)
