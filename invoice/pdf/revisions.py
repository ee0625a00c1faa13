"""Which incremental-update revision of a PDF each page's text comes from (field provenance).

A PDF grows by incremental updates: each appends changed objects, a new cross-reference
section and ``%%EOF``. A signature covers the revisions up to its own; anything appended
later is unsigned. What a page shows is its content streams plus the resources they use
(fonts with their ToUnicode maps, form XObjects that carry text, ...), so a page's revision
is the latest revision that changed any object of that graph, as pyHanko's reader sees the
revisions (``xrefs.get_last_change``). Annotations are not part of it: the text layer the
fields are read from does not include them (form filling is judged by the difference
analysis in ``invoice.verify.pdf``).

Revisions are numbered from 1 for people ("revision 2, page 1"); pyHanko counts from 0.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

__all__ = ["PageRevisions", "location", "page_revisions", "read_page_revisions"]

# Objects visited per page at most: a real invoice page has a few dozen; a hostile graph
# must not make provenance cost more than the parse itself.
_MAX_NODES = 20_000
_SKIP_KEYS = frozenset({"/Parent", "/Annots", "/P", "/B", "/StructParents", "/StructParent",
                        "/Thumb", "/Metadata", "/PieceInfo"})


@dataclass(frozen=True)
class PageRevisions:
    """Revisions (1-based) of a file: how many, and the one each page's content was last
    changed in (index 0 is page 1)."""

    total: int
    pages: tuple[int, ...]

    def of_page(self, page_index: int) -> int | None:
        return self.pages[page_index] if 0 <= page_index < len(self.pages) else None


def location(revision: int | None, page_index: int) -> str:
    """The field-location text: ``revision N, page P`` (``page P`` when unknown)."""
    page = f"page {page_index + 1}"
    return f"revision {revision}, {page}" if revision is not None else page


def _page_refs(reader: Any, max_pages: int) -> list[Any]:
    """Indirect references of the first ``max_pages`` pages, in order (depth-first, cycle- and
    depth-safe)."""
    from pyhanko.pdf_utils import generic

    root = reader.root
    pages_ref = root.raw_get("/Pages")
    out: list[Any] = []
    seen: set[Any] = set()
    stack: list[tuple[Any, int]] = [(pages_ref, 0)]
    while stack and len(out) < max_pages:
        ref, depth = stack.pop()
        if not isinstance(ref, generic.IndirectObject) or depth > 64:
            continue
        key = (ref.idnum, ref.generation)
        if key in seen:
            continue
        seen.add(key)
        node = ref.get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        kids = node.raw_get("/Kids") if "/Kids" in node else None
        if kids is not None:
            kids = kids.get_object() if isinstance(kids, generic.IndirectObject) else kids
            if isinstance(kids, generic.ArrayObject):
                stack.extend((k, depth + 1) for k in reversed(list(kids)))
        elif node.get("/Type") == "/Page" or "/Contents" in node:
            out.append(ref)
    return out


def _inherited_resources(page: Any) -> Any:
    from pyhanko.pdf_utils import generic

    node, hops = page, 0
    while isinstance(node, generic.DictionaryObject) and hops < 64:
        if "/Resources" in node:
            return node.raw_get("/Resources")
        parent = node.raw_get("/Parent") if "/Parent" in node else None
        node = parent.get_object() if isinstance(parent, generic.IndirectObject) else None
        hops += 1
    return None


def _page_revision(reader: Any, ref: Any) -> int:
    """The latest (0-based) revision that changed the page or anything its content uses."""
    from pyhanko.pdf_utils import generic

    xrefs = reader.xrefs
    latest = 0
    seen: set[tuple[int, int]] = set()
    page = ref.get_object()
    # The page dictionary itself is not counted: a later signature adds its widget to /Annots,
    # which changes the page object without changing what the page's text says. Its other
    # entries (/Contents, /Resources, ...) are followed; a changed box or rotation is left to
    # the difference analysis, which allows nothing but annotations on a page.
    todo: list[Any] = [page.raw_get(k) for k in page if k not in _SKIP_KEYS]
    if "/Resources" not in page:
        todo.append(_inherited_resources(page))
    nodes = 0
    while todo and nodes < _MAX_NODES:
        obj = todo.pop()
        nodes += 1
        if isinstance(obj, generic.IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            with contextlib.suppress(KeyError):  # not in any xref section: a dangling reference
                latest = max(latest, xrefs.get_last_change(obj.reference))
            obj = obj.get_object()
        if isinstance(obj, generic.DictionaryObject):  # streams too
            todo.extend(obj.raw_get(k) for k in obj if k not in _SKIP_KEYS)
        elif isinstance(obj, generic.ArrayObject):
            todo.extend(obj)
    return latest


def read_page_revisions(reader: Any, max_pages: int) -> PageRevisions:
    """Revisions per page from an open pyHanko reader."""
    refs = _page_refs(reader, max_pages)
    return PageRevisions(total=int(reader.xrefs.total_revisions),
                         pages=tuple(_page_revision(reader, r) + 1 for r in refs))


def page_revisions(data: bytes, max_pages: int = 10) -> PageRevisions | None:
    """Revisions per page, or ``None`` when pyHanko cannot read the file's revisions (the
    renderers may still read it; the locations then name the page only).

    Every revision ends with its own ``startxref``, so a file in which the word occurs once
    has one revision and every page is revision 1: most invoices, read without loading
    pyHanko (with its certificate validator, about half of a one-file ``fapiao parse``).
    Signature checks read revisions with pyHanko themselves (``invoice.verify.pdf``)."""
    if data.count(b"startxref") == 1:
        return PageRevisions(total=1, pages=(1,) * max_pages)
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        return read_page_revisions(reader, max_pages)
    except RecursionError:
        return None
    except Exception:  # provenance is best effort, never a crash
        return None
