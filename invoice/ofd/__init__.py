"""OFD (GB/T 33190) e-invoices: the zip package, its XML elements and the invoice fields.

``package`` is the safe zip container, ``xml`` the few elements read, ``layout`` the reading
of printed text by position, ``invoice`` the assembly of the normalised ``Invoice``.
"""

from __future__ import annotations

from invoice.ofd.invoice import OfdReading, parse_ofd, read_ofd
from invoice.ofd.package import OfdPackage

__all__ = ["OfdPackage", "OfdReading", "parse_ofd", "read_ofd"]
