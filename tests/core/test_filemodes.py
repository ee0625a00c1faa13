"""The data folder is its owner's only: folder 0700, database and keys 0600, even under a
permissive umask and when an older folder was world-readable."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from core.filemodes import private_file, secure_home, sqlite_file

ROOT = Path(__file__).resolve().parents[2]


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAPIAO_") and k != "DATABASE_URL"}
    env.update({"FAPIAO_HOME": str(home), "FAPIAO_ENVIRONMENT": "test", "PYTHONPATH": str(ROOT)})
    return subprocess.run([sys.executable, "-c", "import os; os.umask(0o022); from api.cli import run; run()",
                           *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_init_makes_an_owner_only_data_folder(tmp_path: Path) -> None:
    home = tmp_path / "data"
    out = _cli(home, "init", "--json")
    assert out.returncode == 0, out.stderr
    assert mode(home) == 0o700
    assert mode(home / "fapiao.sqlite3") == 0o600
    for side in ("fapiao.sqlite3-wal", "fapiao.sqlite3-shm"):
        if (home / side).exists():
            assert mode(home / side) == 0o600
    keys = list((home / "keys").iterdir())  # archive.signing.private_dir(): the private key
    assert keys and all(mode(k) == 0o600 for k in keys) and mode(keys[0].parent) == 0o700


def test_a_world_readable_folder_is_tightened_on_next_use(tmp_path: Path) -> None:
    home = tmp_path / "old"
    assert _cli(home, "init", "--json").returncode == 0
    os.chmod(home, 0o755)
    os.chmod(home / "fapiao.sqlite3", 0o644)
    assert mode(home) == 0o755  # as an older version left it
    assert _cli(home, "audit", "verify", "--json").returncode == 0
    assert mode(home) == 0o700 and mode(home / "fapiao.sqlite3") == 0o600


def test_helpers(tmp_path: Path) -> None:
    f = private_file(tmp_path / "x")
    assert mode(f) == 0o600 and f.read_bytes() == b""
    assert sqlite_file("postgresql+psycopg://u@h/db") is None and sqlite_file("sqlite://") is None
    assert sqlite_file(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    secure_home(tmp_path / "h", f"sqlite:///{tmp_path}/h/a.db")
    assert mode(tmp_path / "h") == 0o700 and mode(tmp_path / "h" / "a.db") == 0o600
