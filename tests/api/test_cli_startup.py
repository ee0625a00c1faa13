"""``fapiao parse`` and ``fapiao verify`` store nothing, so they load no database or web stack,
and no pydantic.

Importing SQLModel/SQLAlchemy cost a one-file ``fapiao parse`` about 0.3 s of its 0.5 s. The
test runs the commands as the ``fapiao`` script does (a fresh process, ``one_shot``) and looks
at the process's ``sys.modules`` afterwards: the check is what is imported, not a timing (the
figures are in ``bench/startup.py``). A command that does store (``fapiao import``) still gets
its database: the second half shows the lazy imports still happen where they are needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.samples import DIGITAL_PDF, V4SIGNED

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "alembic", "uvicorn",
         # Settings are read without pydantic (core/settings.py): importing pydantic-settings
         # cost more CPU than parsing a PDF.
         "pydantic", "pydantic_settings")

_SCRIPT = f"""
import contextlib, io, json, sys
HEAVY = {HEAVY!r}
from api.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = main(sys.argv[1:], one_shot=True)
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(HEAVY))
print(json.dumps({{"status": status, "loaded": loaded, "out": out.getvalue()}}))
"""


def _run(tmp_path: Path, *argv: str) -> dict[str, object]:
    env = {"PYTHONPATH": str(REPO), "FAPIAO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, *argv], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(("command", "sample"), [("parse", DIGITAL_PDF), ("verify", V4SIGNED)],
                         ids=["parse-pdf", "verify-ofd"])
def test_read_only_commands_load_no_database_or_web_stack(tmp_path: Path, command: str,
                                                          sample: Path) -> None:
    result = _run(tmp_path, command, "--json", str(sample))
    assert result["loaded"] == [], f"{command} imported {result['loaded']}"
    assert result["status"] == 0
    out = json.loads(str(result["out"]))
    assert out[0]["file"] == str(sample)
    assert ("number" in out[0]) if command == "parse" else (out[0]["status"] == "valid")


def test_a_command_that_stores_still_opens_its_database(tmp_path: Path) -> None:
    """The same measurement sees the database stack when a command needs it: the test
    above would notice a broken probe, not just a lazy import."""
    result = _run(tmp_path, "init", "--org-name", "测试单位")
    loaded = result["loaded"]
    assert isinstance(loaded, list) and "sqlalchemy" in loaded and "sqlmodel" in loaded



def test_a_pdf_with_a_later_revision_still_gets_its_revision(tmp_path: Path) -> None:
    """The one-revision short cut (``invoice/pdf/revisions.py``) must not hide an incremental
    update: a PDF with a second revision is read with pyHanko (in the sandbox process), whose
    revision then names the field locations."""
    from tests.invoice.test_verify_pdf import _overlay

    updated = tmp_path / "updated.pdf"
    updated.write_bytes(_overlay(DIGITAL_PDF.read_bytes(), b"0.01"))
    result = _run(tmp_path, "parse", "--json", str(updated))
    out = json.loads(str(result["out"]))
    assert "revision 2, page 1" in out[0]["field_locations"].values()
