"""What every page of a browser walk must satisfy, as helpers the walks call on each page.

- ``english_words``: the Latin words a person reads on the page (visible text only), other
  than file names, format names and the names of the people in the walk. Finance staff read
  Chinese: the list must be empty.
- ``axe_violations``: axe-core (from npm, run inside the page) — serious and critical
  accessibility violations.
- ``page_width``: ``document.documentElement.scrollWidth`` — at 390 px a phone must not
  scroll the page sideways (tables scroll in their own box).
- ``shot``: a full-page screenshot into ``test-artifacts/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page

from tests.api.conftest import ARTIFACTS

REPO = Path(__file__).resolve().parents[2]
# scripts/test installs axe-core with npm into .cache/axe; FAPIAO_AXE_JS points elsewhere.
AXE_JS = Path(os.environ.get("FAPIAO_AXE_JS") or REPO / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js")

# Format names, units and standards a Chinese page may show in Latin letters.
ALLOWED = {"OFD", "PDF", "XML", "JSON", "ZIP", "JPEG", "PNG", "Excel", "xlsx", "SHA", "SM2", "SM3", "MB", "KB", "GB", "T",
           "CA", "QR", "BagIt", "DA", "ID", "HTTP"}

_VISIBLE_TOKENS = """
(extra) => {
  // Visible text of the page: innerText leaves out hidden elements, scripts and styles.
  let text = document.body.innerText;
  text = text.replace(/“[^”]*”/g, " ");                        // quoted names and inputs
  const tokens = text.split(/[\\s，。；：、（）()【】\\[\\]<>《》"'“”,;:!?！？|]+/);
  const words = [];
  for (const t of tokens) {
    if (!t) continue;
    if (/\\.(ofd|pdf|xml|xlsx|zip|txt)$/i.test(t) || t.includes("/")) continue;   // file names, member paths
    if (/\\d/.test(t)) continue;                                  // codes, ids, tax numbers, amounts
    for (const w of t.match(/[A-Za-z]{2,}/g) || []) {
      if (!extra.includes(w)) words.push(w);
    }
  }
  return words;
}
"""


def english_words(page: Page, *names: str) -> list[str]:
    """Latin words on the visible page other than formats, units and the given names."""
    allowed = sorted(ALLOWED | {n for name in names for n in _parts(name)})
    words: list[str] = page.evaluate(_VISIBLE_TOKENS, allowed)
    return sorted(set(words))


def _parts(name: str) -> set[str]:
    import re

    return set(re.findall(r"[A-Za-z]{2,}", name))


def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core violations on the page, as ``rule: target`` lines."""
    assert AXE_JS.is_file(), f"axe-core is not installed at {AXE_JS} (scripts/test installs it with npm)"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays on
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;typeof window.axe")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
          .map(v => v.id + ": " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
    }""")
    return list(result)


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def check_page(page: Page, name: str, width: int, *names: str) -> None:
    """Every rule at once, with the screenshot kept whatever the outcome."""
    page.wait_for_load_state("networkidle")
    shot(page, f"{name}-{width}")
    words = english_words(page, *names)
    assert not words, f"{name}: English words on the page: {words}"
    if width <= 400:
        assert page_width(page) <= width, f"{name}: the page is {page_width(page)} px wide at {width} px"
    violations = axe_violations(page)
    assert not violations, f"{name}: accessibility violations: {violations}"
